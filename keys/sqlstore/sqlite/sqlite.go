// Package sqlite opens a fieldcrypt keystore ([sqlstore.Store]) in a SQLite
// database file, through the pure-Go github.com/glebarez/go-sqlite driver
// (no cgo). This is the embedded default: no server, one file, shared by
// every process that opens it. It links no other database driver.
//
//	store, err := sqlite.Open(ctx, "keys.db")
//	...
//	defer store.Close()
//	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// Each connection waits up to 10 s for another process's write lock
// instead of failing, runs in WAL mode, and has secure_delete on: Forget
// overwrites the freed pages with zeros and then checkpoints and truncates
// the write-ahead log, so destroyed key material does not linger in the
// file (see package sqlstore for what a file system may still keep). A
// keystore polls for other processes' Forgets every 250 ms by default
// (sqlstore.WithPollInterval).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	gosqlite "github.com/glebarez/go-sqlite" // also registers the "sqlite" database/sql driver

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// params configure every SQLite connection Open makes:
//   - busy_timeout: wait up to 10 s for another connection's or process's
//     write lock instead of failing with SQLITE_BUSY;
//   - journal_mode(WAL): readers do not block the writer and vice versa;
//   - secure_delete: overwrite deleted content with zeros, so a destroyed
//     wrapped key does not linger in a free page of the database file;
//   - _txlock=immediate: write transactions take the write lock at BEGIN,
//     so two transactions never both hold a read lock and wait for each
//     other to upgrade it (which SQLite reports as SQLITE_BUSY at once).
const params = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate"

// Open opens the SQLite database file at path, creating it with
// permissions 0600 if it does not exist, and creates the keystore's tables
// if needed. The -wal and -shm companion files get the same permissions.
// Several processes may open the same file at once. path must name a file:
// not ":memory:", a "file:" URI or anything with a '?'. Close closes the
// database.
func Open(ctx context.Context, path string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlite: open: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, errors.New("sqlite: open: path must name a file, not an in-memory database or a URI")
	case strings.ContainsRune(path, '?'):
		return nil, errors.New("sqlite: open: path must not contain '?'")
	}
	// Create the file ourselves: SQLite would create it with 0644 less the
	// umask, readable by every local user.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
	case errors.Is(err, fs.ErrExist):
		// Opened before, or by another process racing us: fine.
	default:
		return nil, fmt.Errorf("sqlite: open: create database file: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return sqlstore.New(ctx, db, dialect{}, append(opts, sqlstore.WithOwnedDB())...)
}

// New returns a Store on db, a database the caller opened through
// glebarez/go-sqlite (sql.Open("sqlite", ...); this package registers the
// "sqlite" driver), creating the tables if needed. Close leaves db open. db should begin write transactions with
// BEGIN IMMEDIATE ("_txlock=immediate") and set a busy timeout
// ("_pragma=busy_timeout(10000)"), or concurrent writers fail with
// SQLITE_BUSY; without secure_delete, destroyed key material stays in the
// file's free pages.
//
// Most users won't need New: [Open] opens the file with all of that set.
func New(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	return sqlstore.New(ctx, db, dialect{}, opts...)
}

// dialect is SQLite through glebarez/go-sqlite.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) SQL() sqlstore.SQL { return sqlstore.SQLite }

// SQLite result codes (https://www.sqlite.org/rescode.html). The driver
// enables extended result codes, so the primary code is the low byte.
const (
	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteConstraint           = 19
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

func (dialect) Classify(err error) sqlstore.ErrorKind {
	var se *gosqlite.Error
	if !errors.As(err, &se) {
		return sqlstore.OtherError
	}
	c := se.Code()
	switch {
	case c == sqliteConstraintPrimaryKey || c == sqliteConstraintUnique ||
		c&0xff == sqliteConstraint && strings.Contains(se.Error(), "UNIQUE constraint failed"):
		return sqlstore.UniqueViolation
	case c&0xff == sqliteBusy || c&0xff == sqliteLocked:
		return sqlstore.Retryable
	}
	return sqlstore.OtherError
}
