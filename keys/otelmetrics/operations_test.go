package otelmetrics_test

import (
	"context"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/otelmetrics"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestOperations: an in-memory reader sees fieldcrypt.operations move by
// kind, purpose and outcome, and no attribute holds a subject or value.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	m, err := newMetrics(reader)
	if err != nil {
		t.Fatal(err)
	}
	ops, stop, err := m.Operations()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, Operations: ops})
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := c.Encrypt(ctx, "customer-42", []byte("jan@example.com"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Encrypt(ctx, "customer-42", []byte("jan@example.com"), nil)
	c.Decrypt(ctx, ct, nil)
	c.Decrypt(ctx, ct, []byte("wrong"))
	c.Decrypt(ctx, []byte("junk"), nil)
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	tk.Tokenize(ctx, "customer-42", "f", tokenize.Card{}, "4111 1111 1111 1111")
	tk.Tokenize(ctx, "customer-42", "f", tokenize.Card{}, "not a card")
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		t.Fatal(err)
	}
	v.Tokenize(ctx, "customer-42", "f", tokenize.Card{}, "4111 1111 1111 1111")
	if _, err := kr.Forget(ctx, "customer-42", "test"); err != nil {
		t.Fatal(err)
	}
	c.Decrypt(ctx, ct, nil)
	got := collect(t, reader)
	for k, want := range map[string]float64{
		"fieldcrypt.operations{op=encrypt,outcome=ok,purpose=default}":        2,
		"fieldcrypt.operations{op=decrypt,outcome=ok,purpose=default}":        1,
		"fieldcrypt.operations{op=decrypt,outcome=rejected,purpose=default}":  2,
		"fieldcrypt.operations{op=decrypt,outcome=destroyed,purpose=default}": 1,
		"fieldcrypt.operations{op=tokenize,outcome=ok,purpose=tokens}":        1,
		"fieldcrypt.operations{op=tokenize,outcome=rejected,purpose=tokens}":  1,
		"fieldcrypt.operations{op=vault_tokenize,outcome=ok,purpose=tokens}":  1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
	for k := range got {
		if contains(k, "customer-42") || contains(k, "4111") || contains(k, "jan@") {
			t.Errorf("a series names a subject or value: %s", k)
		}
	}
}

func BenchmarkObserveOperation(b *testing.B) {
	m, err := newMetrics(sdkmetric.NewManualReader())
	if err != nil {
		b.Fatal(err)
	}
	ops, _, err := m.Operations()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ops.ObserveOperation(keys.OpEncrypt, "default", nil)
	}
}

func newMetrics(r *sdkmetric.ManualReader) (*otelmetrics.Metrics, error) {
	return otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)))
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
