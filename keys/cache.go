package keys

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
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
// slot, cur and curHash are guarded by the shard's mutex.
type cacheEntry struct {
	key     *Key
	loaded  int64 // clockNow when the keystore read began
	shard   *cacheShard
	slot    int         // index in shard.ring
	cur     *currentRef // the current pointer made for this version, if any
	curHash uint64

	// referenced is the CLOCK bit: set by a hit, cleared by the eviction
	// hand passing by. It is only written when it changes, so hits on a
	// hot entry do not bounce its cache line between cores.
	referenced atomic.Bool
	// dead is set, under the shard's mutex, when the entry is removed; a
	// lookup that found the entry before its removal then misses.
	dead atomic.Bool
}

// currentRef names the current version of a (subject, purpose). It is
// immutable: making another version current stores a new one.
type currentRef struct {
	subject, purpose string
	e                *cacheEntry
}

// currentSet is the current versions of every (subject, purpose) whose
// subject has one hash: the purposes of a subject, and any subject whose
// hash collides. It is immutable.
type currentSet struct{ refs []*currentRef }

func (cs *currentSet) find(subject, purpose string) *currentRef {
	for _, r := range cs.refs {
		if r.purpose == purpose && r.subject == subject {
			return r
		}
	}
	return nil
}

// with returns the set with r in place of any ref of its (subject,
// purpose).
func (cs *currentSet) with(r *currentRef) *currentSet {
	next := &currentSet{refs: make([]*currentRef, 0, 1+len(cs.refs))}
	for _, x := range cs.refs {
		if x.subject != r.subject || x.purpose != r.purpose {
			next.refs = append(next.refs, x)
		}
	}
	next.refs = append(next.refs, r)
	return next
}

// without returns the set without the refs drop matches, or nil if none
// is left.
func (cs *currentSet) without(drop func(*currentRef) bool) *currentSet {
	next := &currentSet{}
	for _, x := range cs.refs {
		if !drop(x) {
			next.refs = append(next.refs, x)
		}
	}
	if len(next.refs) == 0 {
		return nil
	}
	return next
}

// keyCache holds unwrapped keys, bounded by entry count and age.
//
// # Concurrency
//
// Lookups take no lock. The two indexes — key versions by (id, version),
// current versions by (subject, purpose) — are split into many small
// copy-on-write maps, chosen by a 64-bit hash of the lookup key and keyed
// by it, read through an atomic pointer; a hit verifies the entry's own
// key, so a hash collision costs a miss, never a wrong key. A hit writes
// nothing shared except an entry's CLOCK bit the first time it is hit
// after a sweep and one of cacheStripes hit counters. Every hit still
// checks the entry's age against the cache clock and its dead flag, so an
// entry removed by an eviction is never served by a lookup that starts
// after the eviction returned.
//
// Inserts and removals are serialised per shard: an entry belongs to the
// shard its (id, version) hashes to, which holds the CLOCK ring that
// bounds its size and an index of its entries by subject, so evicting a
// subject costs O(shards + the subject's entries), not O(cache). Writing
// an index map copies it: O(max/indexShardSize) per insert or removal, on
// the cold path only.
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

	byVersion cowIndex[*cacheEntry]
	byCurrent cowIndex[*currentSet] // by hashSubject

	evictMu sync.RWMutex // read: put; write: evictions that bump gen
	gen     atomic.Uint64

	hits   [cacheStripes]paddedCounter
	misses atomic.Uint64
}

// cacheStripes is the number of hit counters: a hit adds to a random one,
// so concurrent hits rarely write the same cache line.
const cacheStripes = 16

// indexShardSize is the number of entries an index map holds on average
// in a full cache.
const indexShardSize = 32

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

// cowIndex is a map from 64-bit hashes to pointers, split into shards by
// the hash's high bits. Each shard is an immutable open-addressing table
// read through an atomic pointer and replaced whole on a write: lock-free
// reads at the cost of copying the shard (about indexShardSize entries)
// on every write, which only the cold path does.
type cowIndex[V comparable] struct {
	shards []cowShard[V]
	shift  uint
}

type cowShard[V comparable] struct {
	mu sync.Mutex // serialises writers
	t  atomic.Pointer[cowTable[V]]
	_  [48]byte
}

// cowTable is a linear-probing table of len(slots) (a power of two) slots,
// at most half full; a slot whose v is the zero value is empty.
type cowTable[V comparable] struct {
	mask  uint64
	n     int
	slots []cowSlot[V]
}

type cowSlot[V comparable] struct {
	h uint64
	v V
}

func (x *cowIndex[V]) init(n int) {
	x.shards = make([]cowShard[V], n)
	x.shift = uint(64 - bits.TrailingZeros(uint(n)))
}

func (x *cowIndex[V]) load(h uint64) V {
	var zero V
	if len(x.shards) == 0 {
		return zero
	}
	t := x.shards[h>>x.shift].t.Load()
	if t == nil {
		return zero
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.v == zero || s.h == h {
			return s.v
		}
	}
}

// rebuild returns a table holding old's entries but skip (if del), and
// h → v unless del.
func rebuild[V comparable](old *cowTable[V], h uint64, v V, del bool) *cowTable[V] {
	var zero V
	n := 0
	if old != nil {
		n = old.n
	}
	size := 8
	for size < 2*(n+1) {
		size *= 2
	}
	t := &cowTable[V]{mask: uint64(size - 1), slots: make([]cowSlot[V], size)}
	add := func(h uint64, v V) {
		i := h & t.mask
		for t.slots[i].v != zero {
			i = (i + 1) & t.mask
		}
		t.slots[i] = cowSlot[V]{h, v}
		t.n++
	}
	if old != nil {
		for _, s := range old.slots {
			if s.v != zero && s.h != h {
				add(s.h, s.v)
			}
		}
	}
	if !del {
		add(h, v)
	}
	return t
}

func (x *cowIndex[V]) store(h uint64, v V) {
	x.update(h, func(V) V { return v })
}

// update replaces the value of h with f(its value, or the zero value); a
// zero result deletes h.
func (x *cowIndex[V]) update(h uint64, f func(V) V) {
	var zero V
	s := &x.shards[h>>x.shift]
	s.mu.Lock()
	defer s.mu.Unlock()
	old := x.load(h)
	v := f(old)
	if v == old {
		return
	}
	s.t.Store(rebuild(s.t.Load(), h, v, v == zero))
}

// each calls f for every value.
func (x *cowIndex[V]) each(f func(V)) {
	var zero V
	for i := range x.shards {
		if t := x.shards[i].t.Load(); t != nil {
			for _, s := range t.slots {
				if s.v != zero {
					f(s.v)
				}
			}
		}
	}
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
	if max > 0 {
		idx := 1
		if max >= 2*indexShardSize {
			idx = min(1<<13, 1<<(bits.Len(uint(max/indexShardSize))-1))
		}
		c.byVersion.init(idx)
		c.byCurrent.init(idx)
	}
	return c
}

var cacheSeed = maphash.MakeSeed()

// hashVersion hashes (id, version) by Fibonacci hashing of the
// identifier's first bytes (an HMAC output, so uniform already) and the
// version.
func hashVersion(id KeyID, version uint32) uint64 {
	return (binary.LittleEndian.Uint64(id[:8]) ^ uint64(version)) * 0x9e3779b97f4a7c15
}

// hashSubject hashes a subject identifier; the current versions of its
// purposes share one currentSet.
func hashSubject(subject string) uint64 {
	return maphash.String(cacheSeed, subject)
}

func (c *keyCache) shardOf(h uint64) *cacheShard {
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

// serve returns e's key unless e was removed or is older than maxAge, and
// the clock reading it checked the age with (0 if it read none), which the
// caller may reuse within the same lookup.
func (c *keyCache) serve(e *cacheEntry) (*Key, int64) {
	if e.dead.Load() {
		return nil, 0
	}
	now := clockNow()
	if age := time.Duration(now - e.loaded); age >= c.maxAge {
		s := e.shard
		s.mu.Lock()
		if !e.dead.Load() {
			c.remove(s, e)
		}
		s.mu.Unlock()
		return nil, now
	}
	if !e.referenced.Load() {
		e.referenced.Store(true)
	}
	return e.key, now
}

// count counts a lookup of the key hashing to h, on the hits stripe h
// picks: lookups of different keys rarely share a counter.
func (c *keyCache) count(k *Key, h uint64) {
	if k == nil {
		c.misses.Add(1)
	} else {
		c.hits[h%cacheStripes].n.Add(1)
	}
}

// getCurrent returns the cached current key of (subject, purpose), or nil,
// and the cache clock reading of the lookup (0 if it read none).
func (c *keyCache) getCurrent(subject, purpose string) (k *Key, now int64) {
	var h uint64
	if c.max > 0 {
		h = hashSubject(subject)
		if cs := c.byCurrent.load(h); cs != nil {
			if r := cs.find(subject, purpose); r != nil {
				k, now = c.serve(r.e)
			}
		}
	}
	c.count(k, h)
	return k, now
}

func (c *keyCache) getVersion(id KeyID, version uint32) *Key {
	var k *Key
	var h uint64
	if c.max > 0 {
		h = hashVersion(id, version)
		if e := c.byVersion.load(h); e != nil && e.key.id == id && e.key.version == version {
			k, _ = c.serve(e)
		}
	}
	c.count(k, h)
	return k
}

// peekCurrent reports whether the current key of (subject, purpose) is
// cached and fresh, without counting a lookup.
func (c *keyCache) peekCurrent(subject, purpose string) bool {
	cs := c.byCurrent.load(hashSubject(subject))
	if cs == nil {
		return false
	}
	r := cs.find(subject, purpose)
	return r != nil && !r.e.dead.Load() && time.Duration(clockNow()-r.e.loaded) < c.maxAge
}

// peekVersion is peekCurrent for one key version.
func (c *keyCache) peekVersion(id KeyID, version uint32) bool {
	e := c.byVersion.load(hashVersion(id, version))
	return e != nil && e.key.id == id && e.key.version == version && !e.dead.Load() &&
		time.Duration(clockNow()-e.loaded) < c.maxAge
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
	hv := hashVersion(k.id, k.version)
	s := c.shardOf(hv)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := c.byVersion.load(hv)
	if e != nil && e.key.id == k.id && e.key.version == k.version {
		e.referenced.Store(true) // under s.mu, so not dead
	} else {
		e = &cacheEntry{key: k, loaded: t.time, shard: s}
		for len(s.ring) >= c.perShard {
			c.evictOne(s)
		}
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		s.bySubject[k.subject] = append(s.bySubject[k.subject], e)
		c.byVersion.store(hv, e)
	}
	if cur != nil {
		r := &currentRef{subject: cur.subject, purpose: cur.purpose, e: e}
		e.cur, e.curHash = r, hashSubject(cur.subject)
		c.byCurrent.update(e.curHash, func(cs *currentSet) *currentSet {
			if cs == nil {
				return &currentSet{refs: []*currentRef{r}}
			}
			return cs.with(r)
		})
	}
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
	c.byVersion.update(hashVersion(e.key.id, e.key.version), func(x *cacheEntry) *cacheEntry {
		if x == e {
			return nil
		}
		return x
	})
	if r := e.cur; r != nil {
		c.dropCurrent(e.curHash, func(x *currentRef) bool { return x == r })
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
	c.dropCurrent(hashSubject(subject), func(r *currentRef) bool {
		return r.subject == subject && r.purpose == purpose
	})
}

// dropCurrent removes the current pointers under h that drop matches.
func (c *keyCache) dropCurrent(h uint64, drop func(*currentRef) bool) {
	c.byCurrent.update(h, func(cs *currentSet) *currentSet {
		if cs == nil || !slices.ContainsFunc(cs.refs, drop) {
			return cs
		}
		return cs.without(drop)
	})
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
