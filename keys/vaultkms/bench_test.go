package vaultkms_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// BenchmarkKeyVersion fetches a subject key by version: cold is a keystore
// read plus a Transit decrypt over HTTP (the cache is off), warm is the
// Keyring's cache.
func BenchmarkKeyVersion(b *testing.B) {
	ctx := context.Background()
	k := newKMS(b, vaultkms.BindAssociatedData, nil)
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cold", -1}, {"warm", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: memstore.New(), CacheEntries: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			key, err := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
			if err != nil {
				b.Fatal(err)
			}
			id := key.ID()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kr.KeyVersion(ctx, id, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRotateRoot re-wraps 1000 subject keys per iteration and reports
// keys/s: Transit rewrap in batches of 250, one key per request, and
// unwrap + wrap (two requests per key).
func BenchmarkRotateRoot(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	for _, bc := range []struct {
		name    string
		binding vaultkms.Binding
		opts    keys.RotateOptions
	}{
		{"rewrap/batch=250", vaultkms.BindContext, keys.RotateOptions{BatchSize: 250}},
		{"rewrap/batch=1", vaultkms.BindContext, keys.RotateOptions{BatchSize: 1}},
		{"decrypt+encrypt/batch=250", vaultkms.BindAssociatedData, keys.RotateOptions{BatchSize: 250}},
		{"unwrap+wrap/no-batch", vaultkms.BindAssociatedData, keys.RotateOptions{BatchSize: 250, UnwrapAndWrap: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			k := newKMS(b, bc.binding, nil)
			store := memstore.New()
			kr, err := keys.Open(ctx, keys.Config{KMS: k, Store: store})
			if err != nil {
				b.Fatal(err)
			}
			concurrently(b, n, func(i int) error {
				_, err := kr.Current(ctx, fmt.Sprint("customer-", i), keys.DefaultPurpose)
				return err
			})
			b.ResetTimer()
			for b.Loop() {
				if st, err := keys.RotateRoot(ctx, store, k, nil, bc.opts); err != nil || st.Rewrapped != n {
					b.Fatalf("%+v, %v", st, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
