package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// countingKMS counts unwraps and makes each take delay.
type countingKMS struct {
	keystore.KMS
	delay   time.Duration
	unwraps atomic.Int64
}

func (k *countingKMS) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	k.unwraps.Add(1)
	select {
	case <-time.After(k.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return k.KMS.Unwrap(ctx, wrapped, ad)
}

// TestColdLoadsCoalesce: 64 concurrent first uses of one subject, and then
// 64 concurrent decryption-side loads of its version, against a KMS that
// takes 5 ms, make exactly one unwrap each.
func TestColdLoadsCoalesce(t *testing.T) {
	kms := &countingKMS{KMS: newKMS(t), delay: 5 * time.Millisecond}
	kr := open(t, keys.Config{KMS: kms})
	base := kms.unwraps.Load() // Open unwraps the identifier key

	const n = 64
	run := func(f func() (*keys.Key, error)) []*keys.Key {
		got := make([]*keys.Key, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				k, err := f()
				if err != nil {
					t.Error(err)
				}
				got[i] = k
			})
		}
		close(start)
		wg.Wait()
		return got
	}
	cur := run(func() (*keys.Key, error) { return kr.Current(ctx, "cust-1", "default") })
	if u := kms.unwraps.Load() - base; u != 1 {
		t.Fatalf("%d concurrent first uses made %d unwraps, want 1", n, u)
	}
	for _, k := range cur[1:] {
		if k != cur[0] {
			t.Fatal("concurrent first uses got different keys")
		}
	}

	kr.EvictAll()
	base = kms.unwraps.Load()
	ver := run(func() (*keys.Key, error) { return kr.KeyVersion(ctx, cur[0].ID(), 1) })
	if u := kms.unwraps.Load() - base; u != 1 {
		t.Fatalf("%d concurrent KeyVersion loads made %d unwraps, want 1", n, u)
	}
	for _, k := range ver {
		if k == nil || k.ID() != cur[0].ID() {
			t.Fatal("KeyVersion returned another key")
		}
	}
}

// TestColdLoadCancelDoesNotFailOthers: the caller that started a shared
// load giving up leaves the other callers their result.
func TestColdLoadCancelDoesNotFailOthers(t *testing.T) {
	kms := &countingKMS{KMS: newKMS(t), delay: 300 * time.Millisecond}
	kr := open(t, keys.Config{KMS: kms})
	base := kms.unwraps.Load()

	first, cancel := context.WithCancel(ctx)
	firstErr := make(chan error, 1)
	go func() {
		_, err := kr.Current(first, "cust-1", "default")
		firstErr <- err
	}()
	for kms.unwraps.Load() == base { // the first caller's load is under way
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := kr.Current(ctx, "cust-1", "default"); err != nil {
				t.Errorf("a caller failed when another one gave up: %v", err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the others have joined
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled caller got %v, want context.Canceled", err)
	}
	wg.Wait()
	if u := kms.unwraps.Load() - base; u != 1 {
		t.Errorf("%d unwraps, want 1", u)
	}
}

// TestNoKeyAfterForgetUnderStress mixes Forget, Rotate, Evict, EvictAll and
// batched Warm loads with 64 readers of Current and KeyVersion: a read
// started after the Forget of its subject returned never gets one of its
// keys.
func TestNoKeyAfterForgetUnderStress(t *testing.T) {
	kms := &countingKMS{KMS: newKMS(t), delay: 300 * time.Microsecond} // loads in flight across the Forgets
	kr := open(t, keys.Config{KMS: kms, CacheEntries: 200})
	const subjects = 32
	var forgotten [subjects]atomic.Bool
	ids := make([]keys.KeyID, subjects)
	refs := make([]keys.SubjectRef, subjects)
	for i := range subjects {
		k, err := kr.Current(ctx, fmt.Sprint("s", i), "default")
		if err != nil {
			t.Fatal(err)
		}
		ids[i], refs[i] = k.ID(), k.Subject()
	}
	stop := make(chan struct{})
	var readers, churn sync.WaitGroup
	var reads atomic.Int64
	for r := range 64 {
		readers.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := i % subjects
				gone := forgotten[s].Load() // before the read starts
				var k *keys.Key
				var err error
				if i%3 == 0 {
					k, err = kr.KeyVersion(ctx, ids[s], 1)
				} else {
					k, err = kr.Current(ctx, fmt.Sprint("s", s), "default")
				}
				reads.Add(1)
				switch {
				case err == nil && gone:
					t.Errorf("subject %d: got key v%d after its Forget returned", s, k.Version())
					return
				case err == nil && k.Subject() != refs[s]:
					t.Errorf("subject %d: got another subject's key", s)
					return
				case err != nil && !errors.Is(err, keys.ErrKeyDestroyed):
					t.Errorf("subject %d: %v", s, err)
					return
				}
			}
		})
	}
	churn.Go(func() {
		for i := 0; i < subjects; i += 2 {
			time.Sleep(time.Millisecond)
			if _, err := kr.Forget(ctx, fmt.Sprint("s", i), "stress"); err != nil {
				t.Error(err)
			}
			forgotten[i].Store(true)
		}
	})
	churn.Go(func() {
		for i := 0; i < 40; i++ {
			s := 1 + 2*(i%(subjects/2)) // never forgotten
			if _, err := kr.Rotate(ctx, fmt.Sprint("s", s), "default"); err != nil {
				t.Error(err)
			}
			kr.Evict(refs[(i*7)%subjects])
			if i%10 == 0 {
				kr.EvictAll()
			}
			time.Sleep(500 * time.Microsecond)
		}
	})
	churn.Go(func() { // batched loads racing with the Forgets
		names := make([]string, subjects)
		for i := range names {
			names[i] = fmt.Sprint("s", i)
		}
		for range 30 {
			kr.EvictAll()
			if err := kr.Warm(ctx, names, "default"); err != nil {
				t.Error(err)
			}
			if err := kr.WarmVersions(ctx, []keys.KeyVersionRef{{ID: ids[0], Version: 1}, {ID: ids[2], Version: 1}}); err != nil {
				t.Error(err)
			}
			time.Sleep(300 * time.Microsecond)
		}
	})
	churn.Wait()
	time.Sleep(5 * time.Millisecond)
	close(stop)
	readers.Wait()
	t.Logf("%d reads", reads.Load())
	for i := 0; i < subjects; i += 2 {
		if _, err := kr.Current(ctx, fmt.Sprint("s", i), "default"); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("subject %d after Forget: %v, want ErrKeyDestroyed", i, err)
		}
	}
}

// TestLiveKeysCoalesce: 64 concurrent LiveKeys of a subject with three key
// versions, on a cold cache against a KMS that takes 5 ms, unwrap each
// version once (an equality search's cold path, on a busy list page).
func TestLiveKeysCoalesce(t *testing.T) {
	kms := &countingKMS{KMS: newKMS(t), delay: 5 * time.Millisecond}
	kr := open(t, keys.Config{KMS: kms})
	if _, err := kr.Current(ctx, "cust-1", "default"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := kr.Rotate(ctx, "cust-1", "default"); err != nil {
			t.Fatal(err)
		}
	}
	kr.EvictAll()
	base := kms.unwraps.Load()
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			ks, err := kr.LiveKeys(ctx, "cust-1", "default")
			if err != nil || len(ks) != 3 || ks[0].Version() != 3 || ks[2].Version() != 1 {
				t.Errorf("LiveKeys = %d keys, %v; want versions 3, 2, 1", len(ks), err)
			}
		})
	}
	close(start)
	wg.Wait()
	if u := kms.unwraps.Load() - base; u != 3 {
		t.Fatalf("%d concurrent LiveKeys made %d unwraps, want 3 (one per version)", n, u)
	}
	// A subject without a key: nil, and nothing created.
	if ks, err := kr.LiveKeys(ctx, "cust-none", "default"); err != nil || ks != nil {
		t.Fatalf("LiveKeys of a subject without a key = %v, %v", ks, err)
	}
}
