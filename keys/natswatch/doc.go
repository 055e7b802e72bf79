// Package natswatch carries crypto-shredding Forgets between processes over
// NATS JetStream, for keystores that cannot push them themselves (MySQL,
// MariaDB and SQLite poll every 250 ms; see keys/sqlstore) or when one
// message bus should serve every keystore. A [Watcher] is both the
// keys.Config.Watcher of a Keyring, evicting the subjects other processes
// forget, and its keystore.Broadcaster, publishing the ones it forgets:
//
//	w, err := natswatch.New(ctx, natswatch.Options{Store: store, URL: "nats://nats:4222"})
//	kr, err := keys.Open(ctx, keys.Config{KMS: kms, Store: store, Watcher: w})
//
// # Events
//
// An event is a subject's reference (the keystore's keyed hash,
// keys.SubjectRef, never the identifier) and the tombstone's time; nothing
// else, no reason, no key. keys.Keyring.Forget publishes it after the
// keystore committed the Forget, so an event never announces a Forget that
// did not happen; a failed publish is logged and does not fail the Forget.
// Latency: one publish and one delivery, a millisecond or two after Forget
// returns (measured between processes on one machine; the keystore's
// commit comes before it).
//
// # The keystore stays the source of truth
//
// A Forget whose event is lost — NATS was down, the publishing process died
// between commit and publish, the stream dropped it — is found in the
// keystore, if the Store implements keystore.TombstoneLister (keys/sqlstore
// and keys/memstore do): Watch reads the tombstones recorded since the
// newest one it saw (less a 5 s lookback) when it starts, right after the
// stream comes back, every Options.PollInterval (250 ms) while the stream
// is unavailable, and every Options.ReconcileInterval (30 s) while it
// works. Each read is one indexed range query.
//
// # Positions and replay
//
// With Options.Durable, each process has a durable consumer: the server
// keeps its position, so a process that was disconnected, paused or
// restarted (for less than Options.InactiveThreshold, 24 hours by default)
// replays the events it missed (acknowledged one by one,
// redelivered after Options.AckWait). Without it, an ordered consumer
// starts at the newest event when Watch starts and, after a lost
// connection or consumer, resumes after the last sequence it received.
//
// # Stream retention
//
// New creates the stream (Options.Stream, on Options.Subject) if it is
// missing: file storage, limits retention, the oldest events discarded
// first beyond Options.MaxAge (7 days) or Options.MaxMsgs (1,000,000),
// duplicate window 2 minutes (the message ID is the subject reference and
// time, so a repeated Forget is one event). An existing stream is used as
// it is. Replay reaches back no further than the retention; the keystore
// and the cache bound still hold beyond it.
//
// # The bound
//
// The cache max age remains the hard bound: whatever happens to NATS, the
// stream, the keystore reads or the process, a key is never served from
// memory for longer than keys.Config.CacheMaxAge plus keys.MaxAgeSlack
// after it was read from the keystore. The watcher only makes Forgets
// arrive sooner. Lower CacheMaxAge to tighten the bound.
//
// # Health
//
// [Watcher.Health] reports whether the stream works, the mode (stream or
// polling), how many events are pending and the lag, for a readiness
// probe; [Metrics] takes callbacks for a metrics system. Nothing this
// package logs or returns carries a subject reference, a key or
// plaintext.
package natswatch
