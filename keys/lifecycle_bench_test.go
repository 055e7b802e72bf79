package keys_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// touchCounter is a memstore that counts the activity writes.
type touchCounter struct {
	*memstore.Store
	touches atomic.Int64
}

func (s *touchCounter) Touch(ctx context.Context, subject keys.SubjectRef, at time.Time) error {
	s.touches.Add(1)
	return s.Store.Touch(ctx, subject, at)
}

// BenchmarkCurrentWarm measures Current on a cached key, without and with
// a policy that counts activity: the warm path must not write to the
// keystore (touches/op stays at about 1/b.N: the first use in the period).
func BenchmarkCurrentWarm(b *testing.B) {
	for _, c := range []struct {
		name string
		life keys.Lifecycle
	}{
		{"NoLifecycle", keys.Lifecycle{}},
		{"ActivityPolicy", keys.Lifecycle{Policies: map[string]keys.Policy{
			"contact": {Name: "contact-2y", Retention: keys.AfterLastActivity(2 * 365 * 24 * time.Hour)}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			root, err := localkms.Parse([]byte(localkms.GenerateKey()))
			if err != nil {
				b.Fatal(err)
			}
			s := &touchCounter{Store: memstore.New()}
			kr, err := keys.Open(context.Background(), keys.Config{KMS: root, Store: s, Lifecycle: c.life})
			if err != nil {
				b.Fatal(err)
			}
			defer kr.Close()
			ctx := context.Background()
			if _, err := kr.Current(ctx, "customer-1", "contact"); err != nil {
				b.Fatal(err)
			}
			kr.FlushActivity(ctx)
			before := s.touches.Load()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := kr.Current(ctx, "customer-1", "contact"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			kr.FlushActivity(ctx)
			if n := s.touches.Load() - before; n != 0 {
				b.Fatalf("%d keystore writes on the warm path", n)
			}
		})
	}
}
