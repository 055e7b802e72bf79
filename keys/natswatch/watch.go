package natswatch

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// lookback is how far before the newest tombstone seen a keystore read
// looks, as keys/sqlstore's poller does: a tombstone carries the time its
// process read before its transaction began, so it can become visible
// after a newer one.
const lookback = 5 * time.Second

// probeFailures is how many failed probes in a row, while connected, make
// Watch drop its consumer and create a new one.
const probeFailures = 3

// Watch implements keystore.Watcher: keys.Open calls it (Config.Watcher)
// and it calls forgotten with the reference of every subject forgotten, by
// any process, until ctx is done (it returns nil) or the Watcher is closed
// (it returns ErrClosed).
//
// It reads events from the stream, and the keystore's tombstones (see the
// package documentation): once when it starts, right after the stream
// becomes available again, every PollInterval while it is not, and every
// ReconcileInterval while it is. A subject may be reported more than once.
func (w *Watcher) Watch(ctx context.Context, forgotten func(keystore.SubjectRef)) error {
	if w.nc.IsClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &reporter{newest: time.Now(), seen: map[keystore.SubjectRef]time.Time{}, report: forgotten}
	s := &session{w: w, r: r}
	defer s.stop()
	defer w.setHealth(func(h *Health) { h.Mode, h.Connected = ModeStopped, false })

	w.catchUp(ctx, r)
	lastRead := time.Now()
	healthy, known, failures := false, false, 0
	var lastProbe, lastStart time.Time
	reconnects := w.nc.Stats().Reconnects
	t := time.NewTicker(min(w.o.PollInterval, w.o.ProbeInterval))
	defer t.Stop()
	for {
		if w.nc.IsClosed() {
			return ErrClosed
		}
		connected := w.nc.IsConnected()
		if rc := w.nc.Stats().Reconnects; rc != reconnects && connected {
			// A new connection (the server restarted, say): the pull
			// requests of the old one are gone, so start the consumer
			// again rather than wait for missed heartbeats. The ordered
			// consumer resumes after the last sequence received.
			reconnects = rc
			s.stop()
			lastStart = time.Time{}
		}
		if connected && s.cc == nil && time.Since(lastStart) >= w.o.ProbeInterval {
			lastStart = time.Now()
			if err := s.start(ctx); err != nil && ctx.Err() == nil {
				w.o.Logger.Debug("natswatch: consumer not started", "err", err)
			}
		}
		if now := time.Now(); !healthy || !connected || now.Sub(lastProbe) >= w.o.ProbeInterval {
			lastProbe = now
			ok := connected && s.cons != nil && s.probe(ctx)
			if ctx.Err() != nil {
				return nil // stopping: a probe cut short says nothing about the stream
			}
			switch {
			case ok:
				failures = 0
			case connected && s.cons != nil:
				if failures++; failures >= probeFailures {
					s.stop() // started again on the next tick
					failures = 0
				}
			}
			if ok != healthy || !known {
				healthy, known = ok, true
				mode := ModePolling
				switch {
				case ok:
					mode = ModeStream
					// Back on the stream: read what the keystore got
					// meanwhile (the consumer replays what the stream got).
					w.catchUp(ctx, r)
					lastRead = time.Now()
					w.o.Logger.Info("natswatch: receiving Forgets over JetStream", "stream", w.o.Stream)
				default:
					w.o.Logger.Warn("natswatch: JetStream unavailable; polling the keystore's tombstones",
						"stream", w.o.Stream, "poll_interval", w.o.PollInterval)
				}
				w.setHealth(func(h *Health) { h.Mode, h.Connected, h.Since = mode, ok, time.Now() })
			}
		}
		interval := w.o.PollInterval
		if healthy {
			interval = w.o.ReconcileInterval
		}
		if interval > 0 && time.Since(lastRead) >= interval {
			w.catchUp(ctx, r)
			lastRead = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		}
	}
}

// catchUp reads the keystore's tombstones since the newest seen (less the
// lookback) and reports those not reported yet.
func (w *Watcher) catchUp(ctx context.Context, r *reporter) {
	if w.lister == nil {
		return
	}
	since := r.since()
	ts, err := w.lister.TombstonesSince(ctx, since)
	if err != nil {
		if ctx.Err() == nil {
			w.o.Logger.Debug("natswatch: reading the keystore's tombstones failed; retrying", "err", err)
		}
		return
	}
	n := r.fromKeystore(ts, &w.caught)
	w.setHealth(func(h *Health) { h.LastCatchUp = time.Now() })
	if m := w.o.Metrics; m != nil && m.CaughtUp != nil {
		m.CaughtUp(n)
	}
}

// reporter reports subjects to the Keyring, one call at a time, and
// tracks which tombstones of the keystore were reported.
type reporter struct {
	mu     sync.Mutex
	newest time.Time                         // newest tombstone read from the keystore
	seen   map[keystore.SubjectRef]time.Time // reported within lookback of newest
	report func(keystore.SubjectRef)
}

func (r *reporter) since() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.newest.Add(-lookback)
}

// fromKeystore reports the tombstones not reported yet, counting them in
// caught first, and returns how many.
func (r *reporter) fromKeystore(ts []keystore.Tombstone, caught *atomic.Uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range ts {
		if _, dup := r.seen[t.Subject]; !dup {
			r.seen[t.Subject] = t.ForgottenAt
			caught.Add(1)
			r.report(t.Subject)
			n++
		}
		// Never past this process's clock: a writer whose clock runs
		// ahead must not make the reads skip everybody else's tombstones.
		if at := minTime(t.ForgottenAt, time.Now()); at.After(r.newest) {
			r.newest = at
		}
	}
	for ref, at := range r.seen {
		if at.Before(r.newest.Add(-lookback)) {
			delete(r.seen, ref)
		}
	}
	return n
}

func (r *reporter) fromStream(ref keystore.SubjectRef, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !at.Before(r.newest.Add(-lookback)) {
		r.seen[ref] = at // the keystore reads need not report it again
	}
	r.report(ref)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// session is one Watch's consumer.
type session struct {
	w       *Watcher
	r       *reporter
	cons    jetstream.Consumer
	cc      jetstream.ConsumeContext
	lastSeq atomic.Uint64 // stream sequence of the newest event received
}

func (s *session) stop() {
	if s.cc != nil {
		s.cc.Stop()
	}
	s.cc, s.cons = nil, nil
}

// start creates the consumer and starts consuming: a durable consumer of
// Options.Durable, or an ordered one after the last sequence received
// (at first, from the newest event on).
func (s *session) start(ctx context.Context) error {
	w := s.w
	ctx, cancel := context.WithTimeout(ctx, w.o.PublishTimeout)
	defer cancel()
	if err := w.ensureStream(ctx); err != nil {
		return err
	}
	var cons jetstream.Consumer
	var err error
	if w.o.Durable != "" {
		cons, err = w.js.CreateOrUpdateConsumer(ctx, w.o.Stream, jetstream.ConsumerConfig{
			Durable:           w.o.Durable,
			Description:       "fieldcrypt natswatch",
			FilterSubject:     w.o.Subject,
			DeliverPolicy:     jetstream.DeliverNewPolicy,
			AckPolicy:         jetstream.AckExplicitPolicy,
			AckWait:           w.o.AckWait,
			InactiveThreshold: w.o.InactiveThreshold,
			MaxAckPending:     10_000,
		})
	} else {
		cfg := jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{w.o.Subject},
			DeliverPolicy:     jetstream.DeliverNewPolicy,
			InactiveThreshold: w.o.InactiveThreshold,
		}
		if seq := s.lastSeq.Load(); seq > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
		cons, err = w.js.OrderedConsumer(ctx, w.o.Stream, cfg)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			w.streamMu.Lock()
			w.streamOK = false
			w.streamMu.Unlock()
		}
		return err
	}
	cc, err := cons.Consume(s.handle,
		jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			w.o.Logger.Debug("natswatch: consumer", "err", err)
		}))
	if err != nil {
		return err
	}
	s.cons, s.cc = cons, cc
	return nil
}

// probe asks the server about the consumer and records how far behind it is.
func (s *session) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, s.w.o.PublishTimeout)
	defer cancel()
	info, err := s.cons.Info(ctx)
	if err != nil {
		return false
	}
	s.w.setHealth(func(h *Health) { h.Pending = info.NumPending + uint64(info.NumAckPending) })
	return true
}

func (s *session) handle(msg jetstream.Msg) {
	w := s.w
	var e event
	ref, at, err := keystore.SubjectRef{}, time.Time{}, json.Unmarshal(msg.Data(), &e)
	if err == nil {
		ref, at, err = e.parse()
	}
	if err != nil {
		w.o.Logger.Warn("natswatch: ignoring a malformed event", "stream", w.o.Stream)
		if w.o.Durable != "" {
			_ = msg.Term()
		}
		return
	}
	// Counters first, so that Health already shows the event when the
	// Keyring hears of it.
	w.events.Add(1)
	now := time.Now()
	var lag time.Duration
	var pending uint64
	if md, err := msg.Metadata(); err == nil {
		s.lastSeq.Store(md.Sequence.Stream)
		lag, pending = max(now.Sub(md.Timestamp), 0), md.NumPending
	}
	w.setHealth(func(h *Health) { h.LastEvent, h.Lag, h.Pending = now, lag, pending })
	s.r.fromStream(ref, at)
	if w.o.Durable != "" {
		_ = msg.Ack()
	}
	if m := w.o.Metrics; m != nil && m.EventReceived != nil {
		m.EventReceived(lag)
	}
}
