package keys

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// DefaultExpireBatch is the number of keys Expire examines per keystore
// transaction when ExpireOptions.BatchSize is 0.
const DefaultExpireBatch = 200

// ExpireCursor is a position of the expiry sweep: Purpose "" is the first
// phase (destructions scheduled by Erase and Withdraw), then each purpose
// in name order; After is the last key examined. The zero cursor is the
// start.
type ExpireCursor struct {
	Purpose string
	After   KeyID
}

// ExpireOptions configures [Keyring.Expire].
type ExpireOptions struct {
	// Purposes limits the sweep to these purposes' policies; nil means
	// every policy with a timed retention. Scheduled destructions are
	// always carried out.
	Purposes []string
	// BatchSize is the number of keys per keystore transaction; 0 means
	// DefaultExpireBatch.
	BatchSize int
	// Resume starts the sweep at a cursor a Progress callback reported.
	// A sweep started from the beginning again is correct too: keys
	// already destroyed are no longer listed.
	Resume ExpireCursor
	// Progress, if set, is called after every batch.
	Progress func(ExpireProgress)
	// Receipt, if set, is called with the receipt of every destruction
	// (signed when Lifecycle.Receipts is set).
	Receipt func(Receipt)
	// DryRun destroys nothing: the sweep examines the keys as it would
	// and reports in ExpireStats.Keys those it would destroy now (their
	// Destroyed count is 0), with no events, receipts or tombstones.
	DryRun bool
}

// ExpireProgress is reported after every batch of the sweep.
type ExpireProgress struct {
	Cursor    ExpireCursor // where to resume
	Examined  int          // keys examined so far
	Destroyed int          // keys this call destroyed so far
}

// ExpireStats is what [Keyring.Expire] did.
type ExpireStats struct {
	Examined int
	// Keys lists the keys this call destroyed; a key another sweeper
	// destroyed first is not listed.
	Keys []ExpiredKey
	// Forgotten counts the subjects whose last scheduled key this call
	// destroyed, completing their erasure.
	Forgotten int
}

// ExpiredKey is one key Expire destroyed.
type ExpiredKey struct {
	DestroyedKey
	// Scheduled is true for a destruction Erase or Withdraw scheduled.
	Scheduled bool
}

// Expire is the expiry sweep: it destroys every key whose retention ended
// by its purpose's policy (a tombstone of the key with the policy name as
// its reason, EventExpired, a receipt), and every scheduled destruction
// that is due (completing an erasure when it was the subject's last
// one: the subject is then forgotten). Keys under a legal minimum or a
// hold are left. It works in batches, purpose by purpose, reporting
// progress, and can be resumed. Several processes may sweep one keystore
// at once: each key is destroyed by exactly one of them, and each reports
// only the keys it destroyed. Run it periodically (daily, say).
func (kr *Keyring) Expire(ctx context.Context, opts ExpireOptions) (ExpireStats, error) {
	l := kr.life
	if err := l.need("expire"); err != nil {
		return ExpireStats{}, err
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultExpireBatch
	}
	purposes := opts.Purposes
	if purposes == nil {
		for name, p := range l.policies {
			if p.Retention.from == fromCreation || p.Retention.from == fromActivity {
				purposes = append(purposes, name)
			}
		}
	}
	slices.Sort(purposes)
	var st ExpireStats
	now := kr.now().UTC().Truncate(time.Microsecond)
	report := func(c ExpireCursor) {
		if opts.Progress != nil {
			opts.Progress(ExpireProgress{Cursor: c, Examined: st.Examined, Destroyed: len(st.Keys)})
		}
	}
	var busy []KeyID
	due := func(s keystore.KeyState) (string, bool) {
		if s.Scheduled == nil || s.Scheduled.DueAt.After(now) {
			return "", false
		}
		for _, h := range s.Holds {
			if h.Until.After(now) {
				return "", false
			}
		}
		return s.Scheduled.Reason, true
	}
	// Phase 1: scheduled destructions.
	if opts.Resume.Purpose == "" {
		after := opts.Resume.After
		for {
			ids, err := l.store.DueKeys(ctx, now, after, batch)
			if err != nil {
				return st, fmt.Errorf("keys: expire: %w", err)
			}
			if len(ids) == 0 {
				break
			}
			st.Examined += len(ids)
			if err := kr.expireBatch(ctx, &st, ids, now, opts, due, &busy); err != nil {
				return st, err
			}
			after = ids[len(ids)-1]
			report(ExpireCursor{After: after})
		}
		if err := kr.expireBatch(ctx, &st, busy, now, opts, due, nil); err != nil {
			return st, err
		}
		busy = nil
	}
	expired := func(s keystore.KeyState) (string, bool) {
		end, pol, ok := l.expiresAt(s)
		if !ok || end.After(now) {
			return "", false // active again since it was listed
		}
		if until, _ := l.heldUntil(s); until.After(now) {
			return "", false
		}
		return pol.Name, true
	}
	// Phase 2: retention, purpose by purpose.
	for _, purpose := range purposes {
		if opts.Resume.Purpose != "" && purpose < opts.Resume.Purpose {
			continue
		}
		p, ok := l.policies[purpose]
		if !ok || (p.Retention.from != fromCreation && p.Retention.from != fromActivity) {
			continue
		}
		q := keystore.ExpiryQuery{Purpose: purpose, CreatedBefore: now.Add(-p.Retention.d), Limit: batch}
		if p.Retention.from == fromActivity {
			q.ActiveBefore = q.CreatedBefore
		}
		if purpose == opts.Resume.Purpose {
			q.After = opts.Resume.After
		}
		for {
			ids, err := l.store.ExpiredKeys(ctx, q)
			if err != nil {
				return st, fmt.Errorf("keys: expire: %w", err)
			}
			if len(ids) == 0 {
				break
			}
			st.Examined += len(ids)
			if err := kr.expireBatch(ctx, &st, ids, now, opts, expired, &busy); err != nil {
				return st, err
			}
			q.After = ids[len(ids)-1]
			report(ExpireCursor{Purpose: purpose, After: q.After})
		}
		if err := kr.expireBatch(ctx, &st, busy, now, opts, expired, nil); err != nil {
			return st, err
		}
		busy = nil
	}
	return st, nil
}

// expireBatch destroys what decide accepts of ids. With busy nil it waits
// for keys other transactions hold locked; otherwise it appends them to
// *busy, for the caller to come back to, so that concurrent sweepers pass
// each other instead of queueing behind one another.
func (kr *Keyring) expireBatch(ctx context.Context, st *ExpireStats, ids []KeyID, now time.Time, opts ExpireOptions,
	decide func(keystore.KeyState) (string, bool), busy *[]KeyID) error {
	l := kr.life
	scheduled := map[KeyID]*keystore.Scheduled{}
	accept := func(s keystore.KeyState) (string, bool) {
		reason, ok := decide(s)
		if ok && opts.DryRun {
			st.Keys = append(st.Keys, ExpiredKey{Scheduled: s.Scheduled != nil, DestroyedKey: DestroyedKey{
				Subject: s.Subject, Purpose: s.Purpose, Key: s.ID, FirstVersion: s.Lowest, LastVersion: s.Latest, At: now, Reason: reason}})
			return reason, false
		}
		if ok {
			scheduled[s.ID] = s.Scheduled
		}
		return reason, ok
	}
	var done []DestroyedKey
	var err error
	if busy == nil {
		done, err = kr.destroyKeys(ctx, ids, now, accept)
	} else {
		var b []KeyID
		done, b, err = kr.destroyKeysOnce(ctx, ids, now, accept)
		*busy = append(*busy, b...)
	}
	slices.SortFunc(done, func(a, b DestroyedKey) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	for _, d := range done {
		sc := scheduled[d.Key]
		ref := d.Subject
		ek := ExpiredKey{DestroyedKey: d, Scheduled: sc != nil}
		typ := EventExpired
		if sc != nil {
			typ = EventWithdrawn
			if sc.Forget {
				typ = EventForgotten
			}
		}
		st.Keys = append(st.Keys, ek)
		kr.emit(ctx, Event{Type: typ, Subject: ref, Key: d.Key, Purpose: d.Purpose, Reason: d.Reason, Destroyed: d.Destroyed})
		kind := receiptExpire
		if sc != nil {
			kind = receiptScheduled
		}
		r, rerr := kr.receiptFor(ctx, kind, ref, now, d.Reason, []DestroyedKey{d}, nil)
		if rerr != nil && err == nil {
			err = rerr
		}
		if opts.Receipt != nil && rerr == nil {
			opts.Receipt(r)
		}
		if sc != nil && sc.Forget {
			rest, serr := l.store.ScheduledFor(ctx, ref)
			if serr != nil {
				return fmt.Errorf("keys: expire: %w", serr)
			}
			if !slices.ContainsFunc(rest, func(s keystore.Scheduled) bool { return s.Forget }) {
				// The erasure's last kept key: forget the subject.
				if _, ferr := kr.forgetNow(ctx, ref, sc.Reason, now); ferr != nil {
					return fmt.Errorf("keys: expire: %w", ferr)
				}
				st.Forgotten++
			}
		}
	}
	if err != nil {
		return fmt.Errorf("keys: expire: %w", err)
	}
	return nil
}
