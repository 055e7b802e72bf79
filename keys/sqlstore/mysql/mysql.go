// Package mysql opens a fieldcrypt keystore ([sqlstore.Store]) in MySQL
// 5.7+ or MariaDB 10.3+ (InnoDB), through github.com/go-sql-driver/mysql.
// It links no other database driver.
//
//	store, err := mysql.Open(ctx, "fieldcrypt:password@tcp(db:3306)/app")
//	...
//	defer store.Close()
//	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
//
// MySQL has no notifications: a Keyring on the Store hears a Forget made by
// another process by polling the tombstones, every 250 ms by default
// (sqlstore.WithPollInterval). Transactions that fail with a deadlock
// (1213) are retried; a duplicate key (1062) is what keystore.ErrKeyExists is
// made of.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

// Open connects to MySQL or MariaDB through go-sql-driver/mysql, for
// example with "user:password@tcp(host:3306)/db", and creates the
// keystore's tables if needed. Times are stored as integers, so parseTime
// is not needed. Close closes the pool. Errors never contain the DSN's
// password.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql: open: %w", err)
	}
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: open: %w", err)
	}
	return sqlstore.New(ctx, sql.OpenDB(conn), dialect{}, append(opts, sqlstore.WithOwnedDB())...)
}

// New returns a Store on db, a pool the caller opened through
// go-sql-driver/mysql (sql.Open("mysql", dsn); this package registers the
// "mysql" driver), creating the tables if needed. Close leaves db open. A db with another driver works, but its
// errors are not recognised (no retries after a deadlock).
//
// Most users won't need New: [Open] opens the pool itself.
func New(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	return sqlstore.New(ctx, db, dialect{}, opts...)
}

// dialect is MySQL or MariaDB through go-sql-driver/mysql.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) SQL() sqlstore.SQL { return sqlstore.MySQL }

func (dialect) Classify(err error) sqlstore.ErrorKind {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return sqlstore.OtherError
	}
	switch me.Number {
	case 1062: // ER_DUP_ENTRY
		return sqlstore.UniqueViolation
	case 1213: // ER_LOCK_DEADLOCK
		return sqlstore.Retryable
	}
	return sqlstore.OtherError
}
