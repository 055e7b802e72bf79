package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// watchingStore is a memstore whose Watch reports what the test sends.
type watchingStore struct {
	keystore.Store
	refs    chan keys.SubjectRef
	mu      sync.Mutex
	running int
}

func (s *watchingStore) Watch(ctx context.Context, forgotten func(keys.SubjectRef)) error {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.refs:
			forgotten(r)
		}
	}
}

func (s *watchingStore) watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func TestWatcherEvicts(t *testing.T) {
	shared := memstore.New()
	kms := newKMS(t)
	store := &watchingStore{Store: shared, refs: make(chan keys.SubjectRef)}
	kr := open(t, keys.Config{KMS: kms, Store: store, CacheMaxAge: time.Hour})
	if !kr.Watching() {
		t.Fatal("Watching() = false for a Store that implements Watcher")
	}
	if _, err := kr.Current(ctx, "customer-1", "default"); err != nil {
		t.Fatal(err)
	}
	// Another process forgets the subject: straight in the shared store,
	// since a Keyring of this process would evict kr's cache itself.
	ref, _ := kr.SubjectRef("customer-1")
	if _, err := shared.Forget(ctx, keys.Tombstone{Subject: ref, ForgottenAt: time.Now().UTC(), Reason: "ticket"}); err != nil {
		t.Fatal(err)
	}
	// Without a report the cache still serves the key (for up to an hour).
	if _, err := kr.Current(ctx, "customer-1", "default"); err != nil {
		t.Fatalf("before the report: %v", err)
	}
	store.refs <- ref
	store.refs <- keys.SubjectRef{} // the first report has been handled once this one is taken
	if _, err := kr.Current(ctx, "customer-1", "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("after the report: %v, want ErrKeyDestroyed", err)
	}
	if err := kr.Close(); err != nil {
		t.Fatal(err)
	}
	if n := store.watchers(); n != 0 || kr.Watching() {
		t.Fatalf("after Close: %d watchers running, Watching() = %v", n, kr.Watching())
	}
	if err := kr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDisableWatch(t *testing.T) {
	store := &watchingStore{Store: memstore.New(), refs: make(chan keys.SubjectRef)}
	kr := open(t, keys.Config{Store: store, DisableWatch: true})
	if kr.Watching() || store.watchers() != 0 {
		t.Fatal("DisableWatch: the keyring watches anyway")
	}
	if err := kr.Close(); err != nil {
		t.Fatal(err)
	}
	plain := open(t, keys.Config{})
	if plain.Watching() {
		t.Fatal("Watching() = true for a Store without Watch")
	}
	plain.Close()
}

// slowStore blocks LatestKey until released, so a load can be caught
// between reading the keystore and filling the cache.
type slowStore struct {
	keystore.Store
	entered, release chan struct{}
}

func (s *slowStore) LatestKey(ctx context.Context, id keys.KeyID) (keystore.KeyRecord, error) {
	rec, err := s.Store.LatestKey(ctx, id)
	if s.entered != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	return rec, err
}

// TestEvictStopsRacingLoad: a load that read the key before another
// process's Forget, and finishes after the invalidation evicted the
// subject, must not put the key back into the cache.
func TestEvictStopsRacingLoad(t *testing.T) {
	shared := memstore.New()
	kms := newKMS(t)
	store := &slowStore{Store: shared}
	kr := open(t, keys.Config{KMS: kms, Store: store, CacheMaxAge: time.Hour})
	other := open(t, keys.Config{KMS: kms, Store: shared})
	if _, err := other.Current(ctx, "customer-1", "default"); err != nil { // the key exists
		t.Fatal(err)
	}
	store.entered, store.release = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := kr.Current(ctx, "customer-1", "default")
		done <- err
	}()
	<-store.entered // the load has read the live key
	if _, err := other.Forget(ctx, "customer-1", "ticket"); err != nil {
		t.Fatal(err)
	}
	ref, _ := kr.SubjectRef("customer-1")
	kr.Evict(ref) // what the watcher does on the report
	close(store.release)
	if err := <-done; err != nil {
		t.Fatalf("the racing load itself: %v (it started before the Forget, so it may succeed)", err)
	}
	store.entered = nil
	if _, err := kr.Current(ctx, "customer-1", "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("after the racing load: %v, want ErrKeyDestroyed (the load re-inserted the key)", err)
	}
}

// endingStore's Watch ends at once, as sqlstore's does when its Store is
// closed: the keyring stops watching instead of spinning.
type endingStore struct{ keystore.Store }

func (endingStore) Watch(context.Context, func(keys.SubjectRef)) error {
	return errors.New("store closed")
}

func TestWatchEnds(t *testing.T) {
	kr := open(t, keys.Config{Store: endingStore{memstore.New()}})
	for deadline := time.Now().Add(5 * time.Second); kr.Watching(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still watching 5 s after Watch returned")
		}
	}
	if err := kr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOnForget: a subscriber hears of Forget calls through any Keyring of
// the process on the keystore and of the watcher's reports, a slow
// subscriber blocks neither, and stop ends the deliveries.
func TestOnForget(t *testing.T) {
	shared := memstore.New()
	kms := newKMS(t)
	store := &watchingStore{Store: shared, refs: make(chan keys.SubjectRef)}
	kr := open(t, keys.Config{KMS: kms, Store: store})
	defer kr.Close()
	other := open(t, keys.Config{KMS: kms, Store: shared}) // a second library in the process

	got := make(chan keys.SubjectRef, 16)
	release := make(chan struct{})
	stop := kr.OnForget(func(r keys.SubjectRef) {
		<-release // a slow subscriber
		got <- r
	})
	var fast []keys.SubjectRef
	var mu sync.Mutex
	stopFast := kr.OnForget(func(r keys.SubjectRef) {
		mu.Lock()
		fast = append(fast, r)
		mu.Unlock()
	})
	defer stopFast()

	ref1, _ := kr.SubjectRef("customer-1")
	ref2, _ := kr.SubjectRef("customer-2")
	ref3, _ := kr.SubjectRef("customer-3")
	if _, err := other.Forget(ctx, "customer-1", "ticket-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Forget(ctx, "customer-2", "ticket-2"); err != nil {
		t.Fatal(err)
	}
	// Another process's Forget, reported by the watcher while the slow
	// subscriber is still stuck on the first report: the unbuffered send
	// returns only once the watcher has taken it.
	if _, err := shared.Forget(ctx, keys.Tombstone{Subject: ref3, ForgottenAt: time.Now().UTC(), Reason: "ticket-3"}); err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{})
	go func() {
		store.refs <- ref3
		store.refs <- ref1 // a repeat, as the watcher reports this process's Forget too
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("a slow OnForget subscriber blocked the watcher")
	}
	close(release)
	want := []keys.SubjectRef{ref1, ref2, ref3}
	var seen []keys.SubjectRef
	for len(seen) < len(want) {
		select {
		case r := <-got:
			seen = append(seen, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("slow subscriber got %v, want %v first", seen, want)
		}
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("slow subscriber got %v, want %v in that order", seen, want)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(fast)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast subscriber got %d reports, want at least 3", n)
		}
	}

	stop()
	stop() // idempotent
	if _, err := kr.Forget(ctx, "customer-4", "ticket-4"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r != ref1 { // the queued repeat may have been delivered before stop
			t.Fatalf("report %v after stop", r)
		}
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case r := <-got:
		t.Fatalf("report %v after stop", r)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestOnForgetStopWaits: stop returns only after a call in progress has.
func TestOnForgetStopWaits(t *testing.T) {
	kr := open(t, keys.Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	var returned sync.WaitGroup
	returned.Add(1)
	stop := kr.OnForget(func(keys.SubjectRef) {
		close(entered)
		<-release
		returned.Done()
	})
	if _, err := kr.Forget(ctx, "customer-1", "ticket"); err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while the subscriber was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-stopped
	returned.Wait()
}

// plainStore hides memstore's ForgottenLister, for ForgottenRefs'
// one-lookup-per-reference path.
type plainStore struct{ keystore.Store }

func TestForgottenRefs(t *testing.T) {
	t.Run("Batched", func(t *testing.T) { testForgottenRefs(t, memstore.New()) })
	t.Run("OneByOne", func(t *testing.T) { testForgottenRefs(t, plainStore{memstore.New()}) })
}

func testForgottenRefs(t *testing.T, store keystore.Store) {
	kr := open(t, keys.Config{Store: store})
	var refs []keys.SubjectRef
	for _, s := range []string{"customer-1", "customer-2", "customer-3", "never-seen"} {
		r, _ := kr.SubjectRef(s)
		refs = append(refs, r)
	}
	if _, err := kr.Current(ctx, "customer-2", "default"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"customer-3", "customer-1"} {
		if _, err := kr.Forget(ctx, s, "ticket"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kr.ForgottenRefs(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != refs[0] || got[1] != refs[2] {
		t.Fatalf("ForgottenRefs = %v, want [%v %v]", got, refs[0], refs[2])
	}
	if got, err := kr.ForgottenRefs(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("ForgottenRefs(nil) = %v, %v", got, err)
	}
	// More than one batch, the forgotten ones at both ends.
	many := make([]keys.SubjectRef, 2*keystore.ForgottenBatch+1)
	for i := range many {
		many[i], _ = kr.SubjectRef(fmt.Sprintf("other-%d", i))
	}
	many[0], many[len(many)-1] = refs[2], refs[0]
	if got, err := kr.ForgottenRefs(ctx, many); err != nil || len(got) != 2 || got[0] != refs[2] || got[1] != refs[0] {
		t.Fatalf("ForgottenRefs of %d refs = %v, %v", len(many), got, err)
	}
}
