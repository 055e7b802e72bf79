package keys_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func rotLocalKMS(t testing.TB) *localkms.KMS {
	t.Helper()
	k, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rotFaultyKMS fails Wrap after the first n calls.
type rotFaultyKMS struct {
	keystore.KMS
	left atomic.Int64
}

var errRotInjected = errors.New("injected KMS failure")

func (k *rotFaultyKMS) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if k.left.Add(-1) < 0 {
		return nil, errRotInjected
	}
	return k.KMS.Wrap(ctx, pt, ad)
}

// rotSnapshot copies a memstore, as a keystore backup would.
func rotSnapshot(t testing.TB, s *memstore.Store) *memstore.Store {
	t.Helper()
	c := context.Background()
	cp := memstore.New()
	meta, err := s.Meta(c, keys.IDKeyMetaName)
	if err != nil {
		t.Fatal(err)
	}
	cp.InitMeta(c, keys.IDKeyMetaName, meta)
	recs, err := s.LiveKeys(c, keys.KeyCursor{}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := cp.CreateKey(c, r); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

// TestRotateRoot10000 moves 10,000 subject keys from one root key to
// another with a KMS failure injected half-way, resumes, and checks that
// every subject decrypts under the new root key and that a backup taken
// before the rotation is useless once the old root key is gone.
func TestRotateRoot10000(t *testing.T) {
	c := context.Background()
	n := 10000
	if testing.Short() {
		n = 1000
	}
	oldRoot, newRoot := rotLocalKMS(t), rotLocalKMS(t)
	store := memstore.New()
	kr, err := keys.Open(c, keys.Config{KMS: oldRoot, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	cts := make([][]byte, n)
	for i := range cts {
		if cts[i], err = ec.Encrypt(c, "customer-"+strconv.Itoa(i), []byte("email of "+strconv.Itoa(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	forgotten := 3
	for i := range forgotten {
		if _, err := kr.Forget(c, "customer-"+strconv.Itoa(i), "ticket"); err != nil {
			t.Fatal(err)
		}
	}
	live := n - forgotten
	backup := rotSnapshot(t, store)

	faulty := &rotFaultyKMS{KMS: newRoot}
	faulty.left.Store(int64(live / 2))
	var last struct{ done, total int }
	opts := keys.RotateOptions{BatchSize: 500, Progress: func(done, total int, _ keys.KeyCursor) {
		if done < last.done || total != live {
			t.Errorf("progress %d/%d after %d", done, total, last.done)
		}
		last.done, last.total = done, total
	}}
	st, err := keys.RotateRoot(c, store, oldRoot, faulty, opts)
	if !errors.Is(err, errRotInjected) {
		t.Fatalf("first run: %v, want the injected failure", err)
	}
	// The check value is wrapped first, so half-way the keystore already
	// opens only under the new root key; the old root still unwraps the
	// keys not yet rotated, and nothing was lost.
	if st.Rewrapped != live/2-1 {
		t.Fatalf("first run re-wrapped %d, want %d", st.Rewrapped, live/2-1)
	}

	faulty.left.Store(1 << 40)
	opts.After = st.Resume
	last.done = 0
	st2, err := keys.RotateRoot(c, store, oldRoot, faulty, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewrapped+st2.Rewrapped != live || last.done != st2.Rewrapped {
		t.Fatalf("re-wrapped %d + %d, want %d (progress %d)", st.Rewrapped, st2.Rewrapped, live, last.done)
	}

	kr2, err := keys.Open(c, keys.Config{KMS: newRoot, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ec2, _ := envelope.New(kr2)
	for i, ct := range cts {
		pt, err := ec2.Decrypt(c, ct, nil)
		if i < forgotten {
			if !errors.Is(err, keys.ErrKeyDestroyed) {
				t.Fatalf("forgotten subject %d: %v", i, err)
			}
			continue
		}
		if err != nil || string(pt) != "email of "+strconv.Itoa(i) {
			t.Fatalf("subject %d after rotation: %q, %v", i, pt, err)
		}
	}
	// The old root key is destroyed: only newRoot exists now. The backup
	// does not open under it, and its keys do not unwrap.
	if _, err := keys.Open(c, keys.Config{KMS: newRoot, Store: backup}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("backup under the new root key: %v, want ErrRootKeyMismatch", err)
	}
	old, _ := backup.LiveKeys(c, keys.KeyCursor{}, 10)
	for _, r := range old {
		if _, err := newRoot.Unwrap(c, r.Wrapped, keys.WrapAssociatedData(r.ID, r.Version)); !errors.Is(err, keystore.ErrUnwrap) {
			t.Fatalf("backup key under the new root: %v", err)
		}
	}
	if _, err := keys.Open(c, keys.Config{KMS: oldRoot, Store: store}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("rotated keystore under the old root key: %v, want ErrRootKeyMismatch", err)
	}

	// Idempotent: running it again from the start re-wraps everything again.
	st3, err := keys.RotateRoot(c, store, newRoot, nil, keys.RotateOptions{})
	if err != nil || st3.Rewrapped != live {
		t.Fatalf("second rotation: %+v, %v", st3, err)
	}
}

// forgetDuringRotation forgets the subject of the first key RotateRoot
// tries to replace, just before it does.
type forgetDuringRotation struct {
	*memstore.Store
	once atomic.Bool
}

func (s *forgetDuringRotation) RewrapKey(c context.Context, id keys.KeyID, v uint32, old, new []byte) error {
	if s.once.CompareAndSwap(false, true) {
		rec, err := s.GetKey(c, id, v)
		if err != nil {
			return err
		}
		s.Forget(c, keys.Tombstone{Subject: rec.Subject, Reason: "race"})
	}
	return s.Store.RewrapKey(c, id, v, old, new)
}

func TestRotateRootRaces(t *testing.T) {
	c := context.Background()
	oldRoot, newRoot := rotLocalKMS(t), rotLocalKMS(t)
	mem := memstore.New()
	kr, err := keys.Open(c, keys.Config{KMS: oldRoot, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := kr.Current(c, fmt.Sprint("s", i), keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	// A key that does not unwrap under the old root key is left alone.
	junk := keystore.KeyRecord{Version: 1, Purpose: "default", Wrapped: []byte("not a wrapped key")}
	junk.ID[0], junk.Subject[0] = 0xff, 0xff
	if err := mem.CreateKey(c, junk); err != nil {
		t.Fatal(err)
	}
	st, err := keys.RotateRoot(c, &forgetDuringRotation{Store: mem}, oldRoot, newRoot, keys.RotateOptions{BatchSize: 7})
	if !errors.Is(err, keystore.ErrUnwrap) {
		t.Fatalf("RotateRoot = %v, want ErrUnwrap for the junk key", err)
	}
	if st.Total != 21 || st.Skipped != 1 || st.Failed != 1 || st.Rewrapped != 19 {
		t.Fatalf("stats %+v, want 21 total, 19 re-wrapped, 1 skipped, 1 failed", st)
	}
	got, err := mem.GetKey(c, junk.ID, 1)
	if err != nil || string(got.Wrapped) != "not a wrapped key" {
		t.Fatalf("junk key changed: %q, %v", got.Wrapped, err)
	}
	if n, _ := mem.CountLiveKeys(c); n != 20 {
		t.Fatalf("%d live keys, want 20 (the forgotten one stays forgotten)", n)
	}
	// Rotating with the wrong old root key touches nothing.
	if _, err := keys.RotateRoot(c, mem, rotLocalKMS(t), rotLocalKMS(t), keys.RotateOptions{}); !errors.Is(err, keys.ErrRootKeyMismatch) {
		t.Fatalf("RotateRoot from a wrong root key = %v, want ErrRootKeyMismatch", err)
	}
}

func TestWrapAssociatedDataMatchesKeyring(t *testing.T) {
	// A key re-wrapped with WrapAssociatedData must unwrap in a Keyring:
	// TestRotateRoot10000 shows it end to end; this pins the bytes.
	var id keys.KeyID
	for i := range id {
		id[i] = byte(i)
	}
	got := keys.WrapAssociatedData(id, 0x01020304)
	want := append(append([]byte("fieldcrypt/key/v1\x00"), id[:]...), 1, 2, 3, 4)
	if string(got) != string(want) {
		t.Fatalf("WrapAssociatedData = %q", got)
	}
}

// TestRotateRootRestartFromScratch interrupts a rotation and runs it again
// from the start instead of resuming: keys already under the new root key
// are recognised and skipped.
func TestRotateRootRestartFromScratch(t *testing.T) {
	c := context.Background()
	oldRoot, newRoot := rotLocalKMS(t), rotLocalKMS(t)
	mem := memstore.New()
	kr, err := keys.Open(c, keys.Config{KMS: oldRoot, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := kr.Current(c, fmt.Sprint("s", i), keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	faulty := &rotFaultyKMS{KMS: newRoot}
	faulty.left.Store(21) // the check value and 20 keys
	st, err := keys.RotateRoot(c, mem, oldRoot, faulty, keys.RotateOptions{BatchSize: 8})
	if !errors.Is(err, errRotInjected) || st.Rewrapped != 20 {
		t.Fatalf("first run: %+v, %v", st, err)
	}
	st, err = keys.RotateRoot(c, mem, oldRoot, newRoot, keys.RotateOptions{BatchSize: 8})
	if err != nil || st.Rewrapped != 30 || st.Skipped != 20 {
		t.Fatalf("second run: %+v, %v; want 30 re-wrapped, 20 skipped", st, err)
	}
	kr2, err := keys.Open(c, keys.Config{KMS: newRoot, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := kr2.Current(c, fmt.Sprint("s", i), keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
}

// versionedKMS is a root key with versions, as Vault Transit's: it wraps
// under the newest version, unwraps under any, and its wrapped values
// start with the version byte.
type versionedKMS struct {
	mu       sync.Mutex
	versions []*localkms.KMS
}

var (
	_ keystore.KMS           = (*versionedKMS)(nil)
	_ keystore.RootVersioner = (*versionedKMS)(nil)
)

func newVersionedKMS(t testing.TB) *versionedKMS {
	k := &versionedKMS{}
	k.rotate(t)
	return k
}

func (k *versionedKMS) rotate(t testing.TB) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.versions = append(k.versions, rotLocalKMS(t))
}

func (k *versionedKMS) latest() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.versions)
}

func (k *versionedKMS) wrapUnder(c context.Context, v int, pt, ad []byte) ([]byte, error) {
	k.mu.Lock()
	root := k.versions[v-1]
	k.mu.Unlock()
	w, err := root.Wrap(c, pt, ad)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(v)}, w...), nil
}

func (k *versionedKMS) Wrap(c context.Context, pt, ad []byte) ([]byte, error) {
	return k.wrapUnder(c, k.latest(), pt, ad)
}

func (k *versionedKMS) Unwrap(c context.Context, w, ad []byte) ([]byte, error) {
	v, err := k.WrappedVersion(w)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	root := k.versions[v-1]
	k.mu.Unlock()
	return root.Unwrap(c, w[1:], ad)
}

func (k *versionedKMS) WrappedVersion(w []byte) (int, error) {
	if len(w) == 0 || int(w[0]) < 1 || int(w[0]) > k.latest() {
		return 0, fmt.Errorf("test KMS: %w: not a wrapped value", keystore.ErrUnwrap)
	}
	return int(w[0]), nil
}

// storedMinVersion reads the lowest version among the check value and the
// live keys of store.
func storedMinVersion(t *testing.T, store keystore.RotatableStore, k *versionedKMS) int {
	t.Helper()
	c := context.Background()
	meta, err := store.Meta(c, keys.IDKeyMetaName)
	if err != nil {
		t.Fatal(err)
	}
	low := must(k.WrappedVersion(meta))
	recs, err := store.LiveKeys(c, keys.KeyCursor{}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if v, err := k.WrappedVersion(r.Wrapped); err == nil {
			low = min(low, v)
		}
	}
	return low
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// versionedKeystore opens a keystore under k with n subject keys.
func versionedKeystore(t *testing.T, k keystore.KMS, n int) *memstore.Store {
	t.Helper()
	c := context.Background()
	mem := memstore.New()
	kr, err := keys.Open(c, keys.Config{KMS: k, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := kr.Current(c, fmt.Sprint("s", i), keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

// TestRotateRootMinRootVersion rotates the root key again while RotateRoot
// runs: the keys and check value re-wrapped before are under the older
// version, and MinRootVersion says so.
func TestRotateRootMinRootVersion(t *testing.T) {
	c := context.Background()
	k := newVersionedKMS(t)
	mem := versionedKeystore(t, k, 20)
	k.rotate(t) // v2
	rotated := false
	st, err := keys.RotateRoot(c, mem, k, nil, keys.RotateOptions{BatchSize: 5, Progress: func(int, int, keys.KeyCursor) {
		if !rotated {
			rotated = true
			k.rotate(t) // v3, as auto-rotation would
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st.MinRootVersion != 2 || storedMinVersion(t, mem, k) != 2 {
		t.Fatalf("MinRootVersion %d (stored: %d), want 2", st.MinRootVersion, storedMinVersion(t, mem, k))
	}
	st, err = keys.RotateRoot(c, mem, k, nil, keys.RotateOptions{BatchSize: 5})
	if err != nil || st.MinRootVersion != 3 {
		t.Fatalf("second run: MinRootVersion %d, %v; want 3", st.MinRootVersion, err)
	}
	// A KMS with one root key version reports none.
	local := rotLocalKMS(t)
	st, err = keys.RotateRoot(c, versionedKeystore(t, local, 3), local, nil, keys.RotateOptions{})
	if err != nil || st.MinRootVersion != 0 {
		t.Fatalf("localkms: MinRootVersion %d, %v; want 0", st.MinRootVersion, err)
	}
}

// olderRivalRun makes another rotation run, which wrapped under version 2,
// win the compare-and-swap of the first key this run tries to store.
type olderRivalRun struct {
	*memstore.Store
	k    *versionedKMS
	once atomic.Bool
}

func (s *olderRivalRun) RewrapKey(c context.Context, id keys.KeyID, v uint32, old, new []byte) error {
	if s.once.CompareAndSwap(false, true) {
		ad := keys.WrapAssociatedData(id, v)
		secret, err := s.k.Unwrap(c, old, ad)
		if err != nil {
			return err
		}
		rival, err := s.k.wrapUnder(c, 2, secret, ad)
		if err != nil {
			return err
		}
		if err := s.Store.RewrapKey(c, id, v, old, rival); err != nil {
			return err
		}
	}
	return s.Store.RewrapKey(c, id, v, old, new)
}

// TestRotateRootMinRootVersionReadsBack: a key another run re-wrapped first
// counts with the version that run stored, not the one this run computed.
func TestRotateRootMinRootVersionReadsBack(t *testing.T) {
	c := context.Background()
	k := newVersionedKMS(t)
	mem := versionedKeystore(t, k, 10)
	k.rotate(t)
	k.rotate(t) // v3; the rival run wrapped under v2
	st, err := keys.RotateRoot(c, &olderRivalRun{Store: mem, k: k}, k, nil, keys.RotateOptions{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 || st.Rewrapped != 9 {
		t.Fatalf("stats %+v, want 9 re-wrapped and 1 skipped", st)
	}
	if st.MinRootVersion != 2 || storedMinVersion(t, mem, k) != 2 {
		t.Fatalf("MinRootVersion %d (stored: %d), want 2", st.MinRootVersion, storedMinVersion(t, mem, k))
	}
}

// failingRewraps fails RewrapKey after the first n calls.
type failingRewraps struct {
	*memstore.Store
	left atomic.Int64
}

func (s *failingRewraps) RewrapKey(c context.Context, id keys.KeyID, v uint32, old, new []byte) error {
	if s.left.Add(-1) < 0 {
		return errRotInjected
	}
	return s.Store.RewrapKey(c, id, v, old, new)
}

// TestRotateRootMinRootVersionResumed: when a run resumes after a cursor,
// the keys before it, re-wrapped by the interrupted run under an older
// version, count too.
func TestRotateRootMinRootVersionResumed(t *testing.T) {
	c := context.Background()
	k := newVersionedKMS(t)
	mem := versionedKeystore(t, k, 20)
	k.rotate(t) // v2
	store := &failingRewraps{Store: mem}
	store.left.Store(8)
	st, err := keys.RotateRoot(c, store, k, nil, keys.RotateOptions{BatchSize: 5})
	if !errors.Is(err, errRotInjected) || st.MinRootVersion != 0 {
		t.Fatalf("first run: %+v, %v; want the injected failure and no MinRootVersion", st, err)
	}
	k.rotate(t) // v3 before resuming
	store.left.Store(1 << 40)
	st, err = keys.RotateRoot(c, store, k, nil, keys.RotateOptions{BatchSize: 5, After: st.Resume})
	if err != nil || st.Rewrapped != 12 {
		t.Fatalf("resumed run: %+v, %v", st, err)
	}
	if st.MinRootVersion != 2 || storedMinVersion(t, mem, k) != 2 {
		t.Fatalf("MinRootVersion %d (stored: %d), want 2", st.MinRootVersion, storedMinVersion(t, mem, k))
	}
}

// TestRotateRootMinRootVersionFailed: a key that does not unwrap stays
// under its version, which therefore stays needed.
func TestRotateRootMinRootVersionFailed(t *testing.T) {
	c := context.Background()
	k := newVersionedKMS(t)
	mem := versionedKeystore(t, k, 5)
	recs, err := mem.LiveKeys(c, keys.KeyCursor{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Another key's material under this record's identity: it does not
	// authenticate, and it is under version 1.
	bad := keystore.KeyRecord{Version: 1, Purpose: "default", Wrapped: recs[0].Wrapped}
	bad.ID[0], bad.Subject[0] = 0xff, 0xff
	if err := mem.CreateKey(c, bad); err != nil {
		t.Fatal(err)
	}
	k.rotate(t)
	st, err := keys.RotateRoot(c, mem, k, nil, keys.RotateOptions{})
	if !errors.Is(err, keystore.ErrUnwrap) || st.Failed != 1 || st.MinRootVersion != 1 {
		t.Fatalf("RotateRoot: %+v, %v; want 1 failed and MinRootVersion 1", st, err)
	}
}
