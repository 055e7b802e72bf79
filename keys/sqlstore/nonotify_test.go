package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
)

// awaitReport forgets a fresh subject through other and waits until watched's
// Watch reports it.
func awaitReport(t *testing.T, watched, other *sqlstore.Store) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	reports := make(chan keystore.SubjectRef, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watched.Watch(ctx, func(r keystore.SubjectRef) {
			select {
			case reports <- r:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(200 * time.Millisecond) // let Watch start; a Forget before is found too
	var subj keystore.SubjectRef
	rand.Read(subj[:])
	start := time.Now()
	if _, err := other.Forget(t.Context(), keystore.Tombstone{Subject: subj, ForgottenAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-reports:
			if r == subj {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatal("Forget through another Store was not reported within 10 s")
		}
	}
}

// listeners counts the listening connections of this process.
func listeners(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	name := postgres.ListenerApplicationName + "/" + strconv.Itoa(os.Getpid())
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWithoutNotify: on PostgreSQL with WithoutNotify, Forget sends no
// NOTIFY and Watch polls: it opens no listening connection and still
// reports a Forget within about the poll interval.
func TestWithoutNotify(t *testing.T) {
	dsn := freshPostgresDSN(t)
	opts := []sqlstore.Option{sqlstore.WithoutNotify(), sqlstore.WithPollInterval(50 * time.Millisecond)}
	watched, err := postgres.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer watched.Close()
	other, err := postgres.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d := awaitReport(t, watched, other)
	if n := listeners(t, dsn); n != 0 {
		t.Errorf("%d listening connections with WithoutNotify, want 0", n)
	}
	t.Logf("WithoutNotify: reported after %v (poll interval 50 ms)", d)
}

// fakePgError is what a PostgreSQL-compatible server without LISTEN returns.
type fakePgError struct{}

func (fakePgError) Error() string    { return "ERROR: unimplemented: LISTEN (SQLSTATE 0A000)" }
func (fakePgError) SQLState() string { return "0A000" }

type refusingListener struct{}

func (refusingListener) Listen(ctx context.Context, conn *sql.Conn, channel string, subscribed func() error, notify func(string)) error {
	return fakePgError{}
}

// syncBuffer is a bytes.Buffer safe for the log handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestListenNotSupportedPolls: when the server refuses LISTEN with SQLSTATE
// 0A000 (injected here), Watch polls by itself, logs that once per Store,
// and still reports Forgets.
func TestListenNotSupportedPolls(t *testing.T) {
	dsn := freshPostgresDSN(t)
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)
	defer sqlstore.SetListenHook(func(sqlstore.Listener) sqlstore.Listener { return refusingListener{} })()
	watched, err := postgres.Open(t.Context(), dsn, sqlstore.WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer watched.Close()
	other, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d1 := awaitReport(t, watched, other)
	d2 := awaitReport(t, watched, other) // a second Watch on the Store: no second log line
	if n := strings.Count(logs.String(), "SQLSTATE 0A000"); n != 1 {
		t.Errorf("logged the fallback %d times, want once:\n%s", n, logs.String())
	}
	t.Logf("LISTEN refused (0A000): polling reported after %v and %v; log: %s", d1, d2, strings.TrimSpace(logs.String()))
}
