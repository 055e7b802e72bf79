package keys_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// broadcaster is a Config.Watcher that records what Forget announces and
// checks that the tombstone is committed by then.
type broadcaster struct {
	store   keystore.Store
	fail    error
	mu      sync.Mutex
	got     []keystore.Tombstone
	watched chan struct{}
}

func (b *broadcaster) Watch(ctx context.Context, _ func(keys.SubjectRef)) error {
	close(b.watched)
	<-ctx.Done()
	return nil
}

func (b *broadcaster) Forgotten(ctx context.Context, t keystore.Tombstone) error {
	if _, err := b.store.Tombstone(ctx, t.Subject); err != nil {
		return errors.New("announced before the tombstone was committed")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, t)
	return b.fail
}

func TestConfigWatcherBroadcasts(t *testing.T) {
	for _, fail := range []error{nil, errors.New("bus down")} {
		store := &watchingStore{Store: memstore.New(), refs: make(chan keys.SubjectRef)}
		b := &broadcaster{store: store, fail: fail, watched: make(chan struct{})}
		kr := open(t, keys.Config{KMS: newKMS(t), Store: store, Watcher: b})
		select {
		case <-b.watched:
		case <-time.After(5 * time.Second):
			t.Fatal("Config.Watcher not watched")
		}
		if store.watchers() != 0 {
			t.Error("the Store's own Watch runs although Config.Watcher is set")
		}
		if _, err := kr.Current(ctx, "customer-1", "default"); err != nil {
			t.Fatal(err)
		}
		ts, err := kr.Forget(ctx, "customer-1", "ticket-1")
		if err != nil {
			t.Fatalf("Forget with a failing broadcaster (%v): %v", fail, err)
		}
		b.mu.Lock()
		got := b.got
		b.mu.Unlock()
		if len(got) != 1 || got[0].Subject != ts.Subject || !got[0].ForgottenAt.Equal(ts.ForgottenAt) || got[0].Reason != "" {
			t.Fatalf("announced %+v; want the subject and time of %+v, no reason", got, ts)
		}
		if _, err := kr.Current(ctx, "customer-1", "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("after Forget: %v", err)
		}
		kr.Close()
	}
}

func TestConfigWatcherDisableWatch(t *testing.T) {
	store := memstore.New()
	b := &broadcaster{store: store, watched: make(chan struct{})}
	kr := open(t, keys.Config{KMS: newKMS(t), Store: store, Watcher: b, DisableWatch: true})
	if kr.Watching() {
		t.Fatal("Watching with DisableWatch")
	}
	if _, err := kr.Forget(ctx, "customer-1", "t"); err != nil {
		t.Fatal(err)
	}
	if len(b.got) != 1 {
		t.Fatalf("DisableWatch must not stop announcing: %d announcements", len(b.got))
	}
}

func TestMemstoreTombstonesSince(t *testing.T) {
	store := memstore.New()
	kr := open(t, keys.Config{KMS: newKMS(t), Store: store})
	start := time.Now().Add(-time.Millisecond)
	a, _ := kr.Forget(ctx, "a", "t")
	time.Sleep(2 * time.Millisecond)
	b, _ := kr.Forget(ctx, "b", "t")
	got, err := store.TombstonesSince(ctx, start)
	if err != nil || len(got) != 2 || got[0].Subject != a.Subject || got[1].Subject != b.Subject {
		t.Fatalf("TombstonesSince(start) = %v, %v", got, err)
	}
	got, _ = store.TombstonesSince(ctx, b.ForgottenAt)
	if len(got) != 1 || got[0].Subject != b.Subject {
		t.Fatalf("TombstonesSince(b) = %v", got)
	}
}

// TestConfigWatcherBroadcastsWithLifecycle: with retention policies Forget
// goes through Erase; a subject it forgets entirely is announced too.
func TestConfigWatcherBroadcastsWithLifecycle(t *testing.T) {
	store := memstore.New()
	b := &broadcaster{store: store, watched: make(chan struct{})}
	kr := open(t, keys.Config{KMS: newKMS(t), Store: store, Watcher: b,
		Lifecycle: keys.Lifecycle{Policies: map[string]keys.Policy{"default": {Name: "until withdrawn", Retention: keys.UntilWithdrawn()}}}})
	if _, err := kr.Current(ctx, "customer-1", "default"); err != nil {
		t.Fatal(err)
	}
	ts, err := kr.Forget(ctx, "customer-1", "ticket-1")
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	got := b.got
	b.mu.Unlock()
	if len(got) != 1 || got[0].Subject != ts.Subject || got[0].Reason != "" {
		t.Fatalf("announced %+v; want the forgotten subject, no reason", got)
	}
}
