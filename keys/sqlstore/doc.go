// Package sqlstore is a keys.Store kept in a SQL database through
// database/sql: SQLite, PostgreSQL or MySQL/MariaDB.
//
// SQLite is the embedded default: [OpenSQLite] opens (or creates, with
// permissions 0600) one database file through the pure-Go
// github.com/glebarez/go-sqlite driver, and needs no server:
//
//	store, err := sqlstore.OpenSQLite(ctx, "keys.db")
//	...
//	defer store.Close()
//
// [OpenPostgres] and [OpenMySQL] connect to a server; [New] takes a *sql.DB
// the caller opened and a [Dialect].
//
// # Tables
//
// Every constructor creates, if they do not exist:
//
//	fieldcrypt_meta      name PRIMARY KEY, value      (root key check, schema_version)
//	fieldcrypt_subjects  subject_ref (16 bytes) PRIMARY KEY, forgotten_at, reason, destroyed
//	fieldcrypt_keys      key_id (16 bytes), version, subject_ref, purpose, wrapped,
//	                     created_at, destroyed_at; PRIMARY KEY (key_id, version),
//	                     index on subject_ref
//
// Times are integers: microseconds since the Unix epoch, UTC. A subject row
// with forgotten_at NULL is not a tombstone; it only exists to be locked.
// The schema version ([SchemaVersion]) is recorded in fieldcrypt_meta as
// "schema_version". Several processes may create the tables at the same
// time: the migration runs under the SQLite write lock, a PostgreSQL
// advisory lock or a MySQL named lock.
//
// # Deletion and what it does not reach
//
// Forget deletes key material by setting wrapped to NULL in place. The
// database may keep older copies of the bytes for a while:
//
//   - SQLite: OpenSQLite enables secure_delete, so freed space in the
//     database file is overwritten with zeros, and Forget checkpoints and
//     truncates the write-ahead log (the -wal file) that still holds the old
//     pages. A reader in another process can hold the log open until a later
//     checkpoint. The file system may still hold freed blocks.
//   - PostgreSQL keeps the old row version as a dead tuple until VACUUM
//     (autovacuum, or VACUUM fieldcrypt_keys) reclaims it, and the WAL holds
//     it until recycled.
//   - MySQL/MariaDB keeps it in the undo log until purged, and in the binary
//     log if enabled.
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
