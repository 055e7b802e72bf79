package keys

import (
	"testing"
	"time"
)

// TestCacheAgeInWallTime: while a machine is suspended the monotonic clock
// stops and the wall clock runs on; the cache bound must hold in wall time.
func TestCacheAgeInWallTime(t *testing.T) {
	var mono, wall int64 = 1e9, 1_700_000_000e9
	saved := clockNow
	clockNow = func() (int64, int64) { return mono, wall }
	t.Cleanup(func() { clockNow = saved })

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
			c := newKeyCache(10, maxAge)
			k := &Key{id: KeyID{1}, version: 1}
			c.put(k, nil, c.begin())
			mono, wall = mono+int64(tc.dMono), wall+int64(tc.dWall)
			got := c.getVersion(k.id, 1)
			if (got != nil) != tc.served {
				t.Fatalf("served = %v, want %v (monotonic +%v, wall %+v)", got != nil, tc.served, tc.dMono, tc.dWall)
			}
		})
	}
}

// TestCacheAgeCountsFromTheRead: the age of an entry starts when the
// keystore read that fetched it began, not when the (slow) unwrap ended.
func TestCacheAgeCountsFromTheRead(t *testing.T) {
	var mono, wall int64 = 1e9, 1_700_000_000e9
	saved := clockNow
	clockNow = func() (int64, int64) { return mono, wall }
	t.Cleanup(func() { clockNow = saved })

	c := newKeyCache(10, 300*time.Millisecond)
	ticket := c.begin()                                                             // before the keystore read
	mono, wall = mono+int64(400*time.Millisecond), wall+int64(400*time.Millisecond) // a 400 ms unwrap
	k := &Key{id: KeyID{1}, version: 1}
	c.put(k, nil, ticket)
	if c.getVersion(k.id, 1) != nil {
		t.Fatal("an entry read 400 ms ago was served under a 300 ms MaxAge")
	}
}
