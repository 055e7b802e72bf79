// Package keystore is what a keystore or KMS implementation provides to
// package keys, as database/sql/driver is to database/sql. Most users never
// import it: they pass a ready-made Store (keys/memstore, keys/sqlstore/...)
// and KMS (keys/localkms, keys/vaultkms, keys/tinkkms) to keys.Open and use
// the Keyring.
//
// # For backend authors
//
// A keystore implements [Store]: it keeps [KeyRecord]s — subject keys,
// wrapped by the root key — and [Tombstone]s of forgotten subjects, under
// the references [KeyID] and [SubjectRef] that package keys derives, so it
// never sees a subject identifier or unwrapped key material. A KMS
// implements [KMS]: it wraps and unwraps those keys under the root key.
//
// Optional capabilities are further interfaces that package keys finds by
// type assertion:
//
//   - [Watcher]: a Store shared by several processes reports subjects
//     forgotten by any of them, so that their keys leave every cache at
//     once (keys/sqlstore).
//   - [ForgottenLister]: a Store answers "which of these subjects are
//     forgotten" in one round trip.
//   - [TombstoneLister]: a Store lists the tombstones recorded since a
//     time, for a Watcher that catches up from the keystore (keys/natswatch).
//   - [Broadcaster]: a Watcher given as keys.Config.Watcher announces each
//     Forget once the Store has committed it (keys/natswatch, over NATS
//     JetStream).
//   - [RotatableStore]: a Store lists its live keys and replaces wrapped
//     values by compare-and-swap, which keys.RotateRoot needs.
//   - [VersionDestroyer]: a Store destroys the versions of a key below a
//     given one, keeping a per-key record (a floor) that wins over any row
//     a restore brings back, which keys.Keyring.DestroyVersionsBelow needs.
//   - [LifecycleStore]: a VersionDestroyer that also records activity,
//     holds and scheduled destructions, destroys whole keys under the
//     subjects' locks (exactly one of several concurrent sweepers each),
//     and keeps the audit log chain: what retention policies, Withdraw,
//     Erase, Hold, receipts and the audit log need
//     (keystest.RunLifecycleTests).
//   - [KMSRewrapper] and [RootVersioner]: a KMS re-wraps inside itself and
//     tells which root key version wrapped a value (Vault Transit).
//
// Implementations report what callers branch on with the sentinel errors
// of this package, wrapped with %w: [ErrKeyNotFound], [ErrKeyExists],
// [ErrKeyDestroyed], [ErrVersionDestroyed] (which wraps ErrKeyDestroyed),
// [ErrCheckValueMissing] and [ErrRewrapConflict] from a Store, [ErrUnwrap]
// from a KMS. Package keys re-exports the four its users meet
// (keys.ErrKeyDestroyed, keys.ErrVersionDestroyed, keys.ErrKeyNotFound,
// keys.ErrCheckValueMissing) as the same values, and the identifiers users
// name (keys.KeyID, keys.SubjectRef, keys.Tombstone, keys.KeyCursor) as
// aliases of the types here, so errors.Is and assignments work with either
// name; this package is their canonical home.
//
// Assert implementations at compile time, and run the conformance suite
// of package keys/keystest in the backend's tests:
//
//	var (
//		_ keystore.RotatableStore   = (*Store)(nil)
//		_ keystore.VersionDestroyer = (*Store)(nil)
//		_ keystore.Watcher          = (*Store)(nil)
//	)
//
//	func TestConformance(t *testing.T) {
//		keystest.RunStoreTests(t, func(t *testing.T) keystore.Store { return New() })
//	}
//
// # Concurrency
//
// Every Store and KMS must be safe for concurrent use by many goroutines;
// a Store on a shared backend also by several processes at once.
//
// This package imports nothing of fieldcrypt, and package keys imports it:
// a backend depends on these definitions only.
package keystore
