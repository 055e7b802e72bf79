// Package sqlstore is a keystore.Store kept in a SQL database through
// database/sql: SQLite, PostgreSQL or MySQL/MariaDB. It imports no database
// driver; one small package per database does, so that a program links only
// the driver it uses:
//
//	keys/sqlstore/sqlite    glebarez/go-sqlite (pure Go)   sqlite.Open(ctx, path)   the embedded default
//	keys/sqlstore/postgres  jackc/pgx/v5                   postgres.Open(ctx, dsn)  LISTEN/NOTIFY
//	keys/sqlstore/mysql     go-sql-driver/mysql            mysql.Open(ctx, dsn)     MySQL and MariaDB
//
// For example, on the embedded default, one file and no server:
//
//	store, err := sqlite.Open(ctx, "keys.db")
//	...
//	defer store.Close()
//	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// Each driver package also has New, which puts a Store on a *sql.DB the
// caller opened. What this package holds is what the databases share: the
// [Store], the tables and their migrations, root key rotation
// (keystore.RotatableStore) and the polling watcher. A driver package tells it
// which SQL its database speaks and what the driver's errors mean through a
// [Dialect], and may push Forgets to watchers through a [Listener]; most
// users won't need either.
//
// What a program links, measured on the smallest one that opens a keystore
// and a Keyring (internal/pgconsumer, internal/sqliteconsumer; Go 1.26,
// linux/amd64):
//
//	                      go build     -ldflags="-s -w"
//	PostgreSQL, before    19.9 MB      13.5 MB    (sqlstore linked all three drivers)
//	PostgreSQL (postgres) 14.3 MB       9.9 MB
//	SQLite (sqlite)        9.8 MB       6.5 MB
//
// # Tables
//
// Every constructor creates, if they do not exist:
//
//	fieldcrypt_meta      name PRIMARY KEY, value      (root key check, schema_version)
//	fieldcrypt_subjects  subject_ref (16 bytes) PRIMARY KEY, forgotten_at, reason, destroyed,
//	                     index on forgotten_at
//	fieldcrypt_keys      key_id (16 bytes), version, subject_ref, purpose, wrapped,
//	                     created_at, destroyed_at; PRIMARY KEY (key_id, version),
//	                     index on subject_ref
//	fieldcrypt_key_floors key_id (16 bytes) PRIMARY KEY, destroyed_below
//
// and, from schema version 2 on (the data lifecycle, [keystore.LifecycleStore]):
//
//	fieldcrypt_activity          subject_ref PRIMARY KEY, last_active
//	fieldcrypt_holds             subject_ref, purpose ('' = all), reason, placed_at, until_at;
//	                             PRIMARY KEY (subject_ref, purpose)
//	fieldcrypt_erasure_schedule  key_id PRIMARY KEY, subject_ref, purpose, due_at, requested_at,
//	                             reason, forget_subject; indexes on subject_ref and due_at
//	fieldcrypt_key_erasures      key_id, latest_version, lowest_version, subject_ref, purpose,
//	                             destroyed, destroyed_at, reason; PRIMARY KEY (key_id, latest_version)
//	fieldcrypt_audit_log         seq PRIMARY KEY, entry, hash
//
// and, outside the schema versions (a new, independent table that older
// versions of this package ignore), the token vault of tokenize.Vault
// (keystore.TokenVaultStore):
//
//	fieldcrypt_token_vault  field, token, lookup (32 bytes), subject_ref, key_id, sealed, created_at;
//	                        PRIMARY KEY (field, token), UNIQUE (field, lookup)
//
// Both constraints are what make concurrent first tokenizations of one
// value, from any number of processes, agree on one token.
//
// A purpose destroyed by an expiry or a withdrawal raises its key's floor
// in fieldcrypt_key_floors above the latest version (so every read path
// refuses the old versions, and a later first use starts a new version)
// and records the destruction, with its reason (the policy name for an
// expiry), in fieldcrypt_key_erasures: the per-key tombstone. Opening a
// version 1 database migrates it to version 2 (new tables only; nothing
// is rewritten).
//
// Times are integers: microseconds since the Unix epoch, UTC. A subject row
// with forgotten_at NULL is not a tombstone; it only exists to be locked.
// The schema version ([SchemaVersion]) is recorded in fieldcrypt_meta as
// "schema_version". Several processes may create the tables at the same
// time: the migration runs under the SQLite write lock, a PostgreSQL
// advisory lock or a MySQL named lock.
//
// The index on forgotten_at (fieldcrypt_subjects_forgotten) serves [Store.Watch].
// It was added without changing [SchemaVersion]: older versions of this
// package ignore it, and opening a database they created adds it (on
// PostgreSQL, CREATE INDEX blocks writes to fieldcrypt_subjects while it
// builds: 1.4 s for a million subjects on a small test machine).
//
// fieldcrypt_key_floors serves [Store.DestroyVersions]: every version of
// the key below destroyed_below is destroyed, whatever its row in
// fieldcrypt_keys holds, as a tombstone wins over the rows of its subject.
// It too was added without changing [SchemaVersion], so that processes of
// the previous release keep running against the database. They ignore it,
// which only matters for a row of a destroyed version brought back by a
// restore: they would read it. Upgrade every process before restoring
// fieldcrypt_keys from a backup taken before a DestroyVersions.
//
// # Invalidation across processes
//
// A Store implements keystore.Watcher, so keys.Open starts watching it: when
// any process forgets a subject, every other process's Keyring evicts the
// subject's keys from its cache (keys.Keyring.Evict, which also stops a load
// racing with the eviction from re-inserting the key).
//
//	store        how                                    usual delay             if reports are lost
//	PostgreSQL   NOTIFY in the Forget transaction;      a few ms (measured on   reconnect + catch-up query;
//	             LISTEN on one pooled connection        a busy 2-core host:     hard bound: cache MaxAge
//	                                                    p50 1-2 ms, p99 11 ms)
//	MySQL,       poll the tombstones every 250 ms       up to the interval      the next successful poll;
//	MariaDB,     (WithPollInterval): one indexed        plus one query (p50     hard bound: cache MaxAge
//	SQLite       query per interval                     130 ms, p99 251 ms)
//
// The hard bound, whatever happens to the database connection or the
// process, is the reading Keyring's CacheMaxAge plus keys.MaxAgeSlack (1
// minute + 1 ms by default): a key is never served from memory longer than
// that after it was read from the keystore. To tune:
//
//   - Shorter usual delay on MySQL/MariaDB/SQLite: [WithPollInterval]; each
//     process then runs one more small query per interval (4 per second at
//     the default).
//   - Shorter hard bound: keys.Config.CacheMaxAge; each cached key is then
//     re-read and unwrapped that much more often.
//
// PostgreSQL notifications (package postgres) go to the channel "fieldcrypt_forget.<schema>"
// (so keystores in different schemas do not hear each other) with the
// payload "<subject reference hex> <forgotten_at in µs>" — no key material
// and no subject identifier. The listening connection is taken from the
// Store's pool for as long as the Keyring watches (count it in
// MaxOpenConns), carries application_name "fieldcrypt-invalidation/<pid>",
// and is discarded rather than returned to the pool. After a lost connection
// Watch reconnects (backoff 50 ms doubling to 5 s), LISTENs again and then
// reads the tombstones written since the newest one it had seen, so nothing
// forgotten in between is missed. Tombstones are found by their
// forgotten_at, which is the forgetting process's clock: a tombstone that
// becomes visible more than 5 s after a newer one (clock skew between
// services plus a stalled Forget transaction) may be missed by polling and
// catch-up, and is then bounded by the cache MaxAge alone: keep the
// services' clocks synchronised (NTP). A PostgreSQL
// *sql.DB that does not use pgx's stdlib driver (postgres.New) is polled
// like MySQL.
//
// # Deletion and what it does not reach
//
// Forget deletes key material by setting wrapped to NULL in place. The
// database may keep older copies of the bytes for a while:
//
//   - SQLite: sqlite.Open enables secure_delete, so freed space in the
//     database file is overwritten with zeros, and Forget checkpoints and
//     truncates the write-ahead log (the -wal file) that still holds the old
//     pages. A reader in another process can hold the log open until a later
//     checkpoint. The file system may still hold freed blocks.
//   - PostgreSQL keeps the old row version as a dead tuple until VACUUM
//     (autovacuum, or VACUUM fieldcrypt_keys) reclaims it, and the WAL holds
//     it until recycled.
//   - MySQL/MariaDB (InnoDB) keeps it in four places: the undo log, until
//     the purge threads remove the old row version (usually seconds; a long
//     transaction holding an old read view delays it); the redo log
//     (ib_logfile0, 96 MiB by default on MariaDB 10.11), whose records are
//     overwritten only when the circular log wraps around, so under light
//     write load for days; the binary log, if log_bin is on, until
//     binlog_expire_logs_seconds (expire_logs_days) removes the file; and
//     the freed space of the page itself, which InnoDB does not zero unless
//     innodb_immediate_scrub_data_uncompressed=ON (MariaDB; off by default).
//     The doublewrite buffer holds recent page images too.
//
// A row restored from such a copy beneath fieldcrypt (a table-level
// restore, a replica lagging behind) is never used again: every key read
// consults the subject's tombstone, which wins over any material the key
// row holds, and a repeated Forget destroys that material
// (keys.Tombstone.DestroyedNow counts it). A keystore restored without its
// fieldcrypt_meta row "id-key.v1" is refused (keys.ErrCheckValueMissing)
// until that row is restored too.
//
// Backups and replicas hold whatever they copied. Every copy is wrapped by
// the root key, so to reach backups, rotate the root key and destroy the old
// one (see package keys).
//
// # Concurrency
//
// A [Store] is safe for concurrent use by many goroutines, and by many
// processes sharing one database. CreateKey and Forget each run in one
// transaction that first creates the subject's row if absent and locks it
// (PostgreSQL and MySQL: a row lock; SQLite: the database write lock taken
// by BEGIN IMMEDIATE), so a key is never created for a subject after, or
// concurrently with, the subject being forgotten. This holds at READ
// COMMITTED, REPEATABLE READ and SERIALIZABLE. Transactions that fail
// with a deadlock, a serialization failure or SQLITE_BUSY are retried a
// few times with backoff.
//
// Most users won't use sqlstore directly: they pass the Store to
// keys.Open.
package sqlstore
