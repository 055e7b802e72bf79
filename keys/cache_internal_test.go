package keys

import (
	"testing"
	"time"
)

// fakeClocks makes the cache's clocks read *mono and *wall, from a fresh
// clock state, for the duration of t.
func fakeClocks(t *testing.T) (mono, wall *int64) {
	m, w := new(int64), new(int64)
	*m, *w = 1e9, 1_700_000_000e9
	savedMono, savedBoth := monoNow, bothNow
	reset := func() {
		clockMu.Lock()
		clockSuspended.Store(0)
		clockChecked.Store(0)
		clockOffset, clockInit = 0, false
		clockMu.Unlock()
	}
	monoNow = func() int64 { return *m }
	bothNow = func() (int64, int64) { return *m, *w }
	reset()
	clockNow() // first comparison: the baseline
	t.Cleanup(func() {
		monoNow, bothNow = savedMono, savedBoth
		reset()
	})
	return m, w
}

// TestCacheAgeInWallTime: while a machine is suspended the monotonic clock
// stops and the wall clock runs on; the cache bound must hold in wall time.
func TestCacheAgeInWallTime(t *testing.T) {
	const maxAge = time.Minute
	for _, tc := range []struct {
		name         string
		dMono, dWall time.Duration
		served       bool
	}{
		{"fresh", time.Second, time.Second, true},
		{"suspended past MaxAge", time.Second, maxAge, false}, // monotonic stopped, wall ran
		{"wall clock set back", maxAge, -time.Hour, false},    // the monotonic clock still counts
		{"both just under", maxAge - time.Nanosecond, maxAge - time.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mono, wall := fakeClocks(t)
			c := newKeyCache(10, maxAge)
			k := &Key{id: KeyID{1}, version: 1}
			c.put(k, nil, c.begin())
			*mono, *wall = *mono+int64(tc.dMono), *wall+int64(tc.dWall)
			got := c.getVersion(k.id, 1)
			if (got != nil) != tc.served {
				t.Fatalf("served = %v, want %v (monotonic +%v, wall %+v)", got != nil, tc.served, tc.dMono, tc.dWall)
			}
		})
	}
}

// TestCacheClockCatchesUpAfterResume: a resume is noticed within
// clockCheckEvery of monotonic time, and setting the system clock back
// never slows the cache clock.
func TestCacheClockCatchesUpAfterResume(t *testing.T) {
	mono, wall := fakeClocks(t)
	start := clockNow()
	*wall += int64(time.Hour) // suspended for an hour: only the wall clock ran
	*mono += int64(clockCheckEvery)
	if got := time.Duration(clockNow() - start); got < time.Hour {
		t.Fatalf("%v after a resume, the clock counted %v, want at least an hour", clockCheckEvery, got)
	}
	before := clockNow()
	*wall -= int64(24 * time.Hour) // set back a day
	*mono += int64(time.Second)
	*wall += int64(time.Second)
	if got := time.Duration(clockNow() - before); got != time.Second {
		t.Fatalf("after setting the wall clock back, a second of monotonic time counted %v, want 1s", got)
	}
}

// TestCacheAgeCountsFromTheRead: the age of an entry starts when the
// keystore read that fetched it began, not when the (slow) unwrap ended.
func TestCacheAgeCountsFromTheRead(t *testing.T) {
	mono, wall := fakeClocks(t)
	c := newKeyCache(10, 300*time.Millisecond)
	ticket := c.begin()                                                                 // before the keystore read
	*mono, *wall = *mono+int64(400*time.Millisecond), *wall+int64(400*time.Millisecond) // a 400 ms unwrap
	k := &Key{id: KeyID{1}, version: 1}
	c.put(k, nil, ticket)
	if c.getVersion(k.id, 1) != nil {
		t.Fatal("an entry read 400 ms ago was served under a 300 ms MaxAge")
	}
}

func testKey(subject byte, id uint64, version uint32) *Key {
	k := &Key{version: version, subject: SubjectRef{subject}}
	for i := range 8 {
		k.id[i] = byte(id >> (8 * i))
	}
	k.id[8] = subject
	return k
}

// TestCacheShardedBound: a large cache is sharded and holds at most its
// bound rounded up to a multiple of the shard count; a small one is exact.
func TestCacheShardedBound(t *testing.T) {
	for _, max := range []int{1, 2, 10, 127, 128, 1000, 10_000} {
		c := newKeyCache(max, time.Hour)
		n := len(c.shards)
		for i := range 3 * max {
			c.put(testKey(byte(i%7), uint64(i)*0x9e3779b97f4a7c15, 1), nil, c.begin())
		}
		limit := (max + n - 1) / n * n
		st := c.stats()
		if st.Entries > limit || (n == 1 && st.Entries != max) {
			t.Errorf("max %d, %d shards: %d entries, want at most %d", max, n, st.Entries, limit)
		}
		if uint64(3*max-st.Entries) != st.Evictions {
			t.Errorf("max %d: %d evictions for %d inserts and %d entries", max, st.Evictions, 3*max, st.Entries)
		}
	}
}

// TestCacheClockKeepsReferenced: the CLOCK hand spares an entry hit since
// its last pass.
func TestCacheClockKeepsReferenced(t *testing.T) {
	c := newKeyCache(3, time.Hour)
	a, b, d := testKey(1, 1, 1), testKey(1, 2, 1), testKey(1, 3, 1)
	for _, k := range []*Key{a, b, d} {
		c.put(k, nil, c.begin())
	}
	c.getVersion(a.id, 1)
	c.put(testKey(1, 4, 1), nil, c.begin())
	if c.getVersion(a.id, 1) == nil {
		t.Error("the referenced entry was evicted")
	}
	if c.getVersion(b.id, 1) != nil {
		t.Error("the unreferenced oldest entry was kept")
	}
}

// TestCacheEvictSubjectUsesIndex: evicting a subject removes exactly its
// entries, through the per-subject index, and stops a load that began
// before from inserting.
func TestCacheEvictSubjectUsesIndex(t *testing.T) {
	c := newKeyCache(10_000, time.Hour)
	for i := range 1000 {
		c.put(testKey(byte(i%10), uint64(i)<<20, 1), &currentKey{string(rune('a' + i%10)), "p" + string(rune(i))}, c.begin())
	}
	racing := c.begin() // a load of subject 3 begins
	c.evictSubject(SubjectRef{3})
	c.put(testKey(3, 99, 1), nil, racing)
	st := c.stats()
	if st.Entries != 900 || st.Evictions != 100 {
		t.Fatalf("after evicting one subject of ten: %+v, want 900 entries, 100 evictions", st)
	}
	for i := range c.shards {
		if len(c.shards[i].bySubject[SubjectRef{3}]) != 0 {
			t.Fatal("the subject index still lists the evicted subject")
		}
	}
	if c.getVersion(testKey(3, 99, 1).id, 1) != nil {
		t.Fatal("a load that began before the eviction inserted its key")
	}
	n := 0
	c.byCurrent.each(func(cs *currentSet) {
		for _, r := range cs.refs {
			if r.e.key.subject == (SubjectRef{3}) {
				t.Error("a current pointer to the evicted subject is left")
			}
			n++
		}
	})
	if n != 900 {
		t.Errorf("%d current pointers, want 900", n)
	}
}

// TestLookupClockReading: a hit on the current key returns the cache
// clock reading it checked the age with, which Current hands to the
// activity tracking instead of reading the clock again; a miss read none.
func TestLookupClockReading(t *testing.T) {
	mono, _ := fakeClocks(t)
	c := newKeyCache(10, time.Hour)
	k := &Key{id: KeyID{1}, version: 1}
	c.put(k, &currentKey{"customer-1", "contact"}, c.begin())
	*mono += int64(time.Minute)
	got, now := c.getCurrent("customer-1", "contact")
	if got != k {
		t.Fatal("the cached current key was not served")
	}
	if want := clockNow(); now != want {
		t.Fatalf("hit returned clock reading %d, want the clock now (%d)", now, want)
	}
	if got, now := c.getCurrent("customer-2", "contact"); got != nil || now != 0 {
		t.Fatalf("miss returned (%v, %d), want (nil, 0)", got, now)
	}
}
