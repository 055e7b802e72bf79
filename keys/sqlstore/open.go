package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	_ "github.com/glebarez/go-sqlite" // registers the "sqlite" driver
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// sqliteParams configure every SQLite connection:
//   - busy_timeout: wait up to 10 s for another connection's or process's
//     write lock instead of failing with SQLITE_BUSY;
//   - journal_mode(WAL): readers do not block the writer and vice versa;
//   - secure_delete: overwrite deleted content with zeros, so a destroyed
//     wrapped key does not linger in a free page of the database file;
//   - _txlock=immediate: write transactions take the write lock at BEGIN,
//     so two transactions never both hold a read lock and wait for each
//     other to upgrade it (which SQLite reports as SQLITE_BUSY at once).
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate"

// OpenSQLite opens the SQLite database file at path, creating it with
// permissions 0600 if it does not exist, and creates the tables if needed.
// This is the embedded default: no server, one file (plus its -wal and -shm
// companions, created with the same permissions). Several processes may
// open the same file at once. Close closes the database.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlstore: open sqlite: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, errors.New("sqlstore: open sqlite: path must name a file, not an in-memory database or a URI")
	case strings.ContainsRune(path, '?'):
		return nil, errors.New("sqlstore: open sqlite: path must not contain '?'")
	}
	// Create the file ourselves: SQLite would create it with 0644 less the
	// umask, readable by every local user.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
		}
	case errors.Is(err, fs.ErrExist):
		// Opened before, or by another process racing us: fine.
	default:
		return nil, fmt.Errorf("sqlstore: open sqlite: create database file: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	return newOwned(ctx, db, SQLite, opts)
}

// OpenPostgres connects to PostgreSQL through pgx, for example with
// "postgres://user@host:5432/db?sslmode=verify-full", and creates the tables
// if needed. Tables are created in the first schema of the search_path
// (set it with a "search_path=..." DSN parameter). Close closes the pool.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	return newOwned(ctx, stdlib.OpenDB(*cfg), Postgres, opts)
}

// OpenMySQL connects to MySQL or MariaDB through go-sql-driver/mysql, for
// example with "user:password@tcp(host:3306)/db", and creates the tables if
// needed. Times are stored as integers, so parseTime is not needed. Close
// closes the pool.
func OpenMySQL(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open mysql: %w", err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open mysql: %w", err)
	}
	return newOwned(ctx, sql.OpenDB(conn), MySQL, opts)
}

func newOwned(ctx context.Context, db *sql.DB, d Dialect, opts []Option) (*Store, error) {
	s, err := New(ctx, db, d, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}
