package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// TestWatch: a Watch on one Store reports a Forget made through another
// Store on the same database, ignores junk on the channel, and returns when
// its Store is closed.
func TestWatch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var open opener
			pgDSN := ""
			if b.name == "Postgres" {
				pgDSN = freshPostgresDSN(t)
				open = func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, pgDSN) }
			} else {
				open = b.fresh(t)
			}
			watched, err := open(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			other := mustOpen(t, open)
			reports := make(chan keystore.SubjectRef, 16)
			returned := make(chan error)
			go func() { returned <- watched.Watch(t.Context(), func(r keystore.SubjectRef) { reports <- r }) }()
			if pgDSN != "" {
				// Junk on the channel is ignored, not fatal.
				db, err := sql.Open("pgx", pgDSN)
				if err == nil {
					db.Exec(`SELECT pg_notify('fieldcrypt_forget.' || current_schema(), 'junk')`)
					db.Close()
				}
			}
			var subj keystore.SubjectRef
			rand.Read(subj[:])
			deadline := time.After(10 * time.Second)
			// Forget until reported: Watch may not be listening yet when
			// the first Forget commits (the catch-up query finds it anyway).
			if _, err := other.Forget(t.Context(), keystore.Tombstone{Subject: subj, ForgottenAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			for got := false; !got; {
				select {
				case r := <-reports:
					got = r == subj
				case <-deadline:
					t.Fatal("Forget through another Store was not reported within 10 s")
				}
			}
			if err := watched.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-returned:
				if err == nil {
					t.Fatal("Watch returned nil after Close, want an error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Watch still running 10 s after Close")
			}
		})
	}
}

func TestWithPollIntervalValidates(t *testing.T) {
	db, err := sql.Open("sqlite", t.TempDir()+"/keys.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlite.New(t.Context(), db, sqlstore.WithPollInterval(0)); err == nil {
		t.Fatal("New with a zero poll interval succeeded")
	}
}

// TestMySQLAddsForgottenIndex: a database created before the tombstone
// time index existed gets it on the next open.
func TestMySQLAddsForgottenIndex(t *testing.T) {
	dsn := freshMySQLDSN(t)
	s, err := mysql.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE fieldcrypt_subjects DROP INDEX fieldcrypt_subjects_forgotten`); err != nil {
		t.Fatal(err)
	}
	_ = mustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return mysql.Open(ctx, dsn) })
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE()
AND table_name = 'fieldcrypt_subjects' AND index_name = 'fieldcrypt_subjects_forgotten'`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("index count %d, %v; want the index re-created", n, err)
	}
}

// TestWatchClockAhead: a tombstone from a process whose clock runs an hour
// ahead must not hide the tombstones other processes write after it.
func TestWatchClockAhead(t *testing.T) {
	path := t.TempDir() + "/keys.db"
	open := func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.Open(ctx, path, sqlstore.WithPollInterval(20*time.Millisecond))
	}
	watched, other := mustOpen(t, open), mustOpen(t, open)
	reports := make(chan keystore.SubjectRef, 16)
	go watched.Watch(t.Context(), func(r keystore.SubjectRef) { reports <- r })
	expect := func(subj keystore.SubjectRef) {
		t.Helper()
		for deadline := time.After(5 * time.Second); ; {
			select {
			case r := <-reports:
				if r == subj {
					return
				}
			case <-deadline:
				t.Fatal("Forget not reported within 5 s")
			}
		}
	}
	var ahead, normal keystore.SubjectRef
	rand.Read(ahead[:])
	rand.Read(normal[:])
	if _, err := other.Forget(t.Context(), keystore.Tombstone{Subject: ahead, ForgottenAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	expect(ahead)
	if _, err := other.Forget(t.Context(), keystore.Tombstone{Subject: normal, ForgottenAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	expect(normal)
}

// TestWatchReportsDestroyVersions: on PostgreSQL a DestroyVersions through
// one Store is reported to the Watch of another, so that other processes
// evict the subject's keys within the watcher's latency rather than their
// cache MaxAge. (Polling stores do not report it; see Store.DestroyVersions.)
func TestWatchReportsDestroyVersions(t *testing.T) {
	dsn := freshPostgresDSN(t)
	open := func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, dsn) }
	watched, other := mustOpen(t, open), mustOpen(t, open)
	var subj keystore.SubjectRef
	var id keystore.KeyID
	rand.Read(subj[:])
	rand.Read(id[:])
	for v := int64(1); v <= 2; v++ {
		rec := keystore.KeyRecord{ID: id, Version: uint32(v), Subject: subj, Purpose: "default",
			Wrapped: []byte{1, 2, 3}, CreatedAt: time.Now().UTC()}
		if err := other.CreateKey(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	reports := make(chan keystore.SubjectRef, 64)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go watched.Watch(ctx, func(r keystore.SubjectRef) { reports <- r })
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// Again until reported: Watch may not be listening yet, and a
	// DestroyVersions leaves no tombstone for its catch-up to find.
	for {
		if _, err := other.DestroyVersions(t.Context(), id, 2); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reports:
			if r == subj {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatal("DestroyVersions through another Store was not reported within 10 s")
		}
	}
}
