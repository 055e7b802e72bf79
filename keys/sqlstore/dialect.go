package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
)

// A Dialect is what a driver package tells a [Store] about its database:
// which SQL it speaks and what its driver's errors mean. The driver
// packages (keys/sqlstore/postgres, keys/sqlstore/mysql,
// keys/sqlstore/sqlite) each supply one; most users won't implement it. A
// Dialect must be safe for concurrent use.
type Dialect interface {
	// SQL reports the SQL variant the database speaks. A database that
	// speaks one of them closely enough (a PostgreSQL-compatible server
	// reached through another driver, say) may reuse it.
	SQL() SQL
	// Classify reports what an error returned by the driver means to the
	// Store: [UniqueViolation], [Retryable] or [OtherError].
	Classify(err error) ErrorKind
}

// A Listener is a [Dialect] whose database pushes each Forget to the
// Stores that watch it (PostgreSQL: LISTEN/NOTIFY), so that [Store.Watch]
// need not poll. [Store.Watch] finds it by type assertion. Only the
// [Postgres] variant announces a Forget (with pg_notify, in the Forget's
// transaction), so a Listener of another variant is not used.
type Listener interface {
	// Listen subscribes conn to channel, calls subscribed once it is
	// subscribed (Watch then catches up, on conn, on what it may have
	// missed), and then calls notify with the payload of every
	// notification on the channel, until ctx is done or the connection
	// fails; it returns why it stopped. conn is taken from the Store's pool
	// for this call alone and discarded afterwards, never returned to the
	// pool. If conn cannot listen (its driver is not the one the Dialect
	// expects), Listen returns an error wrapping [ErrNotSupported] at once,
	// leaving conn untouched, and Watch polls instead.
	Listen(ctx context.Context, conn *sql.Conn, channel string, subscribed func() error, notify func(payload string)) error
}

// ErrNotSupported is returned, wrapped, by a [Listener] that cannot listen
// on the connection it was given.
var ErrNotSupported = errors.New("sqlstore: not supported")

// SQL names a SQL variant: placeholders, column types, insert-if-absent
// syntax, row locks, how migrations are serialised and how a Forget is
// announced.
type SQL int

const (
	// SQLite is SQLite 3.24 or later. Write transactions should begin with
	// BEGIN IMMEDIATE and the connection set a busy timeout, or concurrent
	// writers fail with SQLITE_BUSY; sqlite.Open does both.
	SQLite SQL = iota + 1
	// Postgres is PostgreSQL 9.5 or later.
	Postgres
	// MySQL is MySQL 5.7+ or MariaDB 10.3+ with InnoDB.
	MySQL
)

// String returns the variant's name.
func (d SQL) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "SQL(" + strconv.Itoa(int(d)) + ")"
}

func (d SQL) valid() bool { return d == SQLite || d == Postgres || d == MySQL }

// ErrorKind is what a driver error means to a [Store], as reported by
// [Dialect.Classify].
type ErrorKind int

const (
	// OtherError is any error the Store has no special use for.
	OtherError ErrorKind = iota
	// UniqueViolation is a unique or primary-key violation: CreateKey
	// reports it as keystore.ErrKeyExists.
	UniqueViolation
	// Retryable means the transaction lost a race with another one
	// (deadlock, serialization failure, database busy) and may simply run
	// again; the Store does, a few times, with backoff.
	Retryable
)

// String returns the kind's name.
func (k ErrorKind) String() string {
	switch k {
	case OtherError:
		return "other error"
	case UniqueViolation:
		return "unique violation"
	case Retryable:
		return "retryable"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// rebind rewrites ? placeholders as $1, $2, ... for PostgreSQL. The
// package's queries contain no string literals with question marks.
func (d SQL) rebind(q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// queries holds the statements of one dialect, placeholders already bound.
type queries struct {
	lockSubject   string // create the subject row if absent and lock it
	selectSubject string // read the subject row, under a row lock where supported
	insertKey     string
	getKey        string
	latestKey     string
	destroyKeys   string
	forgetSubject string
	addDestroyed  string // a repeated Forget found material under the tombstone
	tombstone     string
	insertMeta    string
	initMeta      string // insert the value if the keystore is empty
	selectMeta    string
	nonEmpty      string // whether the keystore holds any key or subject row
	recentForgets string // tombstones newer than a time, for Watch
	lastForget    string // the newest tombstone's time, for Watch

	raiseFloor      string // DestroyVersions: raise a key's floor, never lower it
	keyFloor        string // a key's floor, for CreateKey
	keySubject      string // a key's subject and latest version
	destroyVersions string // delete the material below a version

	updateSchemaVersion string // a migration step's last statement

	insertTokenEntry   string // tokenvault.go
	tokenEntryByToken  string
	tokenEntryByLookup string
}

// forgottenIndex indexes tombstones by time, for Watch.
const forgottenIndex = "fieldcrypt_subjects_forgotten"

// keyColumns reads a key row joined with its subject's row and its key's
// floor: a tombstone, or a floor above the version, wins over any material
// the key row holds (a row brought back by a restore), and such material
// is not even sent. The last column tells a version destroyed by
// DestroyVersions from a forgotten subject.
const (
	keyColumns = `k.version, k.subject_ref, k.purpose,
CASE WHEN s.forgotten_at IS NULL AND ` + aboveFloor + ` THEN k.wrapped END,
k.wrapped IS NULL OR s.forgotten_at IS NOT NULL OR NOT ` + aboveFloor + `,
k.created_at, k.destroyed_at, s.forgotten_at IS NULL AND NOT ` + aboveFloor
	keyJoin = ` FROM fieldcrypt_keys k LEFT JOIN fieldcrypt_subjects s ON s.subject_ref = k.subject_ref
LEFT JOIN fieldcrypt_key_floors f ON f.key_id = k.key_id`
	// aboveFloor holds for a key row k joined with its floor f that
	// DestroyVersions has not destroyed.
	aboveFloor = `(k.version >= COALESCE(f.destroyed_below, 0))`
	// notForgotten restricts a query on fieldcrypt_keys k to subjects
	// without a tombstone and versions not below their key's floor.
	notForgotten = `NOT EXISTS (SELECT 1 FROM fieldcrypt_subjects s WHERE s.subject_ref = k.subject_ref AND s.forgotten_at IS NOT NULL)
AND NOT EXISTS (SELECT 1 FROM fieldcrypt_key_floors f WHERE f.key_id = k.key_id AND k.version < f.destroyed_below)`
)

func (d SQL) queries() queries {
	var q queries
	lock := ""
	const empty = `NOT EXISTS (SELECT 1 FROM fieldcrypt_keys) AND NOT EXISTS (SELECT 1 FROM fieldcrypt_subjects)`
	switch d {
	case SQLite:
		// BEGIN IMMEDIATE already serialises writers: SQLite has no row locks.
		q.lockSubject = `INSERT INTO fieldcrypt_subjects (subject_ref, destroyed) VALUES (?, 0) ON CONFLICT (subject_ref) DO NOTHING`
		q.insertMeta = `INSERT INTO fieldcrypt_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`
		q.initMeta = `INSERT INTO fieldcrypt_meta (name, value) SELECT ?, ? WHERE ` + empty + ` ON CONFLICT (name) DO NOTHING`
	case Postgres:
		// DO UPDATE rather than DO NOTHING: it takes the row lock at once
		// and writes a new row version, so a concurrent transaction running
		// at REPEATABLE READ or SERIALIZABLE that took its snapshot earlier
		// gets a serialization failure (and is retried) instead of missing
		// this transaction's keys.
		q.lockSubject = `INSERT INTO fieldcrypt_subjects (subject_ref, destroyed) VALUES (?, 0) ON CONFLICT (subject_ref) DO UPDATE SET destroyed = fieldcrypt_subjects.destroyed`
		q.insertMeta = `INSERT INTO fieldcrypt_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`
		q.initMeta = `INSERT INTO fieldcrypt_meta (name, value) SELECT CAST(? AS VARCHAR(255)), CAST(? AS BYTEA) WHERE ` + empty +
			` ON CONFLICT (name) DO NOTHING`
		lock = ` FOR UPDATE`
	case MySQL:
		// ON DUPLICATE KEY UPDATE takes an exclusive lock on an existing row
		// directly (INSERT IGNORE takes a shared one, and upgrading it
		// deadlocks with every other waiter). Not INSERT IGNORE for meta
		// either: it turns data errors into warnings.
		q.lockSubject = `INSERT INTO fieldcrypt_subjects (subject_ref, destroyed) VALUES (?, 0) ON DUPLICATE KEY UPDATE destroyed = destroyed`
		q.insertMeta = `INSERT INTO fieldcrypt_meta (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = name`
		// InnoDB's INSERT ... SELECT locks what the subqueries read (the
		// gaps of the empty tables), so a concurrent first key waits.
		q.initMeta = `INSERT INTO fieldcrypt_meta (name, value) SELECT ?, ? FROM DUAL WHERE ` + empty +
			` ON DUPLICATE KEY UPDATE fieldcrypt_meta.name = fieldcrypt_meta.name`
		lock = ` FOR UPDATE`
	}
	switch d {
	case SQLite:
		q.raiseFloor = `INSERT INTO fieldcrypt_key_floors (key_id, destroyed_below) VALUES (?, ?)
ON CONFLICT (key_id) DO UPDATE SET destroyed_below = MAX(fieldcrypt_key_floors.destroyed_below, excluded.destroyed_below)`
	case Postgres:
		q.raiseFloor = `INSERT INTO fieldcrypt_key_floors (key_id, destroyed_below) VALUES (?, ?)
ON CONFLICT (key_id) DO UPDATE SET destroyed_below = GREATEST(fieldcrypt_key_floors.destroyed_below, EXCLUDED.destroyed_below)`
	case MySQL:
		q.raiseFloor = `INSERT INTO fieldcrypt_key_floors (key_id, destroyed_below) VALUES (?, ?)
ON DUPLICATE KEY UPDATE destroyed_below = GREATEST(destroyed_below, VALUES(destroyed_below))`
	}
	q.keyFloor = `SELECT destroyed_below FROM fieldcrypt_key_floors WHERE key_id = ?`
	q.keySubject = `SELECT subject_ref, version FROM fieldcrypt_keys WHERE key_id = ? ORDER BY version DESC LIMIT 1`
	q.destroyVersions = `UPDATE fieldcrypt_keys SET wrapped = NULL, destroyed_at = ? WHERE key_id = ? AND version < ? AND wrapped IS NOT NULL`
	q.selectSubject = `SELECT forgotten_at, reason, destroyed FROM fieldcrypt_subjects WHERE subject_ref = ?` + lock
	q.insertKey = `INSERT INTO fieldcrypt_keys (key_id, version, subject_ref, purpose, wrapped, created_at, destroyed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	q.getKey = `SELECT ` + keyColumns + keyJoin + ` WHERE k.key_id = ? AND k.version = ?`
	q.latestKey = `SELECT ` + keyColumns + keyJoin + ` WHERE k.key_id = ? ORDER BY k.version DESC LIMIT 1`
	q.destroyKeys = `UPDATE fieldcrypt_keys SET wrapped = NULL, destroyed_at = ? WHERE subject_ref = ? AND wrapped IS NOT NULL`
	q.forgetSubject = `UPDATE fieldcrypt_subjects SET forgotten_at = ?, reason = ?, destroyed = ? WHERE subject_ref = ?`
	q.addDestroyed = `UPDATE fieldcrypt_subjects SET destroyed = destroyed + ? WHERE subject_ref = ?`
	q.tombstone = `SELECT forgotten_at, reason, destroyed FROM fieldcrypt_subjects WHERE subject_ref = ? AND forgotten_at IS NOT NULL`
	q.selectMeta = `SELECT value FROM fieldcrypt_meta WHERE name = ?`
	q.nonEmpty = `SELECT CASE WHEN ` + empty + ` THEN 0 ELSE 1 END`
	q.recentForgets = `SELECT subject_ref, forgotten_at FROM fieldcrypt_subjects WHERE forgotten_at > ?`
	q.lastForget = `SELECT MAX(forgotten_at) FROM fieldcrypt_subjects`
	q.insertTokenEntry = `INSERT INTO fieldcrypt_token_vault (field, ` + tokenEntryColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	q.tokenEntryByToken = `SELECT ` + tokenEntryColumns + ` FROM fieldcrypt_token_vault WHERE field = ? AND token = ?`
	q.tokenEntryByLookup = `SELECT ` + tokenEntryColumns + ` FROM fieldcrypt_token_vault WHERE field = ? AND lookup = ?`
	q.updateSchemaVersion = d.rebind(`UPDATE fieldcrypt_meta SET value = ? WHERE name = 'schema_version'`)

	for _, p := range []*string{&q.lockSubject, &q.selectSubject, &q.insertKey, &q.getKey, &q.latestKey,
		&q.destroyKeys, &q.forgetSubject, &q.addDestroyed, &q.tombstone, &q.insertMeta, &q.initMeta,
		&q.selectMeta, &q.recentForgets, &q.raiseFloor, &q.keyFloor, &q.keySubject, &q.destroyVersions,
		&q.insertTokenEntry, &q.tokenEntryByToken, &q.tokenEntryByLookup} {
		*p = d.rebind(*p)
	}
	return q
}

// schema returns the statements that create the tables, all idempotent.
func (d SQL) schema() []string {
	var ref, blob, bigblob, name, purpose, bigint, suffix string
	switch d {
	case SQLite:
		ref, blob, bigblob, name, purpose, bigint = "BLOB", "BLOB", "BLOB", "TEXT", "TEXT", "INTEGER"
	case Postgres:
		ref, blob, bigblob, name, purpose, bigint = "BYTEA", "BYTEA", "BYTEA", "VARCHAR(255)", "VARCHAR(64)", "BIGINT"
	case MySQL:
		// VARBINARY for the meta name: compared byte by byte, not by a
		// case-insensitive collation.
		ref, blob, bigblob, name, purpose, bigint = "BINARY(16)", "BLOB", "LONGBLOB", "VARBINARY(255)", "VARCHAR(64)", "BIGINT"
		suffix = " ENGINE=InnoDB"
	}
	index, subjectsIndex := "", ""
	if d == MySQL {
		// MySQL has no CREATE INDEX IF NOT EXISTS. Tables created before
		// fieldcrypt_subjects_forgotten existed get it from migrateMySQL.
		index = `,
	INDEX fieldcrypt_keys_subject (subject_ref)`
		subjectsIndex = `,
	INDEX ` + forgottenIndex + ` (forgotten_at)`
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS fieldcrypt_meta (
	name ` + name + ` NOT NULL PRIMARY KEY,
	value ` + bigblob + ` NOT NULL
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_subjects (
	subject_ref ` + ref + ` NOT NULL PRIMARY KEY,
	forgotten_at ` + bigint + ` NULL,
	reason ` + blob + ` NULL,
	destroyed ` + bigint + ` NOT NULL DEFAULT 0` + subjectsIndex + `
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_keys (
	key_id ` + ref + ` NOT NULL,
	version ` + bigint + ` NOT NULL,
	subject_ref ` + ref + ` NOT NULL,
	purpose ` + purpose + ` NOT NULL,
	wrapped ` + blob + ` NULL,
	created_at ` + bigint + ` NOT NULL,
	destroyed_at ` + bigint + ` NULL,
	PRIMARY KEY (key_id, version)` + index + `
)` + suffix,
	}
	if d != MySQL {
		stmts = append(stmts,
			`CREATE INDEX IF NOT EXISTS fieldcrypt_keys_subject ON fieldcrypt_keys (subject_ref)`,
			// For Watch's polling and catch-up queries. Added after schema
			// version 1 was released; older versions of this package ignore it.
			`CREATE INDEX IF NOT EXISTS `+forgottenIndex+` ON fieldcrypt_subjects (forgotten_at)`)
	}
	// For DestroyVersions. Added after schema version 1 was released; see
	// the package documentation for what older versions of this package
	// make of it.
	stmts = append(stmts, `CREATE TABLE IF NOT EXISTS fieldcrypt_key_floors (
	key_id `+ref+` NOT NULL PRIMARY KEY,
	destroyed_below `+bigint+` NOT NULL
)`+suffix)
	// The token vault (tokenvault.go): new, independent, not versioned.
	return append(stmts, d.tokenVaultSchema()...)
}
