package keys

import (
	"context"
	"log/slog"
	"time"
)

// announceTimeout bounds how long Forget waits for a [keystore.Broadcaster].
const announceTimeout = 5 * time.Second

// announce hands a committed Forget to Config.Watcher's Broadcaster, if it
// has one. A failure does not fail the Forget: the tombstone is committed,
// and the other processes' watchers find it in the keystore (or their
// cache MaxAge runs out). It is logged without the subject.
func (kr *Keyring) announce(ctx context.Context, t Tombstone) {
	if kr.broadcast == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	t.Reason = "" // never announced
	if err := kr.broadcast.Forgotten(ctx, t); err != nil {
		slog.WarnContext(ctx, "keys: forget committed, but announcing it to other processes failed; "+
			"they find it in the keystore or within their cache MaxAge", "err", err)
	}
}
