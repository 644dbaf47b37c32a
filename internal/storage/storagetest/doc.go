// Package storagetest is the conformance suite of the storage contract, run
// against every backend (in the style of dex's storage/conformance).
//
// A backend's tests call Run and RunConcurrency with a function returning a
// fresh, migrated, empty store:
//
//	func TestSQLite(t *testing.T) { storagetest.Run(t, newSQLiteStore) }
//
// Run covers every repository method: round trips of every field (nil and
// set optional values, empty and nil lists, times given in other zones come
// back as the same instant in UTC at microsecond precision), ErrNotFound on
// missing rows, ErrConflict on duplicate IDs and unique keys, every state
// transition and its refusals, paging and filters, ReadTx refusing writes,
// and rollback of everything a failed or panicking transaction wrote.
//
// RunConcurrency races real transactions on real goroutines: concurrent
// refreshes of one token, exchanges of one code, registrations of one
// username, user-code and client-assertion collisions (exactly one wins,
// the others get ErrConflict, the loser's writes are rolled back), a
// session ended while it is being refreshed, and many concurrent writers
// and readers, none of which may fail.
//
// Two rules the suite pins down beyond storage's package comment: a token
// cannot be added to an ended session (ErrConflict), and after an insert is
// refused as a duplicate the same transaction remains usable.
//
// Subtests run in parallel, each on its own store.
package storagetest
