package natswatch

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Errors of this package, wrapped with context; test for them with
// errors.Is. None carries a subject reference, a key or plaintext.
var (
	// ErrInvalidOptions means [New] was given options it cannot use.
	ErrInvalidOptions = errors.New("natswatch: invalid options")
	// ErrUnavailable means NATS or the JetStream stream cannot be reached
	// right now: Forgotten did not publish (the other processes find the
	// Forget in the keystore), and Watch polls the keystore meanwhile.
	ErrUnavailable = errors.New("natswatch: NATS JetStream unavailable")
	// ErrClosed means the Watcher was closed.
	ErrClosed = errors.New("natswatch: watcher closed")
)

// Defaults of [Options].
const (
	DefaultURL               = nats.DefaultURL // nats://127.0.0.1:4222
	DefaultStream            = "FIELDCRYPT_FORGET"
	DefaultSubject           = "fieldcrypt.forget"
	DefaultMaxAge            = 7 * 24 * time.Hour
	DefaultMaxMsgs           = 1_000_000
	DefaultPollInterval      = 250 * time.Millisecond
	DefaultReconcileInterval = 30 * time.Second
	DefaultProbeInterval     = time.Second
	DefaultPublishTimeout    = 2 * time.Second
	DefaultAckWait           = 30 * time.Second
	DefaultInactiveThreshold = 5 * time.Minute
	// DefaultDurableInactiveThreshold is InactiveThreshold's default with
	// Durable set: long enough for a restart or a deployment to replay.
	DefaultDurableInactiveThreshold = 24 * time.Hour
)

// Options configure a [Watcher]: every setting of this package is here.
// Only Store is required.
type Options struct {
	// Store is the keystore the Keyring uses. The Watcher reads its
	// tombstones to catch up on what the stream did not deliver (see the
	// package documentation); it must implement keystore.TombstoneLister
	// for that (keys/sqlstore and keys/memstore do). Without it, only the
	// cache MaxAge bounds the Forgets whose message was lost.
	Store keystore.Store

	// URL of the NATS server(s), comma-separated; DefaultURL if empty.
	URL string
	// CredentialsFile, if set, authenticates with a NATS .creds file
	// (nats.UserCredentials).
	CredentialsFile string
	// NkeyFile, if set, authenticates with the NKey seed in this file
	// (nats.NkeyOptionFromSeed).
	NkeyFile string
	// NATSOptions are passed to nats.Connect after this package's own
	// (reconnect forever, RetryOnFailedConnect, a name): TLS, user and
	// password, tokens, or anything else nats.go offers.
	NATSOptions []nats.Option

	// Stream is the JetStream stream's name; DefaultStream if empty.
	Stream string
	// Subject is the subject events are published on and read from;
	// DefaultSubject if empty. Keystores sharing one NATS account need a
	// subject (and stream) each: events of another keystore are harmless
	// (their references match nothing) but useless.
	Subject string
	// MaxAge and MaxMsgs limit the stream when the Watcher creates it
	// (limits retention, the oldest messages discarded first):
	// DefaultMaxAge (7 days) and DefaultMaxMsgs (1,000,000) if zero. A
	// stream that exists is used as it is. A process that was away longer
	// than MaxAge, or behind more than MaxMsgs, misses those events; its
	// keystore catch-up and its cache MaxAge still hold.
	MaxAge  time.Duration
	MaxMsgs int64
	// Replicas of the stream when the Watcher creates it; 1 if zero.
	Replicas int

	// Durable, if set, names a durable consumer of this process (one name
	// per process, stable across restarts, such as "orders-1"): the server
	// keeps its position, so a restarted process replays the events it
	// missed, and events are acknowledged and redelivered after AckWait.
	// (An event the server handed to a stopped process's pull request,
	// which it keeps until the request expires after 5 s, reaches the
	// restarted process after AckWait.)
	// If empty, Watch uses an ordered consumer, starting at the newest
	// event when Watch starts and resuming after the last sequence it saw
	// when the connection or the consumer is lost.
	Durable string
	// AckWait is the durable consumer's redelivery timeout;
	// DefaultAckWait if zero.
	AckWait time.Duration
	// InactiveThreshold is how long the server keeps a consumer nobody
	// reads (a stopped process; a durable one too, so abandoned names do
	// not pile up): if zero, DefaultInactiveThreshold (5 minutes) for the
	// ordered consumer, DefaultDurableInactiveThreshold (24 hours) for a
	// durable one. A durable consumer removed meanwhile starts again at the
	// newest event: the restarted process replays nothing, though its
	// keystore catch-up and its empty cache keep it correct.
	InactiveThreshold time.Duration

	// PollInterval is how often Watch reads the keystore's tombstones
	// while the stream is unavailable; DefaultPollInterval if zero.
	PollInterval time.Duration
	// ReconcileInterval is how often Watch reads them while the stream
	// works, for Forgets whose process died between commit and publish;
	// DefaultReconcileInterval if zero, negative to never.
	ReconcileInterval time.Duration
	// ProbeInterval is how often Watch asks the server about its consumer,
	// to notice an outage and to measure Health.Pending;
	// DefaultProbeInterval if zero.
	ProbeInterval time.Duration
	// PublishTimeout bounds Forgotten; DefaultPublishTimeout if zero.
	PublishTimeout time.Duration

	// Logger receives mode changes and failures (never a subject
	// reference); slog.Default() if nil.
	Logger *slog.Logger
	// Metrics, if set, is called on events; see [Metrics].
	Metrics *Metrics
}

func (o *Options) defaults() error {
	if o.Store == nil {
		return fmt.Errorf("%w: Store is required", ErrInvalidOptions)
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	set(&o.MaxAge, DefaultMaxAge)
	if o.MaxMsgs == 0 {
		o.MaxMsgs = DefaultMaxMsgs
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	set(&o.AckWait, DefaultAckWait)
	if o.Durable != "" {
		set(&o.InactiveThreshold, DefaultDurableInactiveThreshold)
	}
	set(&o.InactiveThreshold, DefaultInactiveThreshold)
	set(&o.PollInterval, DefaultPollInterval)
	set(&o.ReconcileInterval, DefaultReconcileInterval)
	set(&o.ProbeInterval, DefaultProbeInterval)
	set(&o.PublishTimeout, DefaultPublishTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for name, d := range map[string]time.Duration{"MaxAge": o.MaxAge, "AckWait": o.AckWait,
		"InactiveThreshold": o.InactiveThreshold, "PollInterval": o.PollInterval,
		"ProbeInterval": o.ProbeInterval, "PublishTimeout": o.PublishTimeout} {
		if d < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrInvalidOptions, name)
		}
	}
	if o.MaxMsgs < 0 || o.Replicas < 0 {
		return fmt.Errorf("%w: MaxMsgs and Replicas must not be negative", ErrInvalidOptions)
	}
	return nil
}

// Watcher carries Forgets over NATS JetStream: a keystore.Watcher for
// keys.Config.Watcher, and a keystore.Broadcaster, so that the Keyring
// publishes every Forget it commits. Create it with [New]; one Watcher
// serves one Keyring. It is safe for concurrent use.
type Watcher struct {
	o      Options
	lister keystore.TombstoneLister // nil if the Store lacks it
	nc     *nats.Conn
	js     jetstream.JetStream

	wake chan struct{} // capacity 1: the connection changed; see poke

	streamMu sync.Mutex
	streamOK bool // the stream is known to exist

	state     atomic.Pointer[Health]
	stateMu   sync.Mutex
	events    atomic.Uint64
	published atomic.Uint64
	failed    atomic.Uint64
	caught    atomic.Uint64
}

var (
	_ keystore.Watcher     = (*Watcher)(nil)
	_ keystore.Broadcaster = (*Watcher)(nil)
)

// New returns a Watcher connected (or connecting: it keeps retrying in the
// background) to the NATS server of o.URL. It fails only on invalid
// options: a server that is down when New runs is waited for while Watch
// polls the keystore. It creates the stream, if missing, as soon as the
// server answers.
func New(ctx context.Context, o Options) (*Watcher, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	w := &Watcher{o: o, wake: make(chan struct{}, 1)}
	w.lister, _ = o.Store.(keystore.TombstoneLister)
	if w.lister == nil {
		o.Logger.Warn("natswatch: the keystore cannot list its tombstones; Forgets whose message is lost " +
			"reach this process only within its cache MaxAge")
	}
	opts := []nats.Option{
		nats.Name("fieldcrypt-natswatch"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		// Wake Watch at once rather than at its next tick.
		nats.DisconnectErrHandler(func(*nats.Conn, error) { w.poke() }),
		nats.ReconnectHandler(func(*nats.Conn) { w.poke() }),
	}
	if o.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredentialsFile))
	}
	if o.NkeyFile != "" {
		nk, err := nats.NkeyOptionFromSeed(o.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: NkeyFile: %w", ErrInvalidOptions, err)
		}
		opts = append(opts, nk)
	}
	opts = append(opts, o.NATSOptions...)
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natswatch: connecting to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natswatch: %w", err)
	}
	w.nc, w.js = nc, js
	w.setHealth(func(h *Health) { h.Mode = ModeStarting })
	if nc.IsConnected() {
		sctx, cancel := context.WithTimeout(ctx, o.PublishTimeout)
		if err := w.ensureStream(sctx); err != nil {
			o.Logger.Warn("natswatch: stream not ready yet; retrying in the background", "stream", o.Stream, "err", err)
		}
		cancel()
	}
	return w, nil
}

// poke wakes Watch.
func (w *Watcher) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close closes the NATS connection. Watch calls still running return
// ErrClosed; Forgotten fails with ErrClosed. It is idempotent.
func (w *Watcher) Close() error {
	w.nc.Close()
	w.setHealth(func(h *Health) { h.Mode, h.Connected = ModeStopped, false })
	return nil
}

// ensureStream creates the stream if it does not exist.
func (w *Watcher) ensureStream(ctx context.Context) error {
	w.streamMu.Lock()
	defer w.streamMu.Unlock()
	if w.streamOK {
		return nil
	}
	_, err := w.js.Stream(ctx, w.o.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = w.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        w.o.Stream,
			Description: "fieldcrypt: subjects forgotten (tombstone events: subject reference and time)",
			Subjects:    []string{w.o.Subject},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      w.o.MaxAge,
			MaxMsgs:     w.o.MaxMsgs,
			Storage:     jetstream.FileStorage,
			Replicas:    w.o.Replicas,
			Duplicates:  2 * time.Minute,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another process created it first
		}
	}
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, w.o.Stream, err)
	}
	w.streamOK = true
	return nil
}

// event is the message on the stream: the subject's reference (the
// keystore's keyed hash, never the identifier) and the tombstone's time.
// Nothing else: no reason, no key identifier.
type event struct {
	V           int    `json:"v"`
	SubjectRef  string `json:"subject_ref"`  // hex
	ForgottenAt int64  `json:"forgotten_at"` // Unix microseconds
}

func (e event) parse() (keystore.SubjectRef, time.Time, error) {
	var ref keystore.SubjectRef
	b, err := hex.DecodeString(e.SubjectRef)
	if e.V != 1 || err != nil || len(b) != len(ref) {
		return ref, time.Time{}, errors.New("natswatch: malformed event")
	}
	copy(ref[:], b)
	return ref, time.UnixMicro(e.ForgottenAt), nil
}

// Forgotten implements keystore.Broadcaster: keys.Keyring.Forget calls it
// after the keystore committed t. It publishes the subject's reference and
// the tombstone's time (not the reason) and waits for the stream's
// acknowledgement, at most PublishTimeout. It fails fast with
// ErrUnavailable while NATS is disconnected, rather than holding the
// Forget; the other processes then find the Forget in the keystore. The
// message ID makes a repeated Forget within two minutes one message.
func (w *Watcher) Forgotten(ctx context.Context, t keystore.Tombstone) error {
	err := w.publish(ctx, t)
	if err != nil {
		w.failed.Add(1)
		if m := w.o.Metrics; m != nil && m.PublishFailed != nil {
			m.PublishFailed(err)
		}
		return err
	}
	w.published.Add(1)
	return nil
}

func (w *Watcher) publish(ctx context.Context, t keystore.Tombstone) error {
	if w.nc.IsClosed() {
		return ErrClosed
	}
	if !w.nc.IsConnected() {
		return fmt.Errorf("%w: not connected", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.PublishTimeout)
	defer cancel()
	if err := w.ensureStream(ctx); err != nil {
		return err
	}
	at := t.ForgottenAt.UnixMicro()
	data, err := json.Marshal(event{V: 1, SubjectRef: t.Subject.String(), ForgottenAt: at})
	if err != nil {
		return fmt.Errorf("natswatch: publish: %w", err)
	}
	_, err = w.js.Publish(ctx, w.o.Subject, data,
		jetstream.WithMsgID(t.Subject.String()+"."+strconv.FormatInt(at, 10)),
		jetstream.WithExpectStream(w.o.Stream))
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			w.streamMu.Lock()
			w.streamOK = false // recreate it next time
			w.streamMu.Unlock()
		}
		return fmt.Errorf("%w: publish: %w", ErrUnavailable, err)
	}
	return nil
}
