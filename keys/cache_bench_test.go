package keys_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// BenchmarkCurrentWarmSubjects is Current on 1000 cached subjects, from
// one goroutine (Single) and from GOMAXPROCS goroutines (Parallel): run it
// with -cpu 1,2,4,8 to see whether the cache scales with cores.
func BenchmarkCurrentWarmSubjects(b *testing.B) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		b.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		b.Fatal(err)
	}
	defer kr.Close()
	subjects := make([]string, 1000)
	for i := range subjects {
		subjects[i] = "customer-" + strconv.Itoa(i)
		if _, err := kr.Current(ctx, subjects[i], "default"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := kr.Current(ctx, subjects[i%len(subjects)], "default"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			for pb.Next() {
				if _, err := kr.Current(ctx, subjects[i%len(subjects)], "default"); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	// One subject from every goroutine: a global-scope key, or a
	// single-tenant service. Nothing in a hit may write a line that every
	// core shares.
	b.Run("ParallelOneSubject", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := kr.Current(ctx, subjects[0], "default"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
