package keystore

import "context"

// Watcher is an optional capability of a [Store] shared by several
// processes: it tells each process which subjects were forgotten, by any
// process, so that their keys leave every cache long before the cache's
// MaxAge runs out.
//
// keys.Open starts watching when its Config.Store implements Watcher, or
// with Config.Watcher, which takes precedence (unless Config.DisableWatch
// is set), and calls keys.Keyring.Evict for every reported subject;
// keys.Keyring.Close stops it. keys/sqlstore implements it (PostgreSQL:
// LISTEN/NOTIFY; MySQL/MariaDB and SQLite: polling the tombstones), and
// keys/natswatch for any Store, over NATS JetStream (see [Broadcaster]).
//
// # The bound
//
// A Forget in one process stops every other watching process from using
// the subject's keys within the Watcher's latency (PostgreSQL: the time to
// deliver a notification, typically a few milliseconds; polling stores: the
// poll interval plus one query). When a report is lost — the connection
// drops, the process is paused, the database is unreachable — the cache's
// age limit still applies: a key is never served from memory for longer
// than Config.CacheMaxAge + keys.MaxAgeSlack after it was read from the
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

// ForgottenLister is an optional capability of a [Store]: it tells which
// of many subjects have a tombstone in one round trip, for
// keys.Keyring.ForgottenRefs. keys/sqlstore and keys/memstore implement
// it; most users won't.
type ForgottenLister interface {
	// ForgottenAmong returns those of refs that have a tombstone, in any
	// order, each once. Keyrings pass at most [ForgottenBatch] refs.
	ForgottenAmong(ctx context.Context, refs []SubjectRef) ([]SubjectRef, error)
}

// ForgottenBatch is the most references keys.Keyring.ForgottenRefs hands
// to one ForgottenLister call.
const ForgottenBatch = 500
