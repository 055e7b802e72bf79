package otelmetrics_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/otelmetrics"
)

// Example instruments a Keyring: its operations, its KMS, its audit events
// and its cache.
// Applications install their own MeterProvider (with a Prometheus or OTLP
// exporter); here a manual reader shows what is recorded.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	m, _ := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	ops, stopOps, _ := m.Operations()
	defer stopOps()
	kr, _ := keys.Open(ctx, keys.Config{KMS: m.KMS(root), Store: memstore.New(), Audit: m.Auditor(nil), Operations: ops})
	defer kr.Close()
	stop, _ := m.ObserveCache(kr)
	defer stop()

	c, _ := envelope.New(kr)
	ct, _ := c.Encrypt(ctx, "customer-42", []byte("jan@example.com"), nil)
	c.Decrypt(ctx, ct, nil)

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			if s, ok := x.Data.(metricdata.Sum[int64]); ok {
				for _, p := range s.DataPoints {
					fmt.Printf("%s{%s} %d\n", x.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
				}
			}
		}
	}
	// Unordered output:
	// fieldcrypt.operations{op=encrypt,outcome=ok,purpose=default} 1
	// fieldcrypt.operations{op=decrypt,outcome=ok,purpose=default} 1
	// fieldcrypt.kms.operations{op=unwrap,outcome=ok} 2
	// fieldcrypt.kms.operations{op=wrap,outcome=ok} 2
	// fieldcrypt.key.events{event=created,purpose=default} 1
	// fieldcrypt.cache.hits{} 1
	// fieldcrypt.cache.misses{} 1
	// fieldcrypt.cache.evictions{} 0
}
