// Package token makes and recognises the opaque token strings mxauth hands
// out, and hashes them for storage.
//
// Tokens use the same format as matrix-authentication-service (MAS), so that
// tokens issued by MAS keep working after a migration and vice versa:
//
//	<prefix>_<30 random [A-Za-z0-9]>_<6-character checksum>
//
// The checksum is the CRC-32 (IEEE / ISO-HDLC polynomial, the one
// hash/crc32.ChecksumIEEE computes) of "<prefix>_<random>", written with the
// alphabet 0-9A-Za-z in MAS's digit order: the least significant base-62
// digit comes first, and the result is left-padded with '0' to six
// characters. Classify checks the format and the checksum before anything is
// looked up, so a mistyped or truncated token is refused without touching the
// database.
//
// Tokens imported from Synapse ("syt_…", "syr_…" and Synapse macaroons) are
// recognised by shape only, as MAS does: they carry no MAS checksum.
//
// Only the SHA-256 of a token (Hash) is ever stored.
package token
