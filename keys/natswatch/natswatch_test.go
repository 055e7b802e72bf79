package natswatch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/natswatch"
)

// natsEnv names the NATS server (with JetStream) the tests use.
const natsEnv = "FIELDCRYPT_TEST_NATS_URL"

func natsURL(t testing.TB) string {
	u := os.Getenv(natsEnv)
	if u == "" {
		t.Skip(natsEnv + " not set; set it (e.g. nats://127.0.0.1:4222, a server started with -js) to run the NATS tests")
	}
	return u
}

// names returns a stream and subject of this test alone, and deletes the
// stream when the test ends.
func names(t testing.TB, url string) (stream, subject string) {
	b := make([]byte, 6)
	rand.Read(b)
	id := hex.EncodeToString(b)
	stream, subject = "FCTEST_"+id, "fctest."+id
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	return stream, subject
}

func newWatcher(t testing.TB, o natswatch.Options) *natswatch.Watcher {
	t.Helper()
	w, err := natswatch.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// watch runs w.Watch until the test ends and returns its reports.
func watch(t testing.TB, w *natswatch.Watcher) <-chan keystore.SubjectRef {
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan keystore.SubjectRef, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, func(r keystore.SubjectRef) {
			select {
			case reports <- r:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return reports
}

func await(t testing.TB, reports <-chan keystore.SubjectRef, want keystore.SubjectRef, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		select {
		case r := <-reports:
			if r == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("subject not reported within %v", within)
		}
	}
}

func awaitMode(t testing.TB, w *natswatch.Watcher, mode string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); w.Health().Mode != mode; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("mode %q after 15 s, want %q", w.Health().Mode, mode)
		}
	}
}

func newRef() keystore.SubjectRef {
	var r keystore.SubjectRef
	rand.Read(r[:])
	return r
}

// TestStreamDelivers: a Forgotten on one Watcher reaches the Watch of
// another one, over the stream alone (B's keystore holds nothing), and the
// event holds the reference and the time only.
func TestStreamDelivers(t *testing.T) {
	url := natsURL(t)
	stream, subject := names(t, url)
	o := natswatch.Options{URL: url, Stream: stream, Subject: subject, Store: memstore.New()}
	a := newWatcher(t, o)
	lags := make(chan time.Duration, 1)
	o.Metrics = &natswatch.Metrics{EventReceived: func(l time.Duration) { lags <- l }}
	b := newWatcher(t, o)
	reports := watch(t, b)
	awaitMode(t, b, natswatch.ModeStream)
	ref := newRef()
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := a.Forgotten(t.Context(), keystore.Tombstone{Subject: ref, ForgottenAt: at, Reason: "ticket-secret"}); err != nil {
		t.Fatal(err)
	}
	d := await(t, reports, ref, 5*time.Second)
	h := b.Health()
	if !h.Connected || h.Mode != natswatch.ModeStream || h.Events != 1 || h.LastEvent.IsZero() {
		t.Errorf("Health = %+v", h)
	}
	if a.Health().Published != 1 {
		t.Errorf("publisher Health = %+v", a.Health())
	}
	select {
	case l := <-lags:
		t.Logf("stream: reported after %v, lag %v; health %+v", d, l, h)
	case <-time.After(5 * time.Second):
		t.Error("Metrics.EventReceived not called")
	}

	// The raw message.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(t.Context(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(m.Data, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3 || fields["subject_ref"] != ref.String() || fields["forgotten_at"] != float64(at.UnixMicro()) {
		t.Fatalf("event %s; want v, subject_ref and forgotten_at only", m.Data)
	}
	info, _ := s.Info(t.Context())
	if info.Config.MaxAge != natswatch.DefaultMaxAge || info.Config.MaxMsgs != natswatch.DefaultMaxMsgs ||
		info.Config.Retention != jetstream.LimitsPolicy {
		t.Errorf("stream created with %+v", info.Config)
	}
}

// freePort returns a TCP port nothing listens on (at the time).
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPollsWithoutNATS: with no server at the URL, New still succeeds,
// Forgotten fails fast with ErrUnavailable, and Watch reports Forgets by
// polling the keystore.
func TestPollsWithoutNATS(t *testing.T) {
	store := memstore.New()
	url := "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	w := newWatcher(t, natswatch.Options{URL: url, Store: store, PollInterval: 20 * time.Millisecond})
	start := time.Now()
	err := w.Forgotten(t.Context(), keystore.Tombstone{Subject: newRef(), ForgottenAt: time.Now()})
	if !errors.Is(err, natswatch.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Forgotten without a server: %v after %v; want ErrUnavailable at once", err, time.Since(start))
	}
	if h := w.Health(); h.PublishFailures != 1 {
		t.Errorf("Health = %+v", h)
	}
	reports := watch(t, w)
	awaitMode(t, w, natswatch.ModePolling)
	ref := newRef()
	if _, err := store.Forget(t.Context(), keystore.Tombstone{Subject: ref, ForgottenAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := await(t, reports, ref, 5*time.Second)
	// The counters are updated right after the report: give them a moment.
	h := w.Health()
	for deadline := time.Now().Add(5 * time.Second); h.CaughtUp == 0 && time.Now().Before(deadline); h = w.Health() {
		time.Sleep(5 * time.Millisecond)
	}
	if h.Connected || h.CaughtUp == 0 || h.LastCatchUp.IsZero() {
		t.Errorf("Health = %+v", h)
	}
	t.Logf("polling (20 ms): reported after %v", d)
}

// TestDurableReplays: with a durable consumer, the events published while
// the process was not watching are delivered when it watches again.
func TestDurableReplays(t *testing.T) {
	url := natsURL(t)
	stream, subject := names(t, url)
	o := natswatch.Options{URL: url, Stream: stream, Subject: subject, Store: memstore.New(), Durable: "proc-1",
		// An event can reach the closed first Watcher's pull request, which
		// the server holds until it expires; it is redelivered after AckWait.
		AckWait: 2 * time.Second}
	pub := newWatcher(t, o)
	first := newWatcher(t, o)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); first.Watch(ctx, func(keystore.SubjectRef) {}) }()
	awaitMode(t, first, natswatch.ModeStream)
	cancel()
	<-done
	first.Close()
	ref := newRef()
	if err := pub.Forgotten(t.Context(), keystore.Tombstone{Subject: ref, ForgottenAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// "Restarted": a new Watcher with the same durable name.
	again := newWatcher(t, o)
	d := await(t, watch(t, again), ref, 15*time.Second)
	t.Logf("durable consumer replayed the missed event %v after restarting", d)
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []natswatch.Options{
		{},
		{Store: memstore.New(), PollInterval: -1},
		{Store: memstore.New(), MaxMsgs: -1},
	} {
		if _, err := natswatch.New(t.Context(), o); !errors.Is(err, natswatch.ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestClosed(t *testing.T) {
	w := newWatcher(t, natswatch.Options{URL: "nats://127.0.0.1:" + strconv.Itoa(freePort(t)), Store: memstore.New()})
	w.Close()
	if err := w.Watch(t.Context(), func(keystore.SubjectRef) {}); !errors.Is(err, natswatch.ErrClosed) {
		t.Errorf("Watch after Close: %v", err)
	}
	if err := w.Forgotten(t.Context(), keystore.Tombstone{Subject: newRef()}); !errors.Is(err, natswatch.ErrClosed) {
		t.Errorf("Forgotten after Close: %v", err)
	}
}
