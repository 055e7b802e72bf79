package otelmetrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/otelmetrics"
)

// collect returns every data point as "name{attrs}" -> value.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+"{"+p.Attributes.Encoded(attribute.DefaultEncoder())+"}"] += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+"{"+p.Attributes.Encoded(attribute.DefaultEncoder())+"}"] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name+"{"+p.Attributes.Encoded(attribute.DefaultEncoder())+"}"] += float64(p.Count)
				}
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	m, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: m.KMS(root), Store: store, Audit: m.Auditor(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	stop, err := m.ObserveCache(kr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, s := range []string{"customer-1", "customer-2"} {
		if _, err := kr.Current(ctx, s, "payment"); err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Current(ctx, s, "payment"); err != nil { // a hit
			t.Fatal(err)
		}
	}
	if _, err := kr.Rotate(ctx, "customer-1", "payment"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Forget(ctx, "customer-2", "ticket 9"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Current(ctx, "customer-2", "payment"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatal(err)
	}
	// Another process's view: its first use of customer-1 unwraps.
	kr2, err := keys.Open(ctx, keys.Config{KMS: m.KMS(root), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer kr2.Close()
	if _, err := kr2.Current(ctx, "customer-1", "payment"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Unwrap(ctx, []byte("not wrapped"), nil); err == nil {
		t.Fatal("unwrap of garbage succeeded")
	}
	if _, err := m.KMS(root).Unwrap(ctx, []byte("not wrapped"), nil); err == nil {
		t.Fatal("unwrap of garbage succeeded")
	}
	m.ForgetArrived(ctx, time.Now().Add(-5*time.Millisecond))

	got := collect(t, reader)
	want := map[string]float64{
		"fieldcrypt.key.events{event=created,purpose=payment}": 2,
		"fieldcrypt.key.events{event=rotated,purpose=payment}": 1,
		"fieldcrypt.key.events{event=forgotten,purpose=}":      1,
		"fieldcrypt.key.events{event=denied,purpose=payment}":  1,
		"fieldcrypt.kms.operations{op=unwrap,outcome=error}":   1,
		"fieldcrypt.forget.propagation{}":                      1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	// Wraps: at least the identifier key and the three key versions made.
	if got["fieldcrypt.kms.operations{op=wrap,outcome=ok}"] < 4 {
		t.Errorf("wraps: %v", got)
	}
	if got["fieldcrypt.kms.operations{op=unwrap,outcome=ok}"] < 2 { // kr2's identifier key and customer-1
		t.Errorf("unwraps: %v", got)
	}
	if got["fieldcrypt.cache.hits{}"] < 2 || got["fieldcrypt.cache.misses{}"] < 2 || got["fieldcrypt.cache.entries{}"] < 1 {
		t.Errorf("cache: %v", got)
	}
	if got["fieldcrypt.kms.duration{op=wrap,outcome=ok}"] != got["fieldcrypt.kms.operations{op=wrap,outcome=ok}"] {
		t.Errorf("every wrap is timed: %v", got)
	}
	// Nothing personal in any series.
	ref, _ := kr.SubjectRef("customer-2")
	for k := range got {
		if strings.Contains(k, "customer") || strings.Contains(k, ref.String()) || strings.Contains(k, "ticket") {
			t.Errorf("series %q names a subject or a reason", k)
		}
	}
}

// rewrapper is a KMS with both optional capabilities.
type rewrapper struct{ keystore.KMS }

func (rewrapper) Rewrap(context.Context, []keystore.RewrapRequest) ([]keystore.RewrapResult, error) {
	return nil, nil
}
func (rewrapper) WrappedVersion([]byte) (int, error) { return 3, nil }

type onlyVersioner struct{ keystore.KMS }

func (onlyVersioner) WrappedVersion([]byte) (int, error) { return 2, nil }

func TestKMSKeepsCapabilities(t *testing.T) {
	m, err := otelmetrics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	if _, ok := m.KMS(root).(keystore.KMSRewrapper); ok {
		t.Error("a plain KMS gained Rewrap")
	}
	w := m.KMS(rewrapper{root})
	if _, ok := w.(keystore.KMSRewrapper); !ok {
		t.Error("Rewrap lost")
	}
	if v, ok := w.(keystore.RootVersioner); !ok {
		t.Error("WrappedVersion lost")
	} else if n, _ := v.WrappedVersion(nil); n != 3 {
		t.Errorf("WrappedVersion = %d", n)
	}
	v := m.KMS(onlyVersioner{root})
	if _, ok := v.(keystore.KMSRewrapper); ok {
		t.Error("a versioner gained Rewrap")
	}
	if _, ok := v.(keystore.RootVersioner); !ok {
		t.Error("WrappedVersion lost")
	}
}
