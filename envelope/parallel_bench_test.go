package envelope_test

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkEncryptParallel is Encrypt of 64 bytes from GOMAXPROCS
// goroutines over 1000 subjects with cached keys; its peer is
// BenchmarkTinkAEADEncryptParallel. Run with -cpu 1,2,4,8. The 1-subject
// and append variants separate what per-customer keys cost (1000 key
// schedules and GHASH tables in the caches) and what the returned
// ciphertext's allocation costs from the lookup and sealing themselves.
func BenchmarkEncryptParallel(b *testing.B) {
	c := newCipher(b)
	pt := benchInput(64)
	subjects := make([]string, 1000)
	for i := range subjects {
		subjects[i] = "cust-" + strconv.Itoa(i)
		if _, err := c.Encrypt(ctx, subjects[i], pt, benchAD); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name     string
		subjects []string
		append   bool
	}{
		{"64B", subjects, false},
		{"64B/1-subject", subjects[:1], false},
		{"64B/append", subjects, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(64)
			b.ReportAllocs()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				var buf []byte
				for pb.Next() {
					var err error
					s := bc.subjects[i%len(bc.subjects)]
					if bc.append {
						buf, err = c.AppendEncrypt(ctx, buf[:0], s, pt, benchAD)
					} else {
						_, err = c.Encrypt(ctx, s, pt, benchAD)
					}
					if err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkTinkAEADEncryptParallel is Tink's bare AEAD (no key lookup) on
// 64 bytes from GOMAXPROCS goroutines: the peer of BenchmarkEncryptParallel.
func BenchmarkTinkAEADEncryptParallel(b *testing.B) {
	p := tinkBareAEAD(b)
	pt := benchInput(64)
	b.Run("64B", func(b *testing.B) {
		b.SetBytes(64)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.Encrypt(pt, benchAD); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
