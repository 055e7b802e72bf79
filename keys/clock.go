package keys

import (
	"sync"
	"sync/atomic"
	"time"
)

// The cache's clock counts like Linux's CLOCK_BOOTTIME: the monotonic clock
// plus the time the machine spent suspended, which the monotonic clock does
// not count. Go reads only the monotonic and the wall clock cheaply, and
// reading both costs twice one, so every reading takes the monotonic clock
// alone, and at most every clockCheckEvery of it the wall clock too: when
// the wall clock has run ahead of the monotonic clock since the last
// comparison (a suspend, a VM pause, a checkpoint/restore, or the system
// clock set forward), the difference is added to the clock for good. The
// clock never runs slower than the monotonic clock, so setting the system
// clock back shortens no age, and after a resume it catches up within
// clockCheckEvery of monotonic time.
//
// Every cache hit reads this clock, about 30 ns on a VM whose clock source
// is the TSC (the vDSO reads it with RDTSCP): a freshness check needs an
// upper bound on the current time, and no value kept in memory gives one.
// A clock advanced by a background ticker would serve an expired key for
// as long as the ticker runs late — a stall of the ticker goroutine, or a
// resume before it wakes — and its wakeups cost more CPU than the reads it
// saves below about a million lookups a second; so MaxAgeSlack covers only
// the time between the check and the key's use.
const clockCheckEvery = 500 * time.Microsecond

var (
	clockStart = time.Now()

	// Tests replace these.
	monoNow = func() int64 { return int64(time.Since(clockStart)) }
	bothNow = func() (mono, wall int64) {
		now := time.Now()
		return int64(now.Sub(clockStart)), now.UnixNano()
	}

	clockSuspended atomic.Int64 // ns the wall clock ran ahead, in all
	clockChecked   atomic.Int64 // monoNow at the last comparison
	clockMu        sync.Mutex   // held by the one goroutine comparing
	clockOffset    int64        // wall - mono at the last comparison, under clockMu
	clockInit      bool         // clockOffset is set, under clockMu
)

// clockNow returns the cache clock in nanoseconds.
func clockNow() int64 {
	mono := monoNow()
	if mono-clockChecked.Load() >= int64(clockCheckEvery) {
		compareClocks()
		mono = monoNow()
	}
	return mono + clockSuspended.Load()
}

func compareClocks() {
	if !clockMu.TryLock() {
		return // another goroutine compares right now
	}
	defer clockMu.Unlock()
	mono, wall := bothNow()
	off := wall - mono
	if clockInit && off > clockOffset {
		clockSuspended.Add(off - clockOffset)
	}
	clockOffset, clockInit = off, true
	clockChecked.Store(mono)
}
