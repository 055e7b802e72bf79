// Package postgres opens a fieldcrypt keystore ([sqlstore.Store]) in
// PostgreSQL 9.5 or later, through the pgx driver (github.com/jackc/pgx/v5).
// It links no other database driver.
//
//	store, err := postgres.Open(ctx, "postgres://fieldcrypt@db:5432/app?sslmode=verify-full")
//	...
//	defer store.Close()
//	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// A Keyring on the Store hears every Forget, by any process, within a few
// milliseconds: Forget sends a NOTIFY in its transaction, and Watch LISTENs
// on one connection of the Store's pool (see package sqlstore for the
// channel, the payload and what happens when the connection is lost).
//
// Transactions that fail with a serialization failure (40001) or a
// deadlock (40P01) are retried; a unique violation (23505) is what
// keystore.ErrKeyExists is made of. Both are recognised in *pgconn.PgError,
// that is, only through pgx.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// ListenerApplicationName prefixes the application_name of the connection
// a Store's Watch listens on; the process ID follows it, as in
// "fieldcrypt-invalidation/4242", so that operators can tell listeners
// apart in pg_stat_activity.
const ListenerApplicationName = "fieldcrypt-invalidation"

// Open connects to PostgreSQL through pgx, for example with
// "postgres://user@host:5432/db?sslmode=verify-full", and creates the
// keystore's tables if needed. Tables are created in the first schema of
// the search_path (set it with a "search_path=..." DSN parameter). Close
// closes the pool. Errors never contain the DSN's password.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return sqlstore.New(ctx, stdlib.OpenDB(*cfg), dialect{}, append(opts, sqlstore.WithOwnedDB())...)
}

// New returns a Store on db, a pool the caller opened through pgx's
// database/sql driver (github.com/jackc/pgx/v5/stdlib: sql.Open("pgx", dsn)
// or stdlib.OpenDB; this package registers the "pgx" driver), creating the
// tables if needed. Close leaves db open.
// A db with another driver works, but its errors are not recognised (no
// retries) and Watch polls instead of listening.
//
// Most users won't need New: [Open] opens the pool itself.
func New(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	return sqlstore.New(ctx, db, dialect{}, opts...)
}

// dialect is PostgreSQL through pgx.
type dialect struct{}

var (
	_ sqlstore.Dialect  = dialect{}
	_ sqlstore.Listener = dialect{}
)

func (dialect) SQL() sqlstore.SQL { return sqlstore.Postgres }

func (dialect) Classify(err error) sqlstore.ErrorKind {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return sqlstore.OtherError
	}
	switch pe.Code {
	case "23505": // unique_violation
		return sqlstore.UniqueViolation
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return sqlstore.Retryable
	}
	return sqlstore.OtherError
}

// Listen implements sqlstore.Listener with LISTEN and pgx's
// WaitForNotification.
func (dialect) Listen(ctx context.Context, conn *sql.Conn, channel string, subscribed func() error, notify func(string)) error {
	isPgx := false
	if err := conn.Raw(func(dc any) error { _, isPgx = dc.(*stdlib.Conn); return nil }); err != nil {
		return err
	}
	if !isPgx {
		return fmt.Errorf("postgres: listen: the pool's driver is not pgx: %w", sqlstore.ErrNotSupported)
	}
	name := ListenerApplicationName + "/" + strconv.Itoa(os.Getpid())
	if _, err := conn.ExecContext(ctx, `SELECT set_config('application_name', $1, false)`, name); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	if err := subscribed(); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			notify(n.Payload)
		}
	})
}
