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
