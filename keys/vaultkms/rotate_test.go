package vaultkms_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// faultyStore fails RewrapKey after the first n successful calls.
type faultyStore struct {
	*memstore.Store
	left atomic.Int64
}

var errInjected = errors.New("injected keystore failure")

func (s *faultyStore) RewrapKey(ctx context.Context, id keystore.KeyID, v uint32, old, new []byte) error {
	if s.left.Add(-1) < 0 {
		return errInjected
	}
	return s.Store.RewrapKey(ctx, id, v, old, new)
}

// snapshot copies a memstore, as a keystore backup would.
func snapshot(t testing.TB, s *memstore.Store) *memstore.Store {
	t.Helper()
	ctx := context.Background()
	cp := memstore.New()
	meta, err := s.Meta(ctx, vaultkms.CheckValueMeta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.InitMeta(ctx, vaultkms.CheckValueMeta, meta); err != nil {
		t.Fatal(err)
	}
	var cur keystore.KeyCursor
	for {
		recs, err := s.LiveKeys(ctx, cur, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := cp.CreateKey(ctx, r); err != nil {
				t.Fatal(err)
			}
			cur = keystore.KeyCursor{ID: r.ID, Version: r.Version}
		}
		if len(recs) < 1000 {
			return cp
		}
	}
}

// subjects returns the number of subject keys for the harness rotation
// test: FIELDCRYPT_VAULT_ROTATE_KEYS, else 10,000 (about 16 s on a 2-core
// machine), 2000 under -race, 200 with -short.
func subjects(t *testing.T) int {
	if v := os.Getenv("FIELDCRYPT_VAULT_ROTATE_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	switch {
	case testing.Short():
		return 200
	case raceEnabled:
		return 2000
	}
	return 10000
}

// TestRotateRoot rotates the Transit key, re-wraps every subject key under
// the new version with a failure injected half-way, resumes, checks every
// subject still decrypts, then disables the old version and checks that a
// keystore backup taken before the rotation unwraps nothing.
func TestRotateRoot(t *testing.T) {
	for _, b := range []struct {
		name string
		b    vaultkms.Binding
	}{{"Context", vaultkms.BindContext}, {"AssociatedData", vaultkms.BindAssociatedData}} {
		t.Run(b.name, func(t *testing.T) { testRotateRoot(t, b.b) })
	}
}

func testRotateRoot(t *testing.T, binding vaultkms.Binding) {
	ctx := context.Background()
	k := newKMS(t, binding, nil)
	n := subjects(t)
	if binding == vaultkms.BindAssociatedData {
		n = max(n/4, 50) // the same code path, twice the requests; keep the suite short
	}
	mem := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cts := make([][]byte, n)
	concurrently(t, n, func(i int) error {
		ct, err := ec.Encrypt(ctx, fmt.Sprintf("customer-%d", i), []byte(fmt.Sprintf("customer %d's email", i)), []byte(strconv.Itoa(i)))
		cts[i] = ct
		return err
	})
	t.Logf("%d subject keys created in %v", n, time.Since(start))
	backup := snapshot(t, mem)

	if err := k.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	latest, err := k.LatestVersion(ctx)
	if err != nil || latest != 2 {
		t.Fatalf("LatestVersion = %d, %v; want 2", latest, err)
	}

	store := &faultyStore{Store: mem}
	failAfter := n/2 + 7
	store.left.Store(int64(failAfter))
	var reports int
	opts := keys.RotateOptions{BatchSize: 100, Progress: func(done, total int, _ keystore.KeyCursor) {
		reports++
		if total != n || done > n {
			t.Errorf("progress %d/%d, want total %d", done, total, n)
		}
	}}
	start = time.Now()
	st, err := keys.RotateRoot(ctx, store, k, nil, opts)
	if !errors.Is(err, errInjected) {
		t.Fatalf("first run: %v, want the injected failure", err)
	}
	if st.Rewrapped != failAfter {
		t.Fatalf("first run re-wrapped %d, want %d", st.Rewrapped, failAfter)
	}
	// Half-way: every key is under v1 or v2, and all still decrypt.
	checkDecrypt(t, ctx, k, mem, cts, 10)

	store.left.Store(1 << 40)
	opts.After = st.Resume
	st2, err := keys.RotateRoot(ctx, store, k, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if st.Rewrapped+st2.Rewrapped != n || st2.Failed != 0 {
		t.Fatalf("re-wrapped %d + %d of %d (second run %+v)", st.Rewrapped, st2.Rewrapped, n, st2)
	}
	if reports == 0 {
		t.Fatal("no progress reported")
	}
	t.Logf("%d keys re-wrapped in %v (%.0f keys/s), %d progress reports", n, elapsed, float64(n)/elapsed.Seconds(), reports)

	// Every key, and the check value, is under version 2.
	recs, err := mem.LiveKeys(ctx, keystore.KeyCursor{}, n+1)
	if err != nil || len(recs) != n {
		t.Fatalf("LiveKeys: %d, %v", len(recs), err)
	}
	for _, r := range append(recs, keystore.KeyRecord{Wrapped: must(mem.Meta(ctx, vaultkms.CheckValueMeta))}) {
		if v, err := vaultkms.WrappedVersion(r.Wrapped); err != nil || v != 2 {
			t.Fatalf("a key is under version %d (%v) after rotation", v, err)
		}
	}

	// Disable version 1: the rotated keystore works, the backup does not.
	if st2.MinRootVersion != 2 {
		t.Fatalf("MinRootVersion %d, want 2", st2.MinRootVersion)
	}
	if err := k.SetMinDecryptionVersion(ctx, mem, st2.MinRootVersion); err != nil {
		t.Fatal(err)
	}
	checkDecrypt(t, ctx, k, mem, cts, n)
	if _, err := keys.Open(ctx, keys.Config{KMS: k, Store: backup}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("opening the pre-rotation backup = %v, want ErrRootKeyMismatch", err)
	}
	old, err := backup.LiveKeys(ctx, keystore.KeyCursor{}, n+1)
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]keystore.RewrapRequest, len(old))
	for i, r := range old {
		reqs[i] = keystore.RewrapRequest{Wrapped: r.Wrapped, AssociatedData: wrapAssociatedData(r.ID, r.Version)}
	}
	res, err := k.Rewrap(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !errors.Is(r.Err, keystore.ErrUnwrap) {
			t.Fatalf("a pre-rotation wrapped key still unwraps (err %v)", r.Err)
		}
	}
	if _, err := k.Unwrap(ctx, old[0].Wrapped, wrapAssociatedData(old[0].ID, old[0].Version)); !errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("Unwrap of a pre-rotation key = %v, want ErrUnwrap", err)
	}
}

// checkDecrypt opens a fresh Keyring on store and decrypts every step-th
// ciphertext (every one when step is len(cts)... or 1).
func checkDecrypt(t *testing.T, ctx context.Context, k keystore.KMS, store keystore.Store, cts [][]byte, count int) {
	t.Helper()
	kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	step := max(len(cts)/count, 1)
	idx := make([]int, 0, count)
	for i := 0; i < len(cts); i += step {
		idx = append(idx, i)
	}
	concurrently(t, len(idx), func(j int) error {
		i := idx[j]
		pt, err := ec.Decrypt(ctx, cts[i], []byte(strconv.Itoa(i)))
		if err != nil {
			return fmt.Errorf("subject %d: %w", i, err)
		}
		if string(pt) != fmt.Sprintf("customer %d's email", i) {
			return fmt.Errorf("subject %d: wrong plaintext", i)
		}
		return nil
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
