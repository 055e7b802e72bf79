package keys

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
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
	Entries   int    // entries (key versions) held now
}

type currentKey struct{ subject, purpose string }

type versionKey struct {
	id      KeyID
	version uint32
}

// cacheEntry is one cached key version. key, loaded and shard never change;
// slot and cur are guarded by the shard's mutex.
type cacheEntry struct {
	key    *Key
	loaded int64 // clockNow when the keystore read began
	shard  *cacheShard
	slot   int         // index in shard.ring
	cur    *currentKey // the (subject, purpose) this version was made current for, if any

	// referenced is the CLOCK bit: set by a hit, cleared by the eviction
	// hand passing by. It is only written when it changes, so hits on a
	// hot entry do not bounce its cache line between cores.
	referenced atomic.Bool
	// dead is set, under the shard's mutex, when the entry is removed; a
	// lookup that found the entry before its removal then misses.
	dead atomic.Bool
}

// keyCache holds unwrapped keys, bounded by entry count and age.
//
// # Concurrency
//
// Lookups take no lock: the two indexes (by version, and the current
// version by (subject, purpose)) are sync.Maps, whose reads are lock-free,
// and a hit writes nothing shared except an entry's CLOCK bit the first
// time it is hit after a sweep and one of cacheStripes hit counters. Every
// hit still checks the entry's age against the cache clock and its dead
// flag, so an entry removed by an eviction is never served by a lookup
// that starts after the eviction returned.
//
// Inserts and removals are serialised per shard: an entry belongs to the
// shard its (id, version) hashes to, which holds the CLOCK ring that
// bounds its size and an index of its entries by subject, so evicting a
// subject costs O(shards + the subject's entries), not O(cache).
//
// gen counts evictions caused by Forget, Rotate and Evict. A load records
// gen before it reads the keystore (begin) and only inserts its result if
// gen is unchanged (put). put checks and inserts under evictMu held for
// reading, and every eviction bumps gen and removes under evictMu held for
// writing, so an insert either precedes an eviction (which then removes it)
// or sees the bumped gen: a load that raced with a Forget cannot put the
// destroyed key back into the cache.
//
// # Size bound
//
// The bound is approximate: each of the shards holds at most
// ceil(max/shards) entries, so the cache holds at most max rounded up to a
// multiple of the shard count (shards is 1 for max below 128, so small
// caches are exact, and at most 64). Within a shard, eviction is CLOCK
// (second chance): an approximation of least-recently-used.
type keyCache struct {
	max      int // configured bound; <= 0 disables the cache
	maxAge   time.Duration
	perShard int
	shards   []cacheShard
	shift    uint // 64 - log2(len(shards))

	byVersion sync.Map // versionKey → *cacheEntry
	byCurrent sync.Map // currentKey → *cacheEntry

	evictMu sync.RWMutex // read: put; write: evictions that bump gen
	gen     atomic.Uint64

	hits   [cacheStripes]paddedCounter
	misses atomic.Uint64
}

// cacheStripes is the number of hit counters: a hit adds to a random one,
// so concurrent hits rarely write the same cache line.
const cacheStripes = 16

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

type cacheShard struct {
	mu        sync.Mutex
	ring      []*cacheEntry // CLOCK ring, len <= perShard
	hand      int
	bySubject map[SubjectRef][]*cacheEntry
	evictions uint64 // under mu
	_         [32]byte
}

func newKeyCache(max int, maxAge time.Duration) *keyCache {
	n := 1
	if max >= 128 {
		n = min(64, 1<<(bits.Len(uint(max/128))-1))
	}
	c := &keyCache{
		max:      max,
		maxAge:   maxAge,
		perShard: (max + n - 1) / n,
		shards:   make([]cacheShard, n),
		shift:    uint(64 - bits.TrailingZeros(uint(n))),
	}
	for i := range c.shards {
		c.shards[i].bySubject = make(map[SubjectRef][]*cacheEntry)
	}
	return c
}

// shardOf picks the shard of (id, version) by Fibonacci hashing of the
// identifier's first bytes (an HMAC output, so uniform already) and the
// version.
func (c *keyCache) shardOf(vk versionKey) *cacheShard {
	h := (binary.LittleEndian.Uint64(vk.id[:8]) ^ uint64(vk.version)) * 0x9e3779b97f4a7c15
	return &c.shards[h>>c.shift]
}

// loadTicket is taken before a load reads the keystore: the generation
// the result may be inserted under, and the time its age counts from.
type loadTicket struct {
	gen  uint64
	time int64
}

func (c *keyCache) begin() loadTicket {
	now := clockNow()
	return loadTicket{c.gen.Load(), now}
}

// serve returns e's key unless e was removed or is older than maxAge.
func (c *keyCache) serve(e *cacheEntry) *Key {
	if e.dead.Load() {
		return nil
	}
	if age := time.Duration(clockNow() - e.loaded); age >= c.maxAge {
		s := e.shard
		s.mu.Lock()
		if !e.dead.Load() {
			c.remove(s, e)
		}
		s.mu.Unlock()
		return nil
	}
	if !e.referenced.Load() {
		e.referenced.Store(true)
	}
	return e.key
}

func (c *keyCache) count(k *Key) {
	if k == nil {
		c.misses.Add(1)
	} else {
		c.hits[rand.Uint32()%cacheStripes].n.Add(1)
	}
}

func (c *keyCache) getCurrent(subject, purpose string) *Key {
	var k *Key
	if c.max > 0 {
		if e, ok := c.byCurrent.Load(currentKey{subject, purpose}); ok {
			k = c.serve(e.(*cacheEntry))
		}
	}
	c.count(k)
	return k
}

func (c *keyCache) getVersion(id KeyID, version uint32) *Key {
	var k *Key
	if c.max > 0 {
		if e, ok := c.byVersion.Load(versionKey{id, version}); ok {
			k = c.serve(e.(*cacheEntry))
		}
	}
	c.count(k)
	return k
}

// put inserts k if no eviction happened since t was taken; its age counts
// from t. cur, if not nil, makes k the current key of that (subject,
// purpose).
func (c *keyCache) put(k *Key, cur *currentKey, t loadTicket) {
	if c.max <= 0 {
		return
	}
	c.evictMu.RLock()
	defer c.evictMu.RUnlock()
	if c.gen.Load() != t.gen {
		return
	}
	vk := versionKey{k.id, k.version}
	s := c.shardOf(vk)
	s.mu.Lock()
	var e *cacheEntry
	if v, ok := c.byVersion.Load(vk); ok {
		e = v.(*cacheEntry) // under s.mu, so not dead
		e.referenced.Store(true)
	} else {
		e = &cacheEntry{key: k, loaded: t.time, shard: s}
		for len(s.ring) >= c.perShard {
			c.evictOne(s)
		}
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		s.bySubject[k.subject] = append(s.bySubject[k.subject], e)
		c.byVersion.Store(vk, e)
	}
	if cur != nil {
		if e.cur == nil {
			e.cur = cur
		}
		c.byCurrent.Store(*cur, e)
	}
	s.mu.Unlock()
}

// evictOne removes the first entry the CLOCK hand finds unreferenced,
// clearing the bits it passes. s.mu is held and s.ring is not empty.
func (c *keyCache) evictOne(s *cacheShard) {
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := s.ring[s.hand]
		if e.referenced.Load() {
			e.referenced.Store(false)
			s.hand++
			continue
		}
		c.remove(s, e)
		return
	}
}

// remove drops e from the cache; s is e's shard and s.mu is held.
func (c *keyCache) remove(s *cacheShard, e *cacheEntry) {
	e.dead.Store(true)
	c.byVersion.CompareAndDelete(versionKey{e.key.id, e.key.version}, e)
	if e.cur != nil {
		c.byCurrent.CompareAndDelete(*e.cur, e)
	}
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[e.slot] = moved
	moved.slot = e.slot
	s.ring[last] = nil
	s.ring = s.ring[:last]
	list := s.bySubject[e.key.subject]
	for i, x := range list {
		if x == e {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(s.bySubject, e.key.subject)
	} else {
		s.bySubject[e.key.subject] = list
	}
	s.evictions++
}

// evictSubject drops every key of subject and bumps the generation. Once
// it returns, no lookup serves them.
func (c *keyCache) evictSubject(subject SubjectRef) {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for len(s.bySubject[subject]) > 0 {
			c.remove(s, s.bySubject[subject][0])
		}
		s.mu.Unlock()
	}
}

// evictCurrent forgets which version is current for (subject, purpose).
func (c *keyCache) evictCurrent(subject, purpose string) {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	c.gen.Add(1)
	c.byCurrent.Delete(currentKey{subject, purpose})
}

func (c *keyCache) evictAll() {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for len(s.ring) > 0 {
			c.remove(s, s.ring[len(s.ring)-1])
		}
		s.mu.Unlock()
	}
}

func (c *keyCache) stats() CacheStats {
	var st CacheStats
	for i := range c.hits {
		st.Hits += c.hits[i].n.Load()
	}
	st.Misses = c.misses.Load()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += len(s.ring)
		st.Evictions += s.evictions
		s.mu.Unlock()
	}
	return st
}
