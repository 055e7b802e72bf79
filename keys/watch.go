package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// watch runs w until Close, evicting every subject it reports.
func (kr *Keyring) watch(w keystore.Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	kr.stopWatch, kr.watchDone = cancel, done
	go func() {
		defer close(done)
		_ = w.Watch(ctx, kr.forgottenElsewhere)
	}()
}

// forgottenElsewhere handles one report of the watcher.
func (kr *Keyring) forgottenElsewhere(ref SubjectRef) {
	kr.Evict(ref)
	kr.hooks.notify(ref)
}

// OnForget calls f with the reference of every subject forgotten from now on,
// until stop is called: those forgotten through any Keyring of this process
// open on the same keystore (as [Keyring.Forget] evicts them, see there), and
// those this Keyring's [keystore.Watcher] reports from other processes.
// Libraries that keep data derived from a subject outside the keystore — a
// blind index, a search index, a cache of decrypted values — use it to erase
// that data too. Most users won't call it: gormcrypt does.
//
// Reports are queued, one queue per call of OnForget, so a slow f never
// delays the watcher, Forget or another f. f runs on a goroutine of its
// own, one call at a time, in the order the subjects were reported; a
// subject may be reported more than once (by this process and again by the
// watcher), and one already waiting in the queue is not queued twice, so
// the queue holds at most one entry per forgotten subject. f must not
// panic.
//
// Reports are lost while nobody listens: a subject forgotten by another
// process while this one was not running, or before OnForget was called,
// or whose report the Watcher missed, is never passed to f. Pair OnForget
// with a periodic check of [Keyring.ForgottenRefs] when that matters.
//
// stop unregisters f, drops the reports still queued and waits for a call
// of f in progress to return; f is not called after stop returns. stop
// must not be called from f. It is idempotent. OnForget does not depend on
// [Keyring.Close]: reports of this process's Forget calls still arrive
// after Close, those of other processes' no longer do.
func (kr *Keyring) OnForget(f func(SubjectRef)) (stop func()) {
	if f == nil {
		panic("keys: OnForget with a nil function")
	}
	sub := &forgetSub{f: f, queued: map[SubjectRef]bool{}, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	id := kr.hooks.add(sub)
	go sub.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			kr.hooks.remove(id)
			close(sub.quit)
			<-sub.done
		})
	}
}

// forgetHooks holds a Keyring's OnForget subscriptions; its zero value is
// ready.
type forgetHooks struct {
	mu   sync.Mutex
	next int
	subs map[int]*forgetSub
}

func (h *forgetHooks) add(s *forgetSub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]*forgetSub{}
	}
	h.next++
	h.subs[h.next] = s
	return h.next
}

func (h *forgetHooks) remove(id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, id)
}

// notify queues ref for every subscription; it never blocks on one.
func (h *forgetHooks) notify(ref SubjectRef) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		s.push(ref)
	}
}

// forgetSub is one OnForget subscription: an unbounded queue (at most one
// entry per subject) drained by its own goroutine.
type forgetSub struct {
	f      func(SubjectRef)
	mu     sync.Mutex
	queue  []SubjectRef
	queued map[SubjectRef]bool
	wake   chan struct{} // capacity 1: "the queue may be non-empty"
	quit   chan struct{}
	done   chan struct{}
}

func (s *forgetSub) push(ref SubjectRef) {
	s.mu.Lock()
	if !s.queued[ref] {
		s.queued[ref] = true
		s.queue = append(s.queue, ref)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *forgetSub) pop() (SubjectRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		s.queue = nil // let a burst's backing array go
		return SubjectRef{}, false
	}
	ref := s.queue[0]
	s.queue = s.queue[1:]
	delete(s.queued, ref)
	return ref, true
}

func (s *forgetSub) run() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		for {
			select {
			case <-s.quit:
				return
			default:
			}
			ref, ok := s.pop()
			if !ok {
				break
			}
			s.f(ref)
		}
	}
}

// Close stops the Keyring's invalidation watcher, if it runs, and waits for
// it to exit. It does not close the Store or the KMS. The Keyring remains
// usable after Close, with only the cache MaxAge bounding how long other
// processes' Forget calls take to reach it. Close is idempotent.
func (kr *Keyring) Close() error {
	kr.closeOnce.Do(func() {
		if kr.stopWatch != nil {
			kr.stopWatch()
			<-kr.watchDone
		}
	})
	return nil
}

// Watching reports whether the Keyring runs an invalidation watcher: its
// Store implements [keystore.Watcher], Config.DisableWatch was not set, and
// neither Close nor the Store's end stopped it.
func (kr *Keyring) Watching() bool {
	if kr.stopWatch == nil {
		return false
	}
	select {
	case <-kr.watchDone:
		return false
	default:
		return true
	}
}

// ForgottenRefs reports which of refs name forgotten subjects, for a library
// that holds data of many subjects and checks now and then for Forgets it was
// not told about (see [Keyring.OnForget]): it returns the forgotten ones, in
// the order given. It reads the keystore, not the cache: one query per
// [keystore.ForgottenBatch] references when the Store implements
// [keystore.ForgottenLister], else one tombstone lookup per reference. A
// reference the keystore has never seen is not forgotten.
func (kr *Keyring) ForgottenRefs(ctx context.Context, refs []SubjectRef) ([]SubjectRef, error) {
	l, ok := kr.store.(keystore.ForgottenLister)
	if !ok {
		var out []SubjectRef
		for _, ref := range refs {
			_, err := kr.store.Tombstone(ctx, ref)
			switch {
			case err == nil:
				out = append(out, ref)
			case errors.Is(err, ErrKeyNotFound):
			default:
				return nil, fmt.Errorf("keys: forgotten refs: %w", err)
			}
		}
		return out, nil
	}
	forgotten := map[SubjectRef]bool{}
	for start := 0; start < len(refs); start += keystore.ForgottenBatch {
		got, err := l.ForgottenAmong(ctx, refs[start:min(start+keystore.ForgottenBatch, len(refs))])
		if err != nil {
			return nil, fmt.Errorf("keys: forgotten refs: %w", err)
		}
		for _, r := range got {
			forgotten[r] = true
		}
	}
	var out []SubjectRef
	for _, r := range refs {
		if forgotten[r] {
			out = append(out, r)
			delete(forgotten, r) // each once, as the fallback would for distinct refs
		}
	}
	return out, nil
}
