package keys

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultCacheEntries is the default bound on unwrapped keys held in memory.
	DefaultCacheEntries = 10_000
	// DefaultCacheMaxAge is the default time an unwrapped key may be served
	// from memory before the keystore is read again. Plus MaxAgeSlack, it is
	// the upper bound on how long another process may keep using a key after
	// a Forget when no invalidation message reaches it.
	DefaultCacheMaxAge = time.Minute
)

// MaxAgeSlack is how much longer than its MaxAge a cached key may be
// served: an entry is checked against the clocks on every hit, so only the
// time between that check and the key's use is added.
//
// An entry's age is counted from the moment the keystore read that fetched
// it began — not from when the unwrap finished — so a slow KMS does not
// lengthen the bound. It is measured on a clock that counts like Linux's
// CLOCK_BOOTTIME: the monotonic clock, which no setting of the system clock
// slows, plus every stretch by which the wall clock ran ahead of it — a
// suspended machine, a paused VM, a checkpoint/restore — detected within
// 0.5 ms of monotonic time after the resume (inside MaxAgeSlack). The bound
// therefore holds in wall time across a suspend, unless the system clock is
// also set back meanwhile.
const MaxAgeSlack = time.Millisecond

// CacheStats are counters of a Keyring's key cache.
type CacheStats struct {
	Hits      uint64 // lookups served from memory
	Misses    uint64 // lookups that went to the keystore
	Evictions uint64 // entries dropped for size, age, rotation or Forget
	Entries   int    // entries held now
}

type currentKey struct{ subject, purpose string }

type versionKey struct {
	id      KeyID
	version uint32
}

type cacheEntry struct {
	key     *Key
	loaded  int64 // clockNow when the keystore read began
	elem    *list.Element
	current *currentKey // set when this entry is the current version of a (subject, purpose)
}

// keyCache is an LRU of unwrapped keys bounded by entry count and age.
//
// gen counts evictions caused by Forget, Rotate and Evict. A load records
// gen before it reads the keystore and only inserts its result if gen is
// unchanged, so a load that raced with a Forget cannot put the destroyed key
// back into the cache.
type keyCache struct {
	mu        sync.Mutex
	max       int
	maxAge    time.Duration
	byVersion map[versionKey]*cacheEntry
	byCurrent map[currentKey]*cacheEntry
	lru       list.List // front = most recently used; values are *cacheEntry
	gen       uint64

	hits, misses, evictions atomic.Uint64
}

func newKeyCache(max int, maxAge time.Duration) *keyCache {
	return &keyCache{
		max:       max,
		maxAge:    maxAge,
		byVersion: make(map[versionKey]*cacheEntry),
		byCurrent: make(map[currentKey]*cacheEntry),
	}
}

// loadTicket is taken before a load reads the keystore: the generation
// the result may be inserted under, and the time its age counts from.
type loadTicket struct {
	gen  uint64
	time int64
}

func (c *keyCache) begin() loadTicket {
	now := clockNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	return loadTicket{c.gen, now}
}

// lookup returns e's key unless it is older than maxAge.
func (c *keyCache) lookup(e *cacheEntry) *Key {
	if age := time.Duration(clockNow() - e.loaded); age >= c.maxAge {
		c.remove(e)
		return nil
	}
	c.lru.MoveToFront(e.elem)
	return e.key
}

func (c *keyCache) getCurrent(subject, purpose string) *Key {
	if c.max <= 0 {
		c.misses.Add(1)
		return nil
	}
	c.mu.Lock()
	var k *Key
	if e := c.byCurrent[currentKey{subject, purpose}]; e != nil {
		k = c.lookup(e)
	}
	c.mu.Unlock()
	if k == nil {
		c.misses.Add(1)
	} else {
		c.hits.Add(1)
	}
	return k
}

func (c *keyCache) getVersion(id KeyID, version uint32) *Key {
	if c.max <= 0 {
		c.misses.Add(1)
		return nil
	}
	c.mu.Lock()
	var k *Key
	if e := c.byVersion[versionKey{id, version}]; e != nil {
		k = c.lookup(e)
	}
	c.mu.Unlock()
	if k == nil {
		c.misses.Add(1)
	} else {
		c.hits.Add(1)
	}
	return k
}

// put inserts k if no eviction happened since t was taken; its age counts
// from t. cur, if not nil, makes k the current key of that (subject,
// purpose).
func (c *keyCache) put(k *Key, cur *currentKey, t loadTicket) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != t.gen {
		return
	}
	vk := versionKey{k.id, k.version}
	e := c.byVersion[vk]
	if e == nil {
		e = &cacheEntry{key: k, loaded: t.time}
		e.elem = c.lru.PushFront(e)
		c.byVersion[vk] = e
	} else {
		c.lru.MoveToFront(e.elem)
	}
	if cur != nil {
		if old := c.byCurrent[*cur]; old != nil && old != e {
			old.current = nil
		}
		if e.current == nil {
			e.current = cur
			c.byCurrent[*cur] = e
		}
	}
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back().Value.(*cacheEntry))
	}
}

func (c *keyCache) remove(e *cacheEntry) {
	c.lru.Remove(e.elem)
	delete(c.byVersion, versionKey{e.key.id, e.key.version})
	if e.current != nil && c.byCurrent[*e.current] == e {
		delete(c.byCurrent, *e.current)
	}
	c.evictions.Add(1)
}

// evictSubject drops every key of subject and bumps the generation.
func (c *keyCache) evictSubject(subject SubjectRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*cacheEntry); e.key.subject == subject {
			c.remove(e)
		}
		el = next
	}
}

// evictCurrent forgets which version is current for (subject, purpose).
func (c *keyCache) evictCurrent(subject, purpose string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e := c.byCurrent[currentKey{subject, purpose}]; e != nil {
		delete(c.byCurrent, *e.current)
		e.current = nil
	}
}

func (c *keyCache) evictAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	n := c.lru.Len()
	c.lru.Init()
	clear(c.byVersion)
	clear(c.byCurrent)
	c.evictions.Add(uint64(n))
}

func (c *keyCache) stats() CacheStats {
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(), Entries: n}
}
