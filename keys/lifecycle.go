package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Errors of the data lifecycle: retention policies, withdrawals, holds,
// receipts and the audit log.
var (
	// ErrInvalidPolicy means a Config.Lifecycle policy is malformed; Open
	// refuses it.
	ErrInvalidPolicy = errors.New("keys: invalid retention policy")
	// ErrLifecycleUnsupported means the Store does not implement
	// keystore.LifecycleStore, which the call or the configuration needs.
	// It wraps errors.ErrUnsupported.
	ErrLifecycleUnsupported = fmt.Errorf("keys: the Store does not implement keystore.LifecycleStore: %w", errors.ErrUnsupported)
	// ErrInvalidHold means a hold's end is not in the future or its
	// reason is too long.
	ErrInvalidHold = errors.New("keys: invalid hold")
)

// DefaultActivityPeriod is how often, at most, a Keyring records a
// subject's activity when Lifecycle.ActivityPeriod is 0.
const DefaultActivityPeriod = 24 * time.Hour

// MaxReasonLen is the longest reason of a Forget, Withdraw or Hold and the
// longest policy name or legal basis, in bytes.
const MaxReasonLen = 256

// Lifecycle configures what happens to keys over time (Config.Lifecycle):
// retention policies per purpose, how activity is recorded, signed erasure
// receipts and the keystore's audit log. Everything in it needs a Store
// that implements [keystore.LifecycleStore] (keys/memstore and
// keys/sqlstore do); with such a Store, [Keyring.Withdraw], [Keyring.Hold]
// and [Keyring.Expire] work even with the zero Lifecycle.
type Lifecycle struct {
	// Policies maps a purpose to its retention policy. Purposes without
	// one are kept until Forget or Withdraw.
	Policies map[string]Policy
	// ActivityPeriod is the precision of the recorded activity: a subject's
	// activity is written to the keystore at most once per period per key
	// (and process), never on every encryption. 0 means
	// DefaultActivityPeriod. The recorded time is that of the first use
	// in a period, so the true last activity is up to one period later:
	// retention counted from it may end up to one period early, and a
	// legal minimum counted from it is extended by one period so that it
	// never ends early.
	ActivityPeriod time.Duration
	// CurrentIsNotActivity stops Keyring.Current (the encryption path)
	// from counting as activity of its subject; only Keyring.Touch does
	// then. Decryption never counts: a report or a backup reading every
	// row would otherwise keep everyone forever.
	CurrentIsNotActivity bool
	// Receipts makes every destruction (Forget, Withdraw, Expire) return a
	// Receipt signed with the keystore's receipt signing key, which is
	// created on first use and kept in the keystore wrapped by the root
	// key.
	Receipts bool
	// AuditLog appends every Event to the keystore's tamper-evident audit
	// log (see [Keyring.VerifyAuditLog]), besides Config.Audit.
	AuditLog bool
	// Now is the wall clock for lifecycle decisions and key creation
	// times; nil means time.Now. Tests set it to simulate years.
	Now func() time.Time
}

// Policy is the retention policy of one purpose.
type Policy struct {
	// Name identifies the policy in tombstones, receipts and the audit
	// log ("contact-2y-after-activity", say). It is required and must not
	// contain personal data.
	Name string
	// Retention is when the purpose's keys expire by themselves: the
	// expiry sweep ([Keyring.Expire]) destroys them then.
	Retention Retention
	// LegalMinimum is how long the keys must be kept even if the subject
	// asks for erasure, counted like Retention (from the key's creation or
	// the subject's last activity; from creation for UntilWithdrawn): a
	// Forget or Withdraw within it destroys the rest and schedules these
	// keys for the end of it. 0 means none. It must not exceed a timed
	// Retention. Counted from activity, it is extended by one
	// ActivityPeriod (see there), so a key whose LegalMinimum equals its
	// Retention expires up to one period after the retention ends.
	LegalMinimum time.Duration
	// LegalBasis is the law or contract requiring LegalMinimum ("HGB §257,
	// AO §147", say); receipts carry it. Optional.
	LegalBasis string
}

type retentionFrom int

const (
	fromNone retentionFrom = iota
	fromCreation
	fromActivity
	untilWithdrawn
)

// Retention says when a purpose's keys expire. Make one with AfterCreation,
// AfterLastActivity or UntilWithdrawn.
type Retention struct {
	from retentionFrom
	d    time.Duration
}

// AfterCreation expires a key d after it was created (after the first
// version still live, so a key destroyed and started afresh counts anew).
func AfterCreation(d time.Duration) Retention { return Retention{fromCreation, d} }

// AfterLastActivity expires a key d after its subject's last recorded
// activity ([Keyring.Touch], and [Keyring.Current] unless
// Lifecycle.CurrentIsNotActivity), or after its creation if that is later.
func AfterLastActivity(d time.Duration) Retention { return Retention{fromActivity, d} }

// UntilWithdrawn keeps a key until [Keyring.Withdraw] or Forget: consent
// given for a newsletter, say.
func UntilWithdrawn() Retention { return Retention{from: untilWithdrawn} }

// String describes the retention, in days when it is a whole number of
// them.
func (r Retention) String() string {
	d := r.d.String()
	if day := 24 * time.Hour; r.d%day == 0 {
		d = fmt.Sprintf("%d days", r.d/day)
	}
	switch r.from {
	case fromCreation:
		return d + " after creation"
	case fromActivity:
		return d + " after last activity"
	case untilWithdrawn:
		return "until withdrawn"
	}
	return "unset"
}

func (p Policy) validate(purpose string) error {
	if err := ValidatePurpose(purpose); err != nil {
		return fmt.Errorf("%w: purpose %q: %w", ErrInvalidPolicy, purpose, err)
	}
	switch {
	case p.Name == "" || len(p.Name) > MaxReasonLen:
		return fmt.Errorf("%w: purpose %q: Name must be 1 to %d bytes", ErrInvalidPolicy, purpose, MaxReasonLen)
	case len(p.LegalBasis) > MaxReasonLen:
		return fmt.Errorf("%w: purpose %q: LegalBasis longer than %d bytes", ErrInvalidPolicy, purpose, MaxReasonLen)
	case p.Retention.from == fromNone:
		return fmt.Errorf("%w: purpose %q: Retention is not set (use AfterCreation, AfterLastActivity or UntilWithdrawn)", ErrInvalidPolicy, purpose)
	case p.Retention.from != untilWithdrawn && p.Retention.d <= 0:
		return fmt.Errorf("%w: purpose %q: retention must be positive", ErrInvalidPolicy, purpose)
	case p.LegalMinimum < 0:
		return fmt.Errorf("%w: purpose %q: LegalMinimum must not be negative", ErrInvalidPolicy, purpose)
	case p.Retention.from != untilWithdrawn && p.LegalMinimum > p.Retention.d:
		return fmt.Errorf("%w: purpose %q: LegalMinimum (%v) exceeds the retention (%v)", ErrInvalidPolicy, purpose, p.LegalMinimum, p.Retention.d)
	}
	return nil
}

// lifecycle is a Keyring's lifecycle state. A nil *lifecycle (no
// LifecycleStore) records no activity and appends nothing.
type lifecycle struct {
	kr        *Keyring
	store     keystore.LifecycleStore
	policies  map[string]Policy
	period    time.Duration
	onCurrent bool
	receipts  bool
	auditLog  bool
	nowFunc   func() time.Time // nil: time.Now

	mu       sync.Mutex
	pending  map[SubjectRef]time.Time // activity not yet written
	flushing bool
	flushed  chan struct{} // closed when a flush round ends; under mu

	signMu  sync.Mutex
	signKey []byte // ed25519 private key, loaded on first use

	auditMu       sync.Mutex
	auditFailures atomic.Int64
}

func openLifecycle(kr *Keyring, cfg Config) (*lifecycle, error) {
	lc := cfg.Lifecycle
	for purpose, p := range lc.Policies {
		if err := p.validate(purpose); err != nil {
			return nil, err
		}
	}
	if lc.ActivityPeriod < 0 {
		return nil, fmt.Errorf("%w: ActivityPeriod must not be negative", ErrInvalidPolicy)
	}
	ls, ok := cfg.Store.(keystore.LifecycleStore)
	if !ok {
		if len(lc.Policies) > 0 || lc.Receipts || lc.AuditLog {
			return nil, fmt.Errorf("keys: open: Config.Lifecycle (%T): %w", cfg.Store, ErrLifecycleUnsupported)
		}
		return nil, nil
	}
	l := &lifecycle{kr: kr, store: ls, policies: map[string]Policy{}, period: lc.ActivityPeriod,
		receipts: lc.Receipts, auditLog: lc.AuditLog, nowFunc: lc.Now, pending: map[SubjectRef]time.Time{}}
	for k, v := range lc.Policies {
		l.policies[k] = v
	}
	if l.period == 0 {
		l.period = DefaultActivityPeriod
	}
	l.onCurrent = !lc.CurrentIsNotActivity && l.countsActivity()
	return l, nil
}

// countsActivity reports whether any policy counts from activity: without
// one, recording it would cost writes for nothing.
func (l *lifecycle) countsActivity() bool {
	for _, p := range l.policies {
		if p.Retention.from == fromActivity {
			return true
		}
	}
	return false
}

// now returns the lifecycle clock.
func (kr *Keyring) now() time.Time {
	if kr.life != nil && kr.life.nowFunc != nil {
		return kr.life.nowFunc()
	}
	return time.Now()
}

func (l *lifecycle) enabled() bool { return l != nil }

// active records activity through k, at most once per period: the warm
// path of Current costs one atomic load, and no clock reading of its own
// when the cache lookup passes its reading of the cache clock as now (0
// when it has none).
func (l *lifecycle) active(k *Key, now int64) {
	if l == nil || !l.onCurrent {
		return
	}
	if l.nowFunc != nil {
		now = l.nowFunc().UnixNano()
	} else if now == 0 {
		now = clockNow()
	}
	last := k.activeAt.Load()
	if last != 0 && now-last < int64(l.period) {
		return
	}
	if !k.activeAt.CompareAndSwap(last, now) {
		return // another goroutine records it
	}
	l.mark(k.subject, l.kr.now())
}

// mark queues subject's activity at at and starts a flush if none runs.
func (l *lifecycle) mark(subject SubjectRef, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.After(l.pending[subject]) {
		l.pending[subject] = at
	}
	if !l.flushing {
		l.flushing = true
		l.flushed = make(chan struct{})
		go l.flush()
	}
}

// flush writes the queued activity until none is left.
func (l *lifecycle) flush() {
	for {
		l.mu.Lock()
		batch := l.pending
		if len(batch) == 0 {
			l.flushing = false
			close(l.flushed)
			l.mu.Unlock()
			return
		}
		l.pending = map[SubjectRef]time.Time{}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for ref, at := range batch {
			if err := l.store.Touch(ctx, ref, at); err != nil {
				// Lost: the next use in a later period records it again.
				continue
			}
		}
		cancel()
	}
}

// FlushActivity waits until the activity recorded by Current so far is
// written to the keystore (it is written in the background). Call it
// before the process exits, or in tests.
func (kr *Keyring) FlushActivity(ctx context.Context) error {
	l := kr.life
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if !l.flushing {
		l.mu.Unlock()
		return nil
	}
	done := l.flushed
	l.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Touch records that subject was active now, for the policies that count
// from the last activity ([AfterLastActivity]). It writes to the keystore
// at once (one transaction); use it for activity that involves no
// encryption (a login, an order). Touching a forgotten subject does
// nothing.
func (kr *Keyring) Touch(ctx context.Context, subject string) error {
	if err := ValidateSubject(subject); err != nil {
		return err
	}
	if kr.life == nil {
		return fmt.Errorf("keys: touch: %w", ErrLifecycleUnsupported)
	}
	if err := kr.life.store.Touch(ctx, kr.subjectRef(subject), kr.now().UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("keys: touch: %w", err)
	}
	return nil
}

// restartVersion reports whether the result of LatestKey calls for
// creating a version, and which: 1 when there is no key, the next one when
// every version was destroyed by an expiry or a withdrawal (a floor above
// the latest version; DestroyVersionsBelow never raises one that high).
func restartVersion(rec keystore.KeyRecord, err error) (uint32, bool) {
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return 1, true
	case errors.Is(err, ErrVersionDestroyed) && rec.Version != 0 && rec.Version < MaxVersion:
		return rec.Version + 1, true
	}
	return 0, false
}

// mayCreate refuses a new key for a subject whose erasure was requested
// and waits for a held purpose (see Erase). It is checked before a key is
// created, not atomically with it; a key created in that window is
// destroyed with the rest when the erasure completes.
func (kr *Keyring) mayCreate(ctx context.Context, ref SubjectRef) error {
	if kr.life == nil {
		return nil
	}
	sc, err := kr.life.store.ScheduledFor(ctx, ref)
	if err != nil {
		return err
	}
	for _, s := range sc {
		if s.Forget {
			return ErrKeyDestroyed
		}
	}
	return nil
}

// heldUntil returns when st's legal minimum and holds end (zero: none).
func (l *lifecycle) heldUntil(st keystore.KeyState) (until time.Time, because string) {
	if p, ok := l.policies[st.Purpose]; ok && p.LegalMinimum > 0 {
		anchor := st.Created
		if p.Retention.from == fromActivity && !st.LastActive.IsZero() {
			if a := st.LastActive.Add(l.period); a.After(anchor) {
				anchor = a
			}
		}
		until, because = anchor.Add(p.LegalMinimum), "legal minimum of policy "+p.Name
		if p.LegalBasis != "" {
			because += " (" + p.LegalBasis + ")"
		}
	}
	for _, h := range st.Holds {
		if h.Until.After(until) {
			until, because = h.Until, "hold: "+h.Reason
		}
	}
	return until, because
}

// expiresAt returns when st's retention ends, or false if it never does.
func (l *lifecycle) expiresAt(st keystore.KeyState) (time.Time, Policy, bool) {
	p, ok := l.policies[st.Purpose]
	if !ok {
		return time.Time{}, p, false
	}
	switch p.Retention.from {
	case fromCreation:
		return st.Created.Add(p.Retention.d), p, true
	case fromActivity:
		anchor := st.Created
		if st.LastActive.After(anchor) {
			anchor = st.LastActive
		}
		return anchor.Add(p.Retention.d), p, true
	}
	return time.Time{}, p, false
}

// DestroyedKey is one key (all versions of one purpose of a subject)
// destroyed by Erase, Withdraw or Expire.
type DestroyedKey struct {
	Subject SubjectRef
	Purpose string
	Key     KeyID
	// FirstVersion to LastVersion are the versions destroyed; Destroyed
	// of them still held material.
	FirstVersion, LastVersion uint32
	Destroyed                 int
	At                        time.Time
	// Reason is the recorded reason: the caller's, or the policy name for
	// an expiry.
	Reason string
}

// ScheduledKey is a key kept for now and scheduled for destruction at Due
// (the end of a legal minimum or a hold); the expiry sweep destroys it
// then.
type ScheduledKey struct {
	Purpose string
	Key     KeyID
	Due     time.Time
	// Because says what keeps it: the policy and its legal basis, or the
	// hold's reason.
	Because string
}

// Erasure is what [Keyring.Erase] did: the keys it destroyed now, those it
// scheduled, and, when nothing was kept, the subject's tombstone.
type Erasure struct {
	Subject     SubjectRef
	Reason      string
	RequestedAt time.Time
	Destroyed   []DestroyedKey
	Scheduled   []ScheduledKey
	// Tombstone is the subject's tombstone; its ForgottenAt is zero while
	// keys are scheduled (Tombstone.Scheduled counts them).
	Tombstone Tombstone
	// Receipt is signed when Lifecycle.Receipts is set (else zero).
	Receipt Receipt
}

func (l *lifecycle) need(op string) error {
	if l == nil {
		return fmt.Errorf("keys: %s: %w", op, ErrLifecycleUnsupported)
	}
	return nil
}

func checkReason(op, reason string) error {
	if len(reason) > MaxReasonLen {
		return fmt.Errorf("keys: %s: reason longer than %d bytes", op, MaxReasonLen)
	}
	return nil
}

// Erase is Forget with its details: it crypto-shreds subject, except the
// keys a retention policy's legal minimum or a [Keyring.Hold] keeps. If
// nothing is kept it forgets the subject as Forget always did (tombstone,
// eviction everywhere, OnForget). Otherwise it destroys every other key
// now, schedules the kept ones for the end of their term, refuses new keys
// for the subject from then on, and leaves the subject to the expiry sweep
// ([Keyring.Expire]), which destroys each kept key when its term ends and
// forgets the subject with the last one (a second receipt). A repeated
// Erase keeps the first schedule.
//
// reason is stored and logged: use a ticket reference, not personal data.
func (kr *Keyring) Erase(ctx context.Context, subject, reason string) (Erasure, error) {
	if err := ValidateSubject(subject); err != nil {
		return Erasure{}, err
	}
	if err := checkReason("erase", reason); err != nil {
		return Erasure{}, err
	}
	ref := kr.subjectRef(subject)
	now := kr.now().UTC().Truncate(time.Microsecond)
	out := Erasure{Subject: ref, Reason: reason, RequestedAt: now}
	l := kr.life
	if l == nil {
		t, err := kr.forgetNow(ctx, ref, reason, now)
		out.Tombstone = t
		return out, err
	}
	states, err := l.store.SubjectKeys(ctx, ref)
	if err != nil {
		return Erasure{}, fmt.Errorf("keys: erase: %w", err)
	}
	prior, err := l.store.ScheduledFor(ctx, ref)
	if err != nil {
		return Erasure{}, fmt.Errorf("keys: erase: %w", err)
	}
	var destroy []KeyID
	held := map[KeyID]bool{}
	for _, st := range states {
		if !st.Live {
			continue
		}
		until, because := l.heldUntil(st)
		if !until.After(now) {
			destroy = append(destroy, st.ID)
			continue
		}
		held[st.ID] = true
		sc := keystore.Scheduled{ID: st.ID, Subject: ref, Purpose: st.Purpose, DueAt: until.UTC().Truncate(time.Microsecond),
			RequestedAt: now, Reason: reason, Forget: true}
		if i := slices.IndexFunc(prior, func(p keystore.Scheduled) bool { return p.ID == st.ID && p.Forget }); i >= 0 {
			sc = prior[i] // the first request's term stands
		}
		if err := l.store.Schedule(ctx, sc); err != nil {
			return Erasure{}, fmt.Errorf("keys: erase: scheduling: %w", err)
		}
		out.Scheduled = append(out.Scheduled, ScheduledKey{Purpose: st.Purpose, Key: st.ID, Due: sc.DueAt, Because: because})
	}
	if len(held) == 0 {
		t, err := kr.forgetNow(ctx, ref, reason, now)
		if err != nil {
			return Erasure{}, err
		}
		out.Tombstone = t
		for _, st := range states {
			if st.Live {
				out.Destroyed = append(out.Destroyed, DestroyedKey{Subject: ref, Purpose: st.Purpose, Key: st.ID,
					FirstVersion: st.Lowest, LastVersion: st.Latest, Destroyed: int(st.Latest - st.Lowest + 1), At: t.ForgottenAt, Reason: t.Reason})
			}
		}
		out.Receipt, err = kr.receiptFor(ctx, receiptForget, out.Subject, now, reason, out.Destroyed, out.Scheduled)
		return out, err
	}
	done, err := kr.destroyKeys(ctx, destroy, now, func(st keystore.KeyState) (string, bool) {
		until, _ := l.heldUntil(st)
		return reason, !until.After(now)
	})
	out.Destroyed = done
	if err != nil {
		return out, fmt.Errorf("keys: erase: %w", err)
	}
	n := 0
	for _, d := range done {
		n += d.Destroyed
	}
	out.Tombstone = Tombstone{Subject: ref, Reason: reason, Destroyed: n, DestroyedNow: n, Scheduled: len(out.Scheduled)}
	kr.emit(ctx, Event{Type: EventForgotten, Subject: ref, Reason: reason, Destroyed: n})
	for _, s := range out.Scheduled {
		kr.emit(ctx, Event{Type: EventScheduled, Subject: ref, Key: s.Key, Purpose: s.Purpose, Reason: s.Because, Until: s.Due})
	}
	out.Receipt, err = kr.receiptFor(ctx, receiptForget, out.Subject, now, reason, out.Destroyed, out.Scheduled)
	return out, err
}

// forgetNow is Forget without policies: the tombstone, evictions,
// notifications and the event.
func (kr *Keyring) forgetNow(ctx context.Context, ref SubjectRef, reason string, now time.Time) (Tombstone, error) {
	t, err := kr.store.Forget(ctx, Tombstone{Subject: ref, ForgottenAt: now, Reason: reason})
	evictEverywhere(kr, ref)
	if err != nil {
		return Tombstone{}, fmt.Errorf("keys: forget: %w", err)
	}
	notifyEverywhere(kr, ref)
	kr.announce(ctx, t)
	kr.emit(ctx, Event{Type: EventForgotten, Subject: ref, Reason: t.Reason, Destroyed: t.DestroyedNow,
		Repeated: !t.ForgottenAt.Equal(now)})
	return t, nil
}

// destroyKeys destroys ids through the store, trying busy ones again, and
// evicts their subjects everywhere in this process.
func (kr *Keyring) destroyKeys(ctx context.Context, ids []KeyID, at time.Time, decide func(keystore.KeyState) (string, bool)) ([]DestroyedKey, error) {
	var out []DestroyedKey
	for attempt := 0; len(ids) > 0; attempt++ {
		done, busy, err := kr.destroyKeysOnce(ctx, ids, at, decide)
		out = append(out, done...)
		if err != nil {
			return out, err
		}
		if len(busy) > 0 && attempt < 100 {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(time.Duration(1+attempt) * time.Millisecond):
			}
		} else if len(busy) > 0 {
			return out, errors.New("keys: keys stayed locked by other transactions")
		}
		ids = busy
	}
	return out, nil
}

// destroyKeysOnce is one DestroyKeys call; it returns the keys other
// transactions held locked.
func (kr *Keyring) destroyKeysOnce(ctx context.Context, ids []KeyID, at time.Time, decide func(keystore.KeyState) (string, bool)) ([]DestroyedKey, []KeyID, error) {
	done, busy, err := kr.life.store.DestroyKeys(ctx, ids, at, decide)
	out := make([]DestroyedKey, 0, len(done))
	for _, e := range done {
		evictEverywhere(kr, e.Subject)
		out = append(out, destroyedKey(e))
	}
	return out, busy, err
}

func destroyedKey(e keystore.KeyErasure) DestroyedKey {
	return DestroyedKey{Subject: e.Subject, Purpose: e.Purpose, Key: e.ID, FirstVersion: e.Lowest, LastVersion: e.Latest,
		Destroyed: e.Destroyed, At: e.DestroyedAt, Reason: e.Reason}
}

// Withdrawal is what [Keyring.Withdraw] did: the key it destroyed, or the
// one it scheduled because a legal minimum or a hold keeps it.
type Withdrawal struct {
	Subject   SubjectRef
	Purpose   string
	Destroyed []DestroyedKey
	Scheduled []ScheduledKey
	// Receipt is signed when Lifecycle.Receipts is set (else zero).
	Receipt Receipt
}

// Withdraw destroys the key of one purpose of subject (every version), on
// consent withdrawal, leaving the subject's other purposes readable. Data
// encrypted under it becomes unreadable for good; a later Current of that
// purpose starts a new key version, for data collected under new consent.
// If a legal minimum or a hold keeps the key, Withdraw schedules it
// instead, for the sweep. A purpose without a key destroys nothing.
// Every Keyring of this process evicts the subject; other processes stop
// using the key within their watcher's latency on PostgreSQL and within
// their CacheMaxAge otherwise.
func (kr *Keyring) Withdraw(ctx context.Context, subject, purpose, reason string) (Withdrawal, error) {
	if err := ValidateSubject(subject); err != nil {
		return Withdrawal{}, err
	}
	if err := ValidatePurpose(purpose); err != nil {
		return Withdrawal{}, err
	}
	if err := checkReason("withdraw", reason); err != nil {
		return Withdrawal{}, err
	}
	l := kr.life
	if err := l.need("withdraw"); err != nil {
		return Withdrawal{}, err
	}
	ref := kr.subjectRef(subject)
	id := kr.keyID(ref, purpose)
	now := kr.now().UTC().Truncate(time.Microsecond)
	out := Withdrawal{Subject: ref, Purpose: purpose}
	states, err := l.store.SubjectKeys(ctx, ref)
	if err != nil {
		return Withdrawal{}, fmt.Errorf("keys: withdraw: %w", err)
	}
	i := slices.IndexFunc(states, func(st keystore.KeyState) bool { return st.ID == id })
	if i < 0 || !states[i].Live {
		if i >= 0 && states[i].Forgotten {
			return out, fmt.Errorf("keys: withdraw: %w", ErrKeyDestroyed)
		}
		return out, nil
	}
	if until, because := l.heldUntil(states[i]); until.After(now) {
		sc := keystore.Scheduled{ID: id, Subject: ref, Purpose: purpose, DueAt: until.UTC().Truncate(time.Microsecond),
			RequestedAt: now, Reason: reason}
		if err := l.store.Schedule(ctx, sc); err != nil {
			return Withdrawal{}, fmt.Errorf("keys: withdraw: %w", err)
		}
		out.Scheduled = []ScheduledKey{{Purpose: purpose, Key: id, Due: sc.DueAt, Because: because}}
		kr.emit(ctx, Event{Type: EventScheduled, Subject: ref, Key: id, Purpose: purpose, Reason: because, Until: sc.DueAt})
	} else {
		out.Destroyed, err = kr.destroyKeys(ctx, []KeyID{id}, now, func(st keystore.KeyState) (string, bool) {
			until, _ := l.heldUntil(st)
			return reason, !until.After(now)
		})
		if err != nil {
			return out, fmt.Errorf("keys: withdraw: %w", err)
		}
		for _, d := range out.Destroyed {
			kr.emit(ctx, Event{Type: EventWithdrawn, Subject: ref, Key: id, Purpose: purpose, Reason: reason, Destroyed: d.Destroyed})
		}
	}
	out.Receipt, err = kr.receiptFor(ctx, receiptWithdraw, ref, now, reason, out.Destroyed, out.Scheduled)
	return out, err
}

// Hold postpones the destruction of subject's keys of purpose (all of its
// purposes when purpose is "") until until: an operator's litigation hold.
// While it lasts, Forget and Withdraw schedule the key for the hold's end
// instead of destroying it, and the expiry sweep leaves it. A new Hold on
// the same (subject, purpose) replaces the old one. reason is stored and
// audited (EventHeld): a ticket reference, not personal data. Hold fails
// with ErrKeyDestroyed (wrapped) on a forgotten subject or a destroyed key,
// and with ErrInvalidHold when until is not in the future.
func (kr *Keyring) Hold(ctx context.Context, subject, purpose, reason string, until time.Time) error {
	if err := ValidateSubject(subject); err != nil {
		return err
	}
	if purpose != "" {
		if err := ValidatePurpose(purpose); err != nil {
			return err
		}
	}
	if err := kr.life.need("hold"); err != nil {
		return err
	}
	now := kr.now()
	if !until.After(now) || len(reason) > MaxReasonLen {
		return fmt.Errorf("%w: the end must be in the future and the reason at most %d bytes", ErrInvalidHold, MaxReasonLen)
	}
	ref := kr.subjectRef(subject)
	var id KeyID
	if purpose != "" {
		id = kr.keyID(ref, purpose)
	}
	h := keystore.Hold{Subject: ref, Purpose: purpose, Reason: reason,
		PlacedAt: now.UTC().Truncate(time.Microsecond), Until: until.UTC().Truncate(time.Microsecond)}
	if err := kr.life.store.SetHold(ctx, h, id); err != nil {
		if errors.Is(err, ErrKeyDestroyed) {
			return fmt.Errorf("keys: hold: %w", ErrKeyDestroyed)
		}
		return fmt.Errorf("keys: hold: %w", err)
	}
	kr.emit(ctx, Event{Type: EventHeld, Subject: ref, Key: id, Purpose: purpose, Reason: reason, Until: h.Until})
	return nil
}

// Release ends the hold on (subject, purpose) before its end; purpose ""
// is the hold on every purpose. Keys scheduled while it lasted are still
// destroyed at their scheduled time (their legal minimum, or the hold's
// end). It reports whether there was such a hold.
func (kr *Keyring) Release(ctx context.Context, subject, purpose string) (bool, error) {
	if err := ValidateSubject(subject); err != nil {
		return false, err
	}
	if err := kr.life.need("release"); err != nil {
		return false, err
	}
	ref := kr.subjectRef(subject)
	ok, err := kr.life.store.ReleaseHold(ctx, ref, purpose)
	if err != nil {
		return false, fmt.Errorf("keys: release: %w", err)
	}
	if ok {
		kr.emit(ctx, Event{Type: EventReleased, Subject: ref, Purpose: purpose})
	}
	return ok, nil
}
