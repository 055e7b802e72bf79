package keystore

import (
	"context"
	"time"
)

// Broadcaster is an optional capability of a [Watcher] that carries
// Forgets itself rather than reading them from the keystore (keys/natswatch,
// over NATS JetStream): keys.Keyring.Forget calls Forgotten once the
// Store's Forget has returned without error, that is after the tombstone
// is committed, so that a Forget is never announced before it holds. The
// keystore stays the source of truth: a Broadcaster's Watcher must still
// find, in the keystore, the Forgets whose announcement was lost (the
// publishing process died between commit and publish, the message bus was
// down), for example through a [TombstoneLister].
//
// keys.Keyring.Forget does not fail when Forgotten does: the subject is
// forgotten either way. It logs the failure (log/slog, without the
// subject) and returns the tombstone.
type Broadcaster interface {
	// Forgotten announces that t.Subject was forgotten at t.ForgottenAt
	// to the other processes watching the keystore. It must not announce
	// t.Reason or anything else but the subject's reference and the time,
	// and should return within a few seconds whatever ctx allows.
	Forgotten(ctx context.Context, t Tombstone) error
}

// TombstoneLister is an optional capability of a [Store]: listing the
// tombstones recorded since a time, for a [Watcher] that catches up from
// the keystore on what its own channel missed (keys/natswatch).
// keys/sqlstore and keys/memstore implement it;
// keystest.RunTombstoneListerTests checks it.
type TombstoneLister interface {
	// TombstonesSince returns every tombstone whose ForgottenAt is at or
	// after since, oldest first. Only Subject and ForgottenAt need be set.
	// ForgottenAt is the time the forgetting process read from its own
	// clock before its transaction began, so a tombstone can become
	// visible after a newer one: callers look back a few seconds further
	// than the newest tombstone they saw.
	TombstonesSince(ctx context.Context, since time.Time) ([]Tombstone, error)
}
