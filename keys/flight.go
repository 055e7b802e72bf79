package keys

import (
	"context"
	"fmt"
	"sync"
)

// loadGroup coalesces concurrent cold loads of one key: the first caller
// starts the load, later callers wait for its result instead of reading the
// keystore and calling the KMS again.
//
// The load runs in its own goroutine under a context that keeps the first
// caller's values but not its cancellation, so that one caller giving up
// does not fail the others; every caller waits for the result or its own
// context, whichever comes first, and the load is cancelled once every
// caller has given up.
//
// A caller only joins a load that began under the cache generation current
// when it arrives (see keyCache): a load begun before a Forget, Rotate or
// Evict may return a key the eviction destroyed, which a caller arriving
// after the eviction must not get, so it starts a load of its own instead.
type loadGroup[K comparable] struct {
	mu    sync.Mutex
	calls map[K]*loadCall
}

type loadCall struct {
	done    chan struct{}
	gen     uint64
	waiters int // under loadGroup.mu
	cancel  context.CancelFunc
	key     *Key
	err     error
}

// do returns load's result for k, sharing one run of load among the
// concurrent callers of do with the same k. load receives the ticket its
// result must be put into the cache under.
func (g *loadGroup[K]) do(ctx context.Context, c *keyCache, k K, load func(context.Context, loadTicket) (*Key, error)) (*Key, error) {
	g.mu.Lock()
	call := g.calls[k]
	if call == nil || call.gen != c.gen.Load() {
		t := c.begin()
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		call = &loadCall{done: make(chan struct{}), gen: t.gen, cancel: cancel}
		if g.calls == nil {
			g.calls = make(map[K]*loadCall)
		}
		g.calls[k] = call
		go func() {
			defer cancel()
			call.key, call.err = load(lctx, t)
			g.mu.Lock()
			if g.calls[k] == call {
				delete(g.calls, k)
			}
			g.mu.Unlock()
			close(call.done)
		}()
	}
	call.waiters++
	g.mu.Unlock()

	select {
	case <-call.done:
		return call.key, call.err
	case <-ctx.Done():
		g.mu.Lock()
		call.waiters--
		if call.waiters == 0 {
			call.cancel()
			if g.calls[k] == call {
				delete(g.calls, k) // a later caller starts afresh
			}
		}
		g.mu.Unlock()
		return nil, fmt.Errorf("keys: waiting for a key load: %w", ctx.Err())
	}
}
