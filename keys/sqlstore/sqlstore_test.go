package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/testdb"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

const (
	postgresEnv = "FIELDCRYPT_TEST_POSTGRES_DSN"
	mysqlEnv    = "FIELDCRYPT_TEST_MYSQL_DSN"
)

// An opener opens a Store on one database prepared for one test; every call
// opens the same database through a new *sql.DB, as another process would.
type opener func(ctx context.Context) (*sqlstore.Store, error)

type backend struct {
	name string
	// fresh returns an opener for a new, empty database, dropped when t ends.
	fresh func(t *testing.T) opener
}

var backends = []backend{
	{"SQLite", freshSQLite},
	{"Postgres", freshPostgres},
	{"MySQL", freshMySQL},
}

func freshSQLite(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "keys.db")
	return func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) }
}

// freshPostgresDSN and freshMySQLDSN return DSNs of new, empty databases.
var (
	freshPostgresDSN = func(t *testing.T) string { return testdb.PostgresDSN(t) }
	freshMySQLDSN    = func(t *testing.T) string { return testdb.MySQLDSN(t) }
)

func freshPostgres(t *testing.T) opener {
	dsn := freshPostgresDSN(t)
	return func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, dsn) }
}

func freshMySQL(t *testing.T) opener {
	dsn := freshMySQLDSN(t)
	return func(ctx context.Context) (*sqlstore.Store, error) { return mysql.Open(ctx, dsn) }
}

func mustOpen(t *testing.T, open opener) *sqlstore.Store {
	t.Helper()
	s, err := open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunStoreTests(t, func(t *testing.T) keystore.Store { return mustOpen(t, b.fresh(t)) })
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			first := mustOpen(t, open)
			if _, err := first.InitMeta(t.Context(), "check", []byte("v")); err != nil {
				t.Fatal(err)
			}
			second := mustOpen(t, open)
			got, err := second.InitMeta(t.Context(), "check", []byte("other"))
			if err != nil || string(got) != "v" {
				t.Fatalf("second open: InitMeta = %q, %v; want the first store's value", got, err)
			}
		})
	}
}

func TestConcurrentMigrate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			const n = 4
			stores := make([]*sqlstore.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { stores[i], errs[i] = open(t.Context()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("concurrent open %d: %v", i, err)
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			var subj keystore.SubjectRef
			rand.Read(subj[:])
			if _, err := stores[0].Forget(t.Context(), keystore.Tombstone{Subject: subj, ForgottenAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			for i, s := range stores {
				if _, err := s.Tombstone(t.Context(), subj); err != nil {
					t.Fatalf("store %d: Tombstone: %v", i, err)
				}
			}
		})
	}
}

// TestSharedDatabase uses two Stores on one database, as two processes
// would, and checks that a Forget through one is seen through the other.
func TestSharedDatabase(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			open := b.fresh(t)
			a, other := mustOpen(t, open), mustOpen(t, open)
			var subj keystore.SubjectRef
			var id keystore.KeyID
			rand.Read(subj[:])
			rand.Read(id[:])
			now := time.Now().UTC().Truncate(time.Microsecond)
			rec := keystore.KeyRecord{ID: id, Version: 1, Subject: subj, Purpose: "default", Wrapped: []byte("wrapped"), CreatedAt: now}
			if err := a.CreateKey(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if got, err := other.LatestKey(ctx, id); err != nil || string(got.Wrapped) != "wrapped" {
				t.Fatalf("other LatestKey = %q, %v", got.Wrapped, err)
			}
			ts, err := other.Forget(ctx, keystore.Tombstone{Subject: subj, ForgottenAt: now, Reason: "ticket"})
			if err != nil || ts.Destroyed != 1 {
				t.Fatalf("other Forget = %+v, %v; want 1 destroyed", ts, err)
			}
			got, err := a.GetKey(ctx, id, 1)
			if !errors.Is(err, keystore.ErrKeyDestroyed) || got.Wrapped != nil {
				t.Fatalf("GetKey after other's Forget = %q, %v; want ErrKeyDestroyed", got.Wrapped, err)
			}
			if !got.DestroyedAt.Equal(now) {
				t.Fatalf("DestroyedAt = %v, want %v", got.DestroyedAt, now)
			}
			rec.Version = 2
			if err := a.CreateKey(ctx, rec); !errors.Is(err, keystore.ErrKeyDestroyed) {
				t.Fatalf("CreateKey after other's Forget: %v, want ErrKeyDestroyed", err)
			}
			if ts, err := a.Tombstone(ctx, subj); err != nil || ts.Reason != "ticket" || ts.Destroyed != 1 {
				t.Fatalf("Tombstone = %+v, %v", ts, err)
			}
		})
	}
}

func TestSQLiteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s := mustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) })
	if _, err := s.InitMeta(t.Context(), "n", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// The -wal and -shm files exist while the database is open.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestSQLiteBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "keys.db")
	_, err := sqlite.Open(t.Context(), path)
	if err == nil {
		t.Fatal("sqlite.Open in a missing directory succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "sqlite: open:") {
		t.Fatalf("error = %q, want a sqlite error wrapping fs.ErrNotExist", err)
	}
	for _, bad := range []string{"", ":memory:", "file:keys.db", "keys.db?mode=ro"} {
		if _, err := sqlite.Open(t.Context(), bad); err == nil {
			t.Errorf("sqlite.Open(%q) succeeded", bad)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE fieldcrypt_meta SET value = ? WHERE name = 'schema_version'`, []byte(strconv.Itoa(sqlstore.SchemaVersion+1))); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("sqlite.Open of a newer schema: %v, want an error", err)
	}
}

// badDialect speaks no SQL variant the Store knows.
type badDialect struct{}

func (badDialect) SQL() sqlstore.SQL                 { return 0 }
func (badDialect) Classify(error) sqlstore.ErrorKind { return sqlstore.OtherError }

func TestNewValidates(t *testing.T) {
	if _, err := sqlite.New(t.Context(), nil); err == nil {
		t.Error("New with nil db succeeded")
	}
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlstore.New(t.Context(), db, nil); err == nil {
		t.Error("New with a nil Dialect succeeded")
	}
	if _, err := sqlstore.New(t.Context(), db, badDialect{}); err == nil {
		t.Error("New with an unknown SQL variant succeeded")
	}
	s, err := sqlite.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("Close closed the caller's *sql.DB: %v", err)
	}
}

// TestWithOwnedDB: a Store given its *sql.DB closes it, also when New
// fails.
func TestWithOwnedDB(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.New(t.Context(), db, sqlstore.WithOwnedDB())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err == nil {
		t.Fatal("Close left an owned *sql.DB open")
	}
	db, err = sql.Open("sqlite", filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.New(t.Context(), db, badDialect{}, sqlstore.WithOwnedDB()); err == nil {
		t.Fatal("New with an unknown SQL variant succeeded")
	}
	if err := db.Ping(); err == nil {
		t.Fatal("a failed New left an owned *sql.DB open")
	}
}

func TestLimits(t *testing.T) {
	s := mustOpen(t, freshSQLite(t))
	ctx := t.Context()
	rec := keystore.KeyRecord{Version: 1, Purpose: strings.Repeat("p", keys.MaxPurposeLen+1), Wrapped: []byte{1}}
	if err := s.CreateKey(ctx, rec); !errors.Is(err, keys.ErrInvalidPurpose) {
		t.Errorf("CreateKey with a long purpose: %v, want ErrInvalidPurpose", err)
	}
	rec.Purpose, rec.Wrapped = "default", make([]byte, sqlstore.MaxWrappedLen+1)
	if err := s.CreateKey(ctx, rec); err == nil {
		t.Error("CreateKey with an oversized wrapped key succeeded")
	}
	if _, err := s.InitMeta(ctx, strings.Repeat("n", sqlstore.MaxMetaNameLen+1), nil); err == nil {
		t.Error("InitMeta with a long name succeeded")
	}
	if _, err := s.Forget(ctx, keystore.Tombstone{Reason: strings.Repeat("r", sqlstore.MaxReasonLen+1)}); err == nil {
		t.Error("Forget with a long reason succeeded")
	}
}

// TestSQLiteForgetLeavesNoMaterialOnDisk reads the database file and its
// write-ahead log after Forget: the wrapped key's bytes must be gone from
// both, not merely marked deleted.
func TestSQLiteForgetLeavesNoMaterialOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var subject keystore.SubjectRef
	var id keystore.KeyID
	rand.Read(subject[:])
	rand.Read(id[:])
	wrapped := make([]byte, 61)
	rand.Read(wrapped)
	rec := keystore.KeyRecord{ID: id, Version: 1, Subject: subject, Purpose: "default", Wrapped: wrapped,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.CreateKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	onDisk := func() bool {
		found := false
		for _, f := range []string{path, path + "-wal"} {
			data, err := os.ReadFile(f)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			found = found || bytes.Contains(data, wrapped)
		}
		return found
	}
	if !onDisk() {
		t.Fatal("wrapped key not found on disk before Forget: the test would prove nothing")
	}
	if _, err := s.Forget(ctx, keystore.Tombstone{Subject: subject, ForgottenAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if onDisk() {
		t.Fatal("wrapped key material still on disk after Forget")
	}
}

func TestVersionDestroyer(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			keystest.RunVersionDestroyerTests(t, func(t *testing.T) keystore.VersionDestroyer { return mustOpen(t, b.fresh(t)) })
		})
	}
}
