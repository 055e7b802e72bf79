// Package otelmetrics reports fieldcrypt's operations as OpenTelemetry
// metrics (go.opentelemetry.io/otel/metric): field operations (encrypt,
// decrypt, tokenize …) by kind and outcome, KMS calls by operation and
// outcome with their latency, key lifecycle events by type, the key
// cache's hits, misses, evictions and size, and how long Forgets took to
// reach this process. Without a MeterProvider installed by the application
// every instrument is a no-op.
//
//	m, err := otelmetrics.New(nil) // otel.GetMeterProvider()
//	root := m.KMS(localRoot)       // counts and times every wrap and unwrap
//	ops, _, err := m.Operations()  // counts every encrypt, decrypt, tokenize …
//	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, Audit: m.Auditor(nil), Operations: ops})
//	stop, err := m.ObserveCache(kr)
//
// No attribute ever holds a subject, a subject reference, a key identifier
// or a value: attributes are the operation, the outcome, the event type and
// the purpose (a name the application chose, such as "default" or
// "payment"), so series stay few and nothing personal reaches the metrics
// backend.
//
// Instruments (names and units):
//
//	fieldcrypt.operations          observable counter {op=encrypt|decrypt|tokenize|vault_tokenize|…, purpose,
//	                               outcome=ok|destroyed|rejected|error} (see Metrics.Operations)
//	fieldcrypt.kms.operations      counter    {op=wrap|unwrap|rewrap, outcome=ok|error}
//	fieldcrypt.kms.duration        histogram  s, same attributes
//	fieldcrypt.key.events          counter    {event=created|rotated|forgotten|denied|…, purpose}
//	fieldcrypt.cache.hits          observable counter
//	fieldcrypt.cache.misses        observable counter (each miss is a key load from the keystore)
//	fieldcrypt.cache.evictions     observable counter
//	fieldcrypt.cache.entries       observable gauge
//	fieldcrypt.forget.propagation  histogram  s: from a Forget's commit to its arrival here (see Metrics.ForgetArrived)
package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// ScopeName is the instrumentation scope of the meter.
const ScopeName = "github.com/fieldcrypt/fieldcrypt/keys/otelmetrics"

// Metrics holds the instruments. It is safe for concurrent use.
type Metrics struct {
	meter     metric.Meter
	kmsOps    metric.Int64Counter
	kmsDur    metric.Float64Histogram
	events    metric.Int64Counter
	forgetLag metric.Float64Histogram
}

// New creates the instruments on mp's meter; nil means
// otel.GetMeterProvider(), a no-op until the application installs one.
func New(mp metric.MeterProvider) (*Metrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := &Metrics{meter: mp.Meter(ScopeName)}
	var err error
	if m.kmsOps, err = m.meter.Int64Counter("fieldcrypt.kms.operations", metric.WithDescription("KMS calls by operation and outcome")); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	if m.kmsDur, err = m.meter.Float64Histogram("fieldcrypt.kms.duration", metric.WithUnit("s"), metric.WithDescription("KMS call latency")); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	if m.events, err = m.meter.Int64Counter("fieldcrypt.key.events", metric.WithDescription("key lifecycle events by type and purpose")); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	if m.forgetLag, err = m.meter.Float64Histogram("fieldcrypt.forget.propagation", metric.WithUnit("s"),
		metric.WithDescription("time from a Forget's commit in another process to its arrival in this one")); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	return m, nil
}

var (
	outcomeOK    = attribute.String("outcome", "ok")
	outcomeError = attribute.String("outcome", "error")
)

func (m *Metrics) kmsDone(ctx context.Context, op attribute.KeyValue, start time.Time, err error) {
	outcome := outcomeOK
	if err != nil {
		outcome = outcomeError
	}
	set := metric.WithAttributes(op, outcome)
	m.kmsOps.Add(ctx, 1, set)
	m.kmsDur.Record(ctx, time.Since(start).Seconds(), set)
}

var (
	opWrap   = attribute.String("op", "wrap")
	opUnwrap = attribute.String("op", "unwrap")
	opRewrap = attribute.String("op", "rewrap")
)

// KMS returns k with every call counted and timed. The result keeps k's
// optional capabilities (keystore.KMSRewrapper, keystore.RootVersioner),
// so that keys.RotateRoot still re-wraps inside the KMS.
func (m *Metrics) KMS(k keystore.KMS) keystore.KMS {
	base := &kms{m: m, k: k}
	rw, isRW := k.(keystore.KMSRewrapper)
	rv, isRV := k.(keystore.RootVersioner)
	switch {
	case isRW && isRV:
		return &kmsRWRV{kms: base, rw: rw, rv: rv}
	case isRW:
		return &kmsRW{kms: base, rw: rw}
	case isRV:
		return &kmsRV{kms: base, rv: rv}
	}
	return base
}

type kms struct {
	m *Metrics
	k keystore.KMS
}

func (w *kms) Wrap(ctx context.Context, plaintext, ad []byte) ([]byte, error) {
	start := time.Now()
	out, err := w.k.Wrap(ctx, plaintext, ad)
	w.m.kmsDone(ctx, opWrap, start, err)
	return out, err
}

func (w *kms) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	start := time.Now()
	out, err := w.k.Unwrap(ctx, wrapped, ad)
	w.m.kmsDone(ctx, opUnwrap, start, err)
	return out, err
}

func (w *kms) rewrap(ctx context.Context, rw keystore.KMSRewrapper, reqs []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	start := time.Now()
	out, err := rw.Rewrap(ctx, reqs)
	w.m.kmsDone(ctx, opRewrap, start, err)
	return out, err
}

type kmsRW struct {
	*kms
	rw keystore.KMSRewrapper
}

func (w *kmsRW) Rewrap(ctx context.Context, reqs []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	return w.rewrap(ctx, w.rw, reqs)
}

type kmsRV struct {
	*kms
	rv keystore.RootVersioner
}

func (w *kmsRV) WrappedVersion(wrapped []byte) (int, error) { return w.rv.WrappedVersion(wrapped) }

type kmsRWRV struct {
	*kms
	rw keystore.KMSRewrapper
	rv keystore.RootVersioner
}

func (w *kmsRWRV) Rewrap(ctx context.Context, reqs []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	return w.rewrap(ctx, w.rw, reqs)
}

func (w *kmsRWRV) WrappedVersion(wrapped []byte) (int, error) { return w.rv.WrappedVersion(wrapped) }

// Auditor returns a keys.Auditor that counts every event by type and
// purpose, then hands it to next (nil: none), for keys.Config.Audit.
func (m *Metrics) Auditor(next keys.Auditor) keys.Auditor { return auditor{m, next} }

type auditor struct {
	m    *Metrics
	next keys.Auditor
}

func (a auditor) Audit(ctx context.Context, e keys.Event) {
	a.m.events.Add(ctx, 1, metric.WithAttributes(attribute.String("event", string(e.Type)), attribute.String("purpose", e.Purpose)))
	if a.next != nil {
		a.next.Audit(ctx, e)
	}
}

// ObserveCache reports kr's cache counters (keys.Keyring.CacheStats) at
// every collection; stop unregisters them.
func (m *Metrics) ObserveCache(kr *keys.Keyring) (stop func() error, err error) {
	if kr == nil {
		return nil, errors.New("otelmetrics: ObserveCache of a nil Keyring")
	}
	hits, err1 := m.meter.Int64ObservableCounter("fieldcrypt.cache.hits", metric.WithDescription("key lookups served from memory"))
	misses, err2 := m.meter.Int64ObservableCounter("fieldcrypt.cache.misses", metric.WithDescription("key lookups that loaded from the keystore"))
	evictions, err3 := m.meter.Int64ObservableCounter("fieldcrypt.cache.evictions", metric.WithDescription("entries dropped for size, age, rotation or Forget"))
	entries, err4 := m.meter.Int64ObservableGauge("fieldcrypt.cache.entries", metric.WithDescription("unwrapped keys held in memory"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := kr.CacheStats()
		o.ObserveInt64(hits, int64(s.Hits))
		o.ObserveInt64(misses, int64(s.Misses))
		o.ObserveInt64(evictions, int64(s.Evictions))
		o.ObserveInt64(entries, int64(s.Entries))
		return nil
	}, hits, misses, evictions, entries)
	if err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	return reg.Unregister, nil
}

// ForgetArrived records that a Forget committed at committed (by another
// process) reached this one now: the lag a watcher's metrics hook reports
// (keys/natswatch's Metrics, for example).
func (m *Metrics) ForgetArrived(ctx context.Context, committed time.Time) {
	if committed.IsZero() {
		return
	}
	m.forgetLag.Record(ctx, max(time.Since(committed), 0).Seconds())
}
