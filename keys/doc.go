// Package keys is fieldcrypt's key hierarchy: one random 256-bit key per data
// subject (a customer) and purpose, held only wrapped by a root key in a KMS,
// and destroyed on request so that everything encrypted under it becomes
// unreadable (crypto-shredding).
//
//	root key (KMS)      local file/env key | Vault Transit | any tink.AEAD
//	  └─ subject keys   one per (subject, purpose, version), stored only wrapped
//	       └─ data      envelope (AES-GCM, AES-SIV), tokens (FF1), blind indexes
//
// Most users open one [Keyring] per process and hand it to the envelope and
// tokenize packages:
//
//	kms, _ := localkms.OpenFile("root.key")           // created with 0600 on first use
//	store, _ := sqlstore.OpenSQLite(ctx, "keys.db")   // the embedded default
//	kr, _ := keys.Open(ctx, keys.Config{KMS: kms, Store: store})
//	...
//	kr.Forget(ctx, "customer-42", "erasure request 2026-0042")
//
// # Key identity and what the keystore learns
//
// A key is identified by (subject, purpose, version). The keystore never sees
// the subject in clear: it stores a [SubjectRef], a 128-bit HMAC-SHA256 of the
// subject under a keystore-wide identifier key that is itself kept wrapped by
// the root key. Ciphertexts carry the 128-bit [KeyID] and the version, so
// decryption needs no subject argument, and neither ciphertexts, tombstones
// nor audit logs reveal which customer they belong to to someone without the
// root key. Whoever holds the root key and the keystore can still test a
// guessed subject identifier.
//
// # Crypto-shredding
//
// [Keyring.Forget] deletes the wrapped key material of every version of every
// purpose of a subject and keeps a tombstone (subject reference, time, reason,
// number of key versions destroyed). A forgotten subject's key is never
// re-created: later requests fail with [ErrKeyDestroyed]. After Forget returns,
// no operation started in the same process obtains the subject's key. Other
// processes that share the keystore stop using their cached copy within the
// cache's MaxAge (default 1 minute) plus [MaxAgeSlack] (1 ms) at the latest;
// a Store that implements [Watcher] (keys/sqlstore does) makes it
// milliseconds (PostgreSQL) to 250 ms (polling); Open starts watching and
// [Keyring.Close] stops it. Keys already copied out of
// the keystore — an old backup of it together with the root key — are beyond
// Forget's reach: rotate and destroy the old root key to reach backups.
//
// # Root key check
//
// On first use a keystore records a check value: the identifier key wrapped by
// the root key. [Open] unwraps it every time and fails with
// [ErrRootKeyMismatch] when the configured root key is not the one the
// keystore was created with, instead of silently creating keys that no other
// service could read.
//
// # Limits
//
//   - Subjects: 1 to 256 bytes of valid UTF-8. Purposes: 1 to 64 characters
//     from [a-z0-9._-], starting with a letter or digit.
//   - Versions: 1 to 2^31-1 per (subject, purpose).
//   - Cache: at most [DefaultCacheEntries] unwrapped keys for at most
//     [DefaultCacheMaxAge] each, unless configured otherwise.
//
// # Concurrency
//
// A [Keyring] is safe for concurrent use by many goroutines. Store and KMS
// implementations must be too.
package keys
