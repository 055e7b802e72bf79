package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
)

// migrateLockKey is the PostgreSQL advisory lock held while migrating
// ("fcmigrat" in ASCII).
const migrateLockKey int64 = 0x66636d6967726174

// mysqlLockName is the MySQL named lock held while migrating.
const mysqlLockName = "fieldcrypt_migrate"

// migrate creates the tables and records the schema version. Concurrent
// callers are serialised: by the write lock of BEGIN IMMEDIATE on SQLite,
// by a transaction-scoped advisory lock on PostgreSQL (whose CREATE TABLE
// IF NOT EXISTS is not safe against itself) and by a named lock on MySQL,
// where DDL commits implicitly and cannot be wrapped in a transaction.
func (s *Store) migrate(ctx context.Context) error {
	var err error
	switch s.sql {
	case MySQL:
		err = s.migrateMySQL(ctx)
	default:
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if s.sql == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
					return err
				}
			}
			return s.createSchema(ctx, tx)
		})
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %v schema: %w", s.sql, err)
	}
	return nil
}

// execer is what *sql.Tx and *sql.Conn have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) createSchema(ctx context.Context, db execer) error {
	for _, stmt := range s.sql.schema() {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	// The tables above are version 1; migrations bring them up to date.
	if _, err := db.ExecContext(ctx, s.q.insertMeta, "schema_version", []byte("1")); err != nil {
		return err
	}
	var v []byte
	if err := db.QueryRowContext(ctx, s.q.selectMeta, "schema_version").Scan(&v); err != nil {
		return err
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return fmt.Errorf("malformed schema_version %q", v)
	}
	if n > SchemaVersion {
		return fmt.Errorf("database schema version %d is newer than this version of sqlstore supports (%d)", n, SchemaVersion)
	}
	// Migrations from n to SchemaVersion, one step per version; each
	// step's statements are idempotent, so a step interrupted (MySQL
	// commits every DDL statement on its own) runs again in full.
	for ; n < SchemaVersion; n++ {
		for _, stmt := range migrations[n-1](s.sql) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrating to schema version %d: %w", n+1, err)
			}
		}
		if _, err := db.ExecContext(ctx, s.q.updateSchemaVersion, []byte(strconv.Itoa(n+1))); err != nil {
			return err
		}
	}
	return nil
}

// migrations[i] brings schema version i+1 to i+2. Never change a released
// step: add one.
var migrations = []func(SQL) []string{
	// 1 to 2: retention, consent withdrawal, holds, erasure receipts and
	// the audit log (lifecycle.go).
	SQL.lifecycleSchema,
}

func (s *Store) migrateMySQL(ctx context.Context) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 30)`, mysqlLockName).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("timed out waiting for another process's migration (GET_LOCK)")
	}
	defer func() {
		var released sql.NullInt64
		rerr := conn.QueryRowContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, mysqlLockName).Scan(&released)
		if rerr != nil || released.Int64 != 1 {
			// The lock belongs to the session: drop the connection rather
			// than return it to the pool still holding the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		if err == nil && rerr != nil {
			err = rerr
		}
	}()
	if err := s.createSchema(ctx, conn); err != nil {
		return err
	}
	// Tables created by an earlier version of this package lack the
	// tombstone time index; add it once, still under the named lock.
	var n int
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.statistics
WHERE table_schema = DATABASE() AND table_name = 'fieldcrypt_subjects' AND index_name = ?`, forgottenIndex).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	_, err = conn.ExecContext(ctx, `ALTER TABLE fieldcrypt_subjects ADD INDEX `+forgottenIndex+` (forgotten_at)`)
	return err
}
