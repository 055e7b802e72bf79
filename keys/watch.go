package keys

import "context"

// Watcher is an optional capability of a [Store] shared by several
// processes: it tells each process which subjects were forgotten, by any
// process, so that their keys leave every cache long before the cache's
// MaxAge runs out.
//
// [Open] starts watching when cfg.Store implements Watcher (unless
// Config.DisableWatch is set) and calls [Keyring.Evict] for every reported
// subject; [Keyring.Close] stops it. Most users won't call Watch
// themselves: keys/sqlstore implements it (PostgreSQL: LISTEN/NOTIFY;
// MySQL/MariaDB and SQLite: polling the tombstones).
//
// # The bound
//
// A Forget in one process stops every other watching process from using
// the subject's keys within the Watcher's latency (PostgreSQL: the time to
// deliver a notification, typically a few milliseconds; polling stores: the
// poll interval plus one query). When a report is lost — the connection
// drops, the process is paused, the database is unreachable — the cache's
// age limit still applies: a key is never served from memory for longer
// than Config.CacheMaxAge + [MaxAgeSlack] after it was read from the
// keystore (1 minute + 1 ms by default). Lower CacheMaxAge to tighten that
// hard bound.
type Watcher interface {
	// Watch calls forgotten with the reference of every subject forgotten
	// in the keystore from about when Watch is called until ctx is done,
	// by this or any other process. A subject may be reported more than
	// once. Watch recovers from lost connections by itself and, where it
	// can, reports the subjects forgotten while it was disconnected; it
	// returns only when ctx is done or it can no longer watch at all (the
	// Store was closed), and the Keyring then stops watching. forgotten
	// must not block for long; it is called from one goroutine at a time.
	Watch(ctx context.Context, forgotten func(SubjectRef)) error
}

// watch runs w until Close, evicting every subject it reports.
func (kr *Keyring) watch(w Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	kr.stopWatch, kr.watchDone = cancel, done
	go func() {
		defer close(done)
		_ = w.Watch(ctx, kr.Evict)
	}()
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
// Store implements [Watcher], Config.DisableWatch was not set, and neither
// Close nor the Store's end stopped it.
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
