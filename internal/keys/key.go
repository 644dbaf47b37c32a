package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Key types, as reported by Key.Type.
const (
	TypeRSA = "RSA"
	TypeEC  = "EC"
)

// Signature algorithms used for the keys' default ("alg") in the JWKS.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	ES384 = "ES384"
)

// MinRSABits is the smallest RSA modulus accepted for a signing key.
const MinRSABits = 2048

// Key is one private signing key with its key ID.
type Key struct {
	kid    string
	alg    string
	typ    string
	signer crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
}

// KID returns the key ID: the configured one, or the RFC 7638 SHA-256
// thumbprint of the public key (base64url, no padding).
func (k *Key) KID() string { return k.kid }

// Algorithm returns the JWS algorithm the key is published with: RS256 for
// RSA keys, ES256 for P-256 keys, ES384 for P-384 keys.
func (k *Key) Algorithm() string { return k.alg }

// Type returns TypeRSA or TypeEC.
func (k *Key) Type() string { return k.typ }

// Public returns the public half of the key.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// PublicJWK returns the public half as a JSON Web Key with kid, alg and
// use "sig".
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// Parse reads one private key from PEM (PKCS#1 "RSA PRIVATE KEY", PKCS#8
// "PRIVATE KEY", SEC1 "EC PRIVATE KEY", optionally preceded by an
// "EC PARAMETERS" block) or from raw DER in one of those encodings.
// Supported keys are RSA (at least 2048 bits) and ECDSA on P-256 or P-384.
// Encrypted PKCS#8 keys are not supported. When kid is empty the RFC 7638
// thumbprint of the public key is used.
func Parse(data []byte, kid string) (*Key, error) {
	der, format, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	priv, err := parseDER(der, format)
	if err != nil {
		return nil, err
	}
	return newKey(priv, kid)
}

// decodePEM returns the DER bytes of the single private-key block in data,
// and the PEM block type ("" for raw DER input).
func decodePEM(data []byte) ([]byte, string, error) {
	if len(data) == 0 {
		return nil, "", errors.New("keys: empty key")
	}
	if !strings.Contains(string(data), "-----BEGIN") {
		return data, "", nil // raw DER
	}
	var (
		der   []byte
		btype string
		rest  = data
	)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "EC PARAMETERS":
			continue // openssl ecparam -genkey output; the key carries its curve
		case "ENCRYPTED PRIVATE KEY":
			return nil, "", errors.New("keys: encrypted PKCS#8 keys are not supported; decrypt the key first (openssl pkcs8 -in key.pem -out plain.pem)")
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			if der != nil {
				return nil, "", errors.New("keys: more than one private key in PEM data")
			}
			if len(block.Headers) > 0 {
				return nil, "", errors.New("keys: encrypted PEM keys (Proc-Type headers) are not supported")
			}
			der, btype = block.Bytes, block.Type
		default:
			return nil, "", fmt.Errorf("keys: unsupported PEM block %q (want RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)", block.Type)
		}
	}
	if der == nil {
		return nil, "", errors.New("keys: no private key found in PEM data")
	}
	return der, btype, nil
}

func parseDER(der []byte, format string) (any, error) {
	switch format {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: parse PKCS#1 RSA key: %w", err)
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: parse SEC1 EC key: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: parse PKCS#8 key: %w", err)
		}
		return k, nil
	}
	// Raw DER: try each encoding.
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("keys: data is neither PEM nor a DER-encoded PKCS#8, PKCS#1 or SEC1 private key")
}

func newKey(priv any, kid string) (*Key, error) {
	k := &Key{kid: kid}
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if bits := p.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("keys: RSA key has %d bits; at least %d are required", bits, MinRSABits)
		}
		k.signer, k.alg, k.typ = p, RS256, TypeRSA
	case *ecdsa.PrivateKey:
		switch p.Curve {
		case elliptic.P256():
			k.alg = ES256
		case elliptic.P384():
			k.alg = ES384
		default:
			return nil, fmt.Errorf("keys: unsupported EC curve %s (want P-256 or P-384)", p.Curve.Params().Name)
		}
		k.signer, k.typ = p, TypeEC
	default:
		return nil, fmt.Errorf("keys: unsupported key type %T (want RSA or ECDSA)", priv)
	}
	if k.kid == "" {
		tp, err := Thumbprint(k.signer.Public())
		if err != nil {
			return nil, err
		}
		k.kid = tp
	}
	return k, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key,
// base64url-encoded without padding.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// GenerateRSA returns a new RSA private key of the given size as PKCS#8 PEM.
// Note: since Go 1.26 crypto/rsa ignores the random source and always uses
// the system's secure generator; rand is passed through for older
// behaviour (GODEBUG=cryptocustomrand=1).
func GenerateRSA(rand io.Reader, bits int) ([]byte, error) {
	if bits < MinRSABits {
		return nil, fmt.Errorf("keys: RSA key size %d is below the minimum of %d bits", bits, MinRSABits)
	}
	k, err := rsa.GenerateKey(rand, bits)
	if err != nil {
		return nil, fmt.Errorf("keys: generate RSA key: %w", err)
	}
	return encodePKCS8(k)
}

// GenerateEC returns a new ECDSA P-256 private key as PKCS#8 PEM. As with
// GenerateRSA, Go 1.26 ignores rand unless GODEBUG=cryptocustomrand=1.
func GenerateEC(rand io.Reader) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("keys: generate EC key: %w", err)
	}
	return encodePKCS8(k)
}

func encodePKCS8(k any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: encode PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
