package keys_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

var ctx = context.Background()

func newKMS(t *testing.T) keystore.KMS {
	t.Helper()
	k, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t *testing.T, cfg keys.Config) *keys.Keyring {
	t.Helper()
	if cfg.KMS == nil {
		cfg.KMS = newKMS(t)
	}
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	kr, err := keys.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type recorder struct {
	mu     sync.Mutex
	events []keys.Event
}

func (r *recorder) Audit(_ context.Context, e keys.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) types() []keys.EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []keys.EventType
	for _, e := range r.events {
		ts = append(ts, e.Type)
	}
	return ts
}

func TestCurrentCreatesOnceAndCaches(t *testing.T) {
	kr := open(t, keys.Config{})
	a, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Version() != 1 || a.Purpose() != keys.DefaultPurpose {
		t.Fatalf("second Current returned another key or version %d", b.Version())
	}
	st := kr.CacheStats()
	if st.Hits != 1 || st.Misses != 1 || st.Entries != 1 {
		t.Fatalf("cache stats = %+v, want 1 hit, 1 miss, 1 entry", st)
	}
	other, _ := kr.Current(ctx, "cust-1", "tokens")
	if other.ID() == a.ID() || other.Subject() != a.Subject() {
		t.Fatal("purposes must give distinct keys of the same subject")
	}
	byVersion, err := kr.KeyVersion(ctx, a.ID(), 1)
	if err != nil || byVersion != a {
		t.Fatalf("KeyVersion = %v, %v; want the cached key", byVersion, err)
	}
}

func TestKeysSurviveReopen(t *testing.T) {
	kms, store := newKMS(t), memstore.New()
	a, _ := open(t, keys.Config{KMS: kms, Store: store}).Current(ctx, "cust-1", "default")
	kr2 := open(t, keys.Config{KMS: kms, Store: store})
	b, err := kr2.Current(ctx, "cust-1", "default")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() || a.Version() != b.Version() {
		t.Fatal("a second keyring on the same keystore derived another key")
	}
	same := func(k *keys.Key) []byte {
		v, _ := keys.Derive(k, insecuresecretaccess.Token{}, "test/raw", func(s []byte) ([]byte, error) { return bytes.Clone(s), nil })
		return v
	}
	if !bytes.Equal(same(a), same(b)) {
		t.Fatal("a second keyring on the same keystore unwrapped other key material")
	}
}

func TestRootKeyMismatch(t *testing.T) {
	store := memstore.New()
	open(t, keys.Config{Store: store})
	_, err := keys.Open(ctx, keys.Config{KMS: newKMS(t), Store: store})
	if !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("Open with another root key: got %v, want ErrRootKeyMismatch", err)
	}
}

func TestOpenValidatesConfig(t *testing.T) {
	if _, err := keys.Open(ctx, keys.Config{Store: memstore.New()}); err == nil {
		t.Fatal("Open without KMS succeeded")
	}
	if _, err := keys.Open(ctx, keys.Config{KMS: newKMS(t)}); err == nil {
		t.Fatal("Open without Store succeeded")
	}
	if _, err := keys.Open(ctx, keys.Config{KMS: newKMS(t), Store: memstore.New(), CacheMaxAge: -time.Second}); err == nil {
		t.Fatal("Open with negative CacheMaxAge succeeded")
	}
}

func TestBadSubjectAndPurpose(t *testing.T) {
	kr := open(t, keys.Config{})
	for _, s := range []string{"", "\xff\xfe", strings.Repeat("x", keys.MaxSubjectLen+1)} {
		if _, err := kr.Current(ctx, s, "default"); !errors.Is(err, keys.ErrInvalidSubject) {
			t.Errorf("Current(%q): got %v, want ErrInvalidSubject", s, err)
		}
		if _, err := kr.Forget(ctx, s, ""); !errors.Is(err, keys.ErrInvalidSubject) {
			t.Errorf("Forget(%q): got %v, want ErrInvalidSubject", s, err)
		}
	}
	for _, p := range []string{"", "UPPER", ".dot", "a b", "é", strings.Repeat("p", 65)} {
		if _, err := kr.Current(ctx, "cust-1", p); !errors.Is(err, keys.ErrInvalidPurpose) {
			t.Errorf("Current(purpose %q): got %v, want ErrInvalidPurpose", p, err)
		}
		if _, err := kr.Rotate(ctx, "cust-1", p); !errors.Is(err, keys.ErrInvalidPurpose) {
			t.Errorf("Rotate(purpose %q): got %v, want ErrInvalidPurpose", p, err)
		}
	}
	if _, err := kr.Current(ctx, strings.Repeat("x", keys.MaxSubjectLen), "a.b_c-1"); err != nil {
		t.Errorf("longest subject and a purpose with punctuation: %v", err)
	}
	if _, err := kr.Forget(ctx, "cust-1", strings.Repeat("r", 257)); err == nil {
		t.Error("Forget with a 257-byte reason succeeded")
	}
	if _, err := kr.KeyVersion(ctx, keys.KeyID{1}, 0); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Errorf("KeyVersion 0: got %v, want ErrKeyNotFound", err)
	}
}

func TestCacheBounds(t *testing.T) {
	kr := open(t, keys.Config{CacheEntries: 2})
	for _, s := range []string{"a", "b", "c"} {
		if _, err := kr.Current(ctx, s, "default"); err != nil {
			t.Fatal(err)
		}
	}
	if st := kr.CacheStats(); st.Entries != 2 || st.Evictions != 1 {
		t.Fatalf("entry-bounded cache = %+v, want 2 entries, 1 eviction", st)
	}
	kr.Current(ctx, "a", "default") // evicted: miss
	if st := kr.CacheStats(); st.Misses != 4 {
		t.Fatalf("misses = %d, want 4 (least recently used entry evicted)", st.Misses)
	}

	aged := open(t, keys.Config{CacheMaxAge: time.Nanosecond})
	aged.Current(ctx, "a", "default")
	time.Sleep(10 * time.Millisecond)
	aged.Current(ctx, "a", "default")
	if st := aged.CacheStats(); st.Hits != 0 || st.Misses != 2 {
		t.Fatalf("age-bounded cache = %+v, want every lookup to miss", st)
	}

	off := open(t, keys.Config{CacheEntries: -1})
	off.Current(ctx, "a", "default")
	off.Current(ctx, "a", "default")
	if st := off.CacheStats(); st.Hits != 0 || st.Entries != 0 {
		t.Fatalf("disabled cache = %+v, want no hits or entries", st)
	}
}

func TestRotate(t *testing.T) {
	kr := open(t, keys.Config{})
	v1, _ := kr.Current(ctx, "cust-1", "default")
	v, err := kr.Rotate(ctx, "cust-1", "default")
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v", v, err)
	}
	cur, _ := kr.Current(ctx, "cust-1", "default")
	if cur.Version() != 2 || cur.ID() != v1.ID() {
		t.Fatalf("current after Rotate: version %d", cur.Version())
	}
	if old, err := kr.KeyVersion(ctx, v1.ID(), 1); err != nil || old.Version() != 1 {
		t.Fatalf("old version after Rotate: %v", err)
	}
	// Rotating a key never used creates version 1.
	if v, err := kr.Rotate(ctx, "cust-new", "default"); err != nil || v != 1 {
		t.Fatalf("Rotate of a new key = %d, %v; want 1", v, err)
	}
	// Concurrent rotations each add a version.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := kr.Rotate(ctx, "cust-1", "default"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if cur, _ := kr.Current(ctx, "cust-1", "default"); cur.Version() != 10 {
		t.Fatalf("after 8 concurrent rotations version = %d, want 10", cur.Version())
	}
}

func TestForgetDeniesAndAudits(t *testing.T) {
	rec := &recorder{}
	kr := open(t, keys.Config{Audit: rec})
	k, _ := kr.Current(ctx, "cust-1", "default")
	kr.Rotate(ctx, "cust-1", "default")
	ts, err := kr.Forget(ctx, "cust-1", "ticket-1")
	if err != nil || ts.Destroyed != 2 || ts.Reason != "ticket-1" {
		t.Fatalf("Forget = %+v, %v", ts, err)
	}
	if _, err := kr.Current(ctx, "cust-1", "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Current after Forget: %v", err)
	}
	if _, err := kr.KeyVersion(ctx, k.ID(), 1); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("KeyVersion after Forget: %v", err)
	}
	if _, err := kr.Rotate(ctx, "cust-1", "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Rotate after Forget: %v", err)
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket-2"); err != nil {
		t.Fatal(err)
	}
	st, err := kr.Status(ctx, "cust-1")
	if err != nil || !st.Forgotten || st.Tombstone.Reason != "ticket-1" || st.Subject != k.Subject() {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	want := []keys.EventType{keys.EventCreated, keys.EventRotated, keys.EventForgotten,
		keys.EventDenied, keys.EventDenied, keys.EventDenied, keys.EventForgotten}
	got := rec.types()
	if len(got) != len(want) {
		t.Fatalf("audit events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit events %v, want %v", got, want)
		}
	}
	if !rec.events[len(rec.events)-1].Repeated || rec.events[2].Repeated {
		t.Fatal("a repeated Forget must be audited as repeated, the first not")
	}
}

func TestSlogAuditorLeaksNoSubject(t *testing.T) {
	var buf bytes.Buffer
	kr := open(t, keys.Config{Audit: keys.NewSlogAuditor(slog.New(slog.NewJSONHandler(&buf, nil)))})
	// Letters beyond f, so hex references in the log cannot contain them by chance.
	subject := "zygmunt.wolny@przyklad.pl"
	kr.Current(ctx, subject, "default")
	kr.Rotate(ctx, subject, "default")
	kr.Forget(ctx, subject, "ticket-9")
	kr.Current(ctx, subject, "default")
	out := buf.String()
	if strings.Contains(out, "zygmunt") || strings.Contains(out, "przyklad") {
		t.Fatalf("audit log contains the subject:\n%s", out)
	}
	for _, w := range []string{`"event":"created"`, `"event":"rotated"`, `"event":"forgotten"`, `"event":"denied"`, `"reason":"ticket-9"`, `"subject_ref"`} {
		if !strings.Contains(out, w) {
			t.Fatalf("audit log lacks %s:\n%s", w, out)
		}
	}
}

// The keystore must never learn the subject identifier.
func TestStoreNeverSeesSubject(t *testing.T) {
	store := &spy{Store: memstore.New()}
	kr := open(t, keys.Config{Store: store})
	// The whole subject, not a few of its bytes: three bytes turn up in a
	// random 70-byte wrapped key about once in 250,000 runs.
	const subject = "ada.lovelace@example.com"
	kr.Current(ctx, subject, "default")
	kr.Forget(ctx, subject, "t")
	for _, r := range store.records {
		if bytes.Contains(r.Subject[:], []byte(subject[:16])) || bytes.Contains(r.Wrapped, []byte(subject[:8])) {
			t.Fatal("keystore record holds the subject")
		}
	}
	if len(store.records) != 1 {
		t.Fatalf("%d records created, want 1", len(store.records))
	}
}

type spy struct {
	keystore.Store
	records []keystore.KeyRecord
}

func (s *spy) CreateKey(ctx context.Context, r keystore.KeyRecord) error {
	s.records = append(s.records, r)
	return s.Store.CreateKey(ctx, r)
}

// failingStore fails every operation after Open, as an unreachable database would.
type failingStore struct{ keystore.Store }

var errDown = errors.New("database is down")

func (failingStore) LatestKey(context.Context, keys.KeyID) (keystore.KeyRecord, error) {
	return keystore.KeyRecord{}, errDown
}

func TestStoreErrorsAreReported(t *testing.T) {
	kr := open(t, keys.Config{Store: failingStore{memstore.New()}})
	_, err := kr.Current(ctx, "cust-1", "default")
	if !errors.Is(err, errDown) || errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Current with a failing store: got %v", err)
	}
}

func TestDeriveOncePerLabel(t *testing.T) {
	kr := open(t, keys.Config{})
	k, _ := kr.Current(ctx, "cust-1", "default")
	var calls atomic.Int32
	build := func(s []byte) (int, error) { calls.Add(1); return len(s), nil }
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			v, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/len", build)
			if err != nil || v != keys.KeySize {
				t.Error("Derive returned the wrong value")
			}
		})
	}
	wg.Wait()
	keys.Derive(k, insecuresecretaccess.Token{}, "test/other", build)
	if n := calls.Load(); n != 2 {
		t.Fatalf("build ran %d times, want once per label", n)
	}
	failing := func([]byte) (*int, error) { return nil, errDown }
	if _, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/fail", failing); !errors.Is(err, errDown) {
		t.Fatalf("failing build: %v", err)
	}
	// A failed build is not memoised: the next call builds again.
	v, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/fail", func([]byte) (*int, error) { n := 7; return &n, nil })
	if err != nil || *v != 7 {
		t.Fatalf("build after a failure: %v, %v", v, err)
	}
}

func TestDeriveWrongType(t *testing.T) {
	// A label derived as one type and asked for as another is a clear
	// error, never a panic, in both the lock-free and the locked path.
	kr := open(t, keys.Config{})
	k, _ := kr.Current(ctx, "cust-1", "default")
	if _, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/typed", func(s []byte) (int, error) { return len(s), nil }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/typed", func([]byte) (string, error) {
				t.Error("build ran for a label already derived")
				return "", nil
			})
			if err == nil || v != "" || !strings.Contains(err.Error(), `"test/typed"`) ||
				!strings.Contains(err.Error(), "int") || !strings.Contains(err.Error(), "string") {
				t.Errorf("wrong type: got %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	// An interface type the stored value implements is fine.
	v, err := keys.Derive(k, insecuresecretaccess.Token{}, "test/typed", func([]byte) (any, error) { return nil, nil })
	if err != nil || v != keys.KeySize {
		t.Fatalf("as any: %v, %v", v, err)
	}
}

// slowKMS takes delay for every Unwrap, like a remote KMS under load.
type slowKMS struct {
	keystore.KMS
	delay time.Duration
}

func (k slowKMS) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	time.Sleep(k.delay)
	return k.KMS.Unwrap(ctx, w, ad)
}

// TestCacheMaxAgeIncludesUnwrap: with a 400 ms unwrap and a 300 ms MaxAge
// a key must not be served from memory 400 ms after the keystore read that
// fetched it (a Forget could have happened right after that read).
func TestCacheMaxAgeIncludesUnwrap(t *testing.T) {
	kr := open(t, keys.Config{KMS: slowKMS{newKMS(t), 400 * time.Millisecond}, CacheMaxAge: 300 * time.Millisecond})
	k, err := kr.Current(ctx, "customer-1", "default")
	if err != nil {
		t.Fatal(err)
	}
	before := kr.CacheStats()
	if _, err := kr.KeyVersion(ctx, k.ID(), k.Version()); err != nil {
		t.Fatal(err)
	}
	if got := kr.CacheStats(); got.Hits != before.Hits {
		t.Fatalf("a key read from the keystore more than MaxAge ago was served from the cache (%+v → %+v)", before, got)
	}
}
