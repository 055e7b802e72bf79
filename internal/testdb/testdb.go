// Package testdb gives fieldcrypt's tests a fresh, empty database on the
// PostgreSQL and MySQL/MariaDB servers named by environment variables, and
// drops it when the test ends. A test whose variable is unset is skipped
// with a message naming it; .ci/run sets both so the suites always run in CI.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// The environment variables naming the test servers.
const (
	PostgresEnv = "FIELDCRYPT_TEST_POSTGRES_DSN" // e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	MySQLEnv    = "FIELDCRYPT_TEST_MYSQL_DSN"    // e.g. root@tcp(127.0.0.1:3306)/test
)

// Name returns a random schema or database name, fc_<16 hex digits>.
func Name(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "fc_" + hex.EncodeToString(b)
}

// PostgresDSN returns the DSN of a new, empty schema (selected through
// search_path) on the server PostgresEnv names, dropped when t ends.
func PostgresDSN(t testing.TB) string {
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skip(PostgresEnv + " not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := Name(t)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	// Append rather than re-encode the query: pgx does not read '+' as a space.
	switch {
	case !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://"):
		return dsn + " search_path=" + schema
	case strings.Contains(dsn, "?"):
		return dsn + "&search_path=" + schema
	default:
		return dsn + "?search_path=" + schema
	}
}

// MySQLConfig returns the configuration of a new, empty database on the
// server MySQLEnv names, dropped when t ends.
func MySQLConfig(t testing.TB) *mysql.Config {
	dsn := os.Getenv(MySQLEnv)
	if dsn == "" {
		t.Skip(MySQLEnv + " not set; set it (e.g. root@tcp(127.0.0.1:3306)/test) to run the MySQL/MariaDB tests")
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := Name(t)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE ` + name); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return cfg
}

// MySQLDSN is MySQLConfig formatted as a DSN.
func MySQLDSN(t testing.TB) string { return MySQLConfig(t).FormatDSN() }
