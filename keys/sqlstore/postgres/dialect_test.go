package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want sqlstore.ErrorKind
	}{
		{&pgconn.PgError{Code: "23505"}, sqlstore.UniqueViolation},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), sqlstore.UniqueViolation},
		{&pgconn.PgError{Code: "40001"}, sqlstore.Retryable},
		{&pgconn.PgError{Code: "40P01"}, sqlstore.Retryable},
		{&pgconn.PgError{Code: "23503"}, sqlstore.OtherError}, // foreign_key_violation
		{errors.New("23505"), sqlstore.OtherError},
		{nil, sqlstore.OtherError},
	} {
		if got := (dialect{}).Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// otherDriver is a database/sql driver that is not pgx.
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return otherConn{}, nil }

type otherConn struct{}

func (otherConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not implemented") }
func (otherConn) Close() error                        { return nil }
func (otherConn) Begin() (driver.Tx, error)           { return nil, errors.New("not implemented") }

func init() { sql.Register("fieldcrypt-postgres-test-other", otherDriver{}) }

// TestListenOtherDriver: on a pool whose driver is not pgx, Listen reports
// ErrNotSupported without using the connection, so that Watch polls.
func TestListenOtherDriver(t *testing.T) {
	db, err := sql.Open("fieldcrypt-postgres-test-other", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	called := false
	err = (dialect{}).Listen(context.Background(), conn, "fieldcrypt_forget.public",
		func() error { called = true; return nil }, func(string) { called = true })
	if !errors.Is(err, sqlstore.ErrNotSupported) || called {
		t.Fatalf("Listen = %v (callbacks called: %v), want ErrNotSupported and no callback", err, called)
	}
}

// TestOpenErrorHidesPassword: a DSN pgx cannot parse is reported without
// its password.
func TestOpenErrorHidesPassword(t *testing.T) {
	_, err := Open(t.Context(), "postgres://fieldcrypt:hunter2@db:5432/app?sslmode=bogus")
	if err == nil {
		t.Fatal("Open with an invalid sslmode succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.HasPrefix(err.Error(), "postgres: open:") {
		t.Fatalf("error = %q, want a postgres: error without the password", err)
	}
}
