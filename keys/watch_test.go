package keys_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// watchingStore is a memstore whose Watch reports what the test sends.
type watchingStore struct {
	keys.Store
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
	keys.Store
	entered, release chan struct{}
}

func (s *slowStore) LatestKey(ctx context.Context, id keys.KeyID) (keys.KeyRecord, error) {
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
type endingStore struct{ keys.Store }

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
