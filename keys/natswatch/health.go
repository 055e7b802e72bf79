package natswatch

import "time"

// The modes of [Health].
const (
	// ModeStarting: New returned, Watch has not yet reached the stream.
	ModeStarting = "starting"
	// ModeStream: events arrive over JetStream; the keystore is read
	// every ReconcileInterval.
	ModeStream = "stream"
	// ModePolling: NATS or the stream is unavailable; the keystore's
	// tombstones are read every PollInterval.
	ModePolling = "polling"
	// ModeStopped: Watch returned or the Watcher was closed.
	ModeStopped = "stopped"
)

// Health is a Watcher's state, for a readiness probe or a dashboard. It
// holds no subject reference.
type Health struct {
	// Connected reports whether NATS is connected and the consumer
	// answered the last probe: Forgets arrive within milliseconds. When
	// false, they arrive within PollInterval plus one keystore query (if
	// the Store lists tombstones), and at the latest within the cache
	// MaxAge.
	Connected bool
	// Mode is ModeStarting, ModeStream, ModePolling or ModeStopped.
	Mode string
	// Since is when Connected or Mode last changed.
	Since time.Time
	// Pending is how many events the stream holds that this consumer has
	// not received (or, durable, not acknowledged), at the last probe or
	// event: how far behind it is.
	Pending uint64
	// Lag is the time from the newest event's arrival in the stream to
	// its receipt here.
	Lag time.Duration
	// LastEvent is when the newest event was received; zero if none.
	LastEvent time.Time
	// LastCatchUp is when the keystore's tombstones were last read
	// successfully; zero if never.
	LastCatchUp time.Time
	// Events is how many events were received, CaughtUp how many
	// forgotten subjects the keystore reads found that had not been
	// reported, Published and PublishFailures how many Forgets this
	// Watcher announced or failed to.
	Events, CaughtUp, Published, PublishFailures uint64
}

// Metrics are optional callbacks for a metrics system; nil fields are
// skipped. They are called synchronously from the Watcher's goroutines and
// must return quickly. None receives a subject reference.
type Metrics struct {
	// EventReceived is called for every event received, with the time
	// from its arrival in the stream to its receipt.
	EventReceived func(lag time.Duration)
	// CaughtUp is called after every successful read of the keystore's
	// tombstones, with how many forgotten subjects it found unreported.
	CaughtUp func(found int)
	// PublishFailed is called when Forgotten fails.
	PublishFailed func(err error)
	// ModeChanged is called when Health.Mode changes.
	ModeChanged func(mode string)
}

// Health returns the Watcher's current state.
func (w *Watcher) Health() Health {
	h := Health{Mode: ModeStarting}
	if p := w.state.Load(); p != nil {
		h = *p
	}
	h.Events, h.CaughtUp = w.events.Load(), w.caught.Load()
	h.Published, h.PublishFailures = w.published.Load(), w.failed.Load()
	return h
}

// setHealth changes the state under stateMu (copy on write).
func (w *Watcher) setHealth(f func(*Health)) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	var h Health
	if p := w.state.Load(); p != nil {
		h = *p
	}
	old := h.Mode
	f(&h)
	w.state.Store(&h)
	if h.Mode != old && w.o.Metrics != nil && w.o.Metrics.ModeChanged != nil {
		w.o.Metrics.ModeChanged(h.Mode)
	}
}
