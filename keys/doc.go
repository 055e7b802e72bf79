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
//	store, _ := sqlite.Open(ctx, "keys.db")           // keys/sqlstore/sqlite: the embedded default
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
// re-created: later requests fail with [ErrKeyDestroyed].
//
// Who stops using the key, and when:
//
//   - This process: before Forget returns, the subject is evicted from every
//     Keyring of the process open on the same keystore — the one Forget was
//     called on, others on the same Store, and others on a second Store
//     opened on the same database (two libraries in one binary). No
//     operation started after Forget returns obtains the key.
//   - Other processes: within their watcher's latency when the Store
//     implements [keystore.Watcher] (keys/sqlstore: a few ms on PostgreSQL,
//     up to the 250 ms poll interval plus one query elsewhere) or
//     Config.Watcher is set (keys/natswatch: a few ms over NATS JetStream,
//     on any keystore), and at the
//     latest after Config.CacheMaxAge plus [MaxAgeSlack] (1 minute + 1 ms by
//     default), counted from the start of the keystore read that fetched the
//     key and measured in wall time, also across a suspended machine (see
//     [MaxAgeSlack]).
//
// Data derived from a subject outside the keystore (a blind index, a search
// index) is not reached by crypto-shredding. [Keyring.OnForget] tells a
// library of every subject forgotten through a Keyring of this process on
// the keystore and of every one its Watcher reports, on a queue of its own,
// so that it can erase that data too; reports missed while a process was
// not running are found with [Keyring.ForgottenRefs] (package gormcrypt
// does both for blind indexes).
//
// What stays in memory: an evicted Key is dropped by the cache, but its
// secret and the primitives derived from it (AES key schedules) stay in the
// process's heap until no operation that was using it holds it and the
// garbage collector reclaims that memory — normally within milliseconds to a
// few garbage-collection cycles; Go offers no way to zero them on eviction.
// The memory of a process that used the key, or its swap or core dump, can
// therefore still yield the key for that long. Keys already copied out of
// the keystore — an old backup of it together with the root key — are
// beyond Forget's reach: rotate and destroy the old root key to reach
// backups.
//
// # Destroying old versions
//
// [Keyring.Rotate] adds a version and leaves the old ones decrypting. After
// a suspected leak of one subject's key, rotate, re-encrypt the subject's
// data under the new version (gormcrypt does it for its models), and then
// call [Keyring.DestroyVersionsBelow] with the new version: the material
// of every older version of that (subject, purpose) key is deleted, the
// keystore records that they are gone, and the current version keeps
// working. Reads of a destroyed version fail with [ErrVersionDestroyed],
// which is also [ErrKeyDestroyed]; [Keyring.LiveKeys] no longer lists it;
// it is never re-created. The subject is not forgotten.
//
// Data still encrypted under a destroyed version is lost for good, so the
// call refuses ([ErrVersionsInUse]) unless the caller proves nothing uses
// the old versions: [WhenUnused] takes a check that must report 0 (the
// rows still under an old version), and only an explicit [Unchecked] does
// without one. It also refuses until version below is older than
// Config.CacheMaxAge + [MaxAgeSlack] (1 minute + 1 ms by default, by the
// clocks of the process that rotated and of this one): until then another
// process may still take an older version for current and write under
// it. Run the check after that wait, so that it counts those rows too. The
// current version is never destroyed ([ErrInvalidVersion]); [Keyring.Forget]
// destroys everything.
//
// Who stops using the destroyed versions, and when: every Keyring of this
// process on the keystore before the call returns, as for Forget; other
// processes within their watcher's latency on PostgreSQL (keys/sqlstore
// notifies them), and on other stores at the latest after their
// Config.CacheMaxAge plus [MaxAgeSlack]. The Store must implement
// [keystore.VersionDestroyer] (keys/memstore and keys/sqlstore do).
//
// # Retention, withdrawal, holds and receipts
//
// Config.Lifecycle declares a [Policy] per purpose: its keys expire
// [AfterCreation], [AfterLastActivity] or are kept [UntilWithdrawn], and a
// LegalMinimum keeps them even against an erasure request. [Keyring.Expire]
// is the sweep that destroys expired keys (run it periodically, from any
// number of processes); [Keyring.Withdraw] destroys one purpose of a
// subject on consent withdrawal; [Keyring.Erase] is Forget with details:
// inside a legal minimum or a [Keyring.Hold] it destroys the rest now and
// schedules the kept keys for the sweep. Destroying one purpose destroys
// every version of its key (its floor is raised above the latest
// version, as [Keyring.DestroyVersionsBelow] raises it below the current
// one), so data under it is unreadable for good, and a later Current of
// that purpose starts a new version. With Lifecycle.Receipts, each
// destruction returns a [Receipt] signed with a key the root key protects,
// which [VerifyReceipt] checks offline; with Lifecycle.AuditLog, every
// [Event] is appended to a chain in the keystore that
// [Keyring.VerifyAuditLog] checks. All of it needs a Store implementing
// keystore.LifecycleStore (keys/memstore and keys/sqlstore do).
//
// Other processes learn of a purpose destroyed by Withdraw or Expire as of
// a DestroyVersionsBelow: on PostgreSQL, keys/sqlstore notifies them and
// they evict the subject; elsewhere they stop using the key within their
// CacheMaxAge. Keys that expire by inactivity are seldom cached anywhere.
//
// # Restores, replicas and migrations
//
// A tombstone wins over every key row: a key row that reappears under a
// tombstone (a table-level restore, replication lag, a bad migration) is
// never read, listed or re-wrapped, and a repeated Forget destroys its
// material and reports how many versions it found in
// [Tombstone.DestroyedNow]. Likewise the record of versions destroyed by
// DestroyVersionsBelow wins over a restored row of one of them, and a
// repeated call destroys it again ([VersionsDestroyed.DestroyedNow]). A keystore that holds keys or tombstones but
// lost its root key check value is refused by [Open] with
// [ErrCheckValueMissing]: restore that one row from a backup.
//
// # Root key check
//
// On first use a keystore records a check value: the identifier key wrapped by
// the root key. [Open] unwraps it every time and fails with
// [ErrRootKeyMismatch] when the configured root key is not the one the
// keystore was created with, instead of silently creating keys that no other
// service could read. The check value is created only on an empty keystore
// (no key, no tombstone), atomically with that check.
//
// # Raw key material
//
// A [Key]'s secret never leaves this package except through [Derive], which
// takes an insecuresecretaccess.Token: every place that handles raw key
// material imports package keys/insecuresecretaccess and is found by
// grepping for it (envelope, tokenize and gormcrypt's blind index are the
// only ones in fieldcrypt). Derive memoises what it builds per label and
// cached Key, so key schedules and KDFs run once per key, not per message.
//
// # Limits
//
//   - Subjects: 1 to 256 bytes of valid UTF-8. Purposes: 1 to 64 characters
//     from [a-z0-9._-], starting with a letter or digit.
//   - Versions: 1 to 2^31-1 per (subject, purpose).
//   - Cache: at most [DefaultCacheEntries] unwrapped keys for at most
//     [DefaultCacheMaxAge] each, unless configured otherwise.
//
// # Backends
//
// What a keystore or KMS implementation provides — the Store and KMS
// interfaces with their optional capabilities, the KeyRecord they exchange
// and the errors they return — is package keys/keystore, as
// database/sql/driver is to database/sql. Most users never import it:
// [Config] takes a keys/memstore, keys/sqlstore/... or other Store and a
// keys/localkms, keys/vaultkms or keys/tinkkms KMS as they come. The few
// keystore names users meet are reachable from here: [SubjectRef], [KeyID],
// [Tombstone] and [KeyCursor] are aliases of keystore's types, and
// [ErrKeyDestroyed], [ErrVersionDestroyed], [ErrKeyNotFound] and
// [ErrCheckValueMissing] are keystore's error values, so errors.Is matches
// either name.
//
// # Concurrency
//
// A [Keyring] is safe for concurrent use by many goroutines. Store and KMS
// implementations must be too (see keys/keystore). A cache hit takes no
// lock, so warm Current and KeyVersion calls scale with cores; concurrent
// cold loads of one key share one keystore read and one KMS unwrap, and a
// page of cold keys loads in batches with [Keyring.Warm] and
// [Keyring.WarmVersions]. None of this weakens the cache's bounds: every
// hit checks the key's age, and once Forget, Rotate or Evict returns no
// operation started afterwards gets the keys it dropped, even from a load
// that was in flight.
//
// # Compatibility
//
// Within a major version, a minor version may add API, deprecate it, fix
// bugs and refuse more of what is unsafe (with a documented error). It never
// changes what is persisted — keystore rows, the root key check value, and
// the ciphertexts, tokens and blind indexes derived from keys — nor stops
// reading anything fieldcrypt ever wrote: testdata/golden holds vectors of
// every format and version, and the tests of keys/sqlstore, envelope,
// tokenize and gormcrypt check them both ways, so a change fails the build.
// New formats carry a new version number in the value and are listed in
// CHANGELOG.md.
package keys
