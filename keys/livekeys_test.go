package keys_test

import (
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

func TestLiveKeys(t *testing.T) {
	kr := open(t, keys.Config{})
	if ks, err := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose); err != nil || ks != nil {
		t.Fatalf("LiveKeys before any key = %v, %v; want nil, nil", ks, err)
	}
	if ks, _ := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose); ks != nil {
		t.Fatal("LiveKeys created a key")
	}
	if _, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil || len(ks) != 3 {
		t.Fatalf("LiveKeys = %d keys, %v; want 3", len(ks), err)
	}
	cur, _ := kr.Current(ctx, "cust-1", keys.DefaultPurpose)
	for i, k := range ks {
		if k.Version() != uint32(3-i) || k.ID() != cur.ID() {
			t.Fatalf("key %d is version %d of %s, want version %d of %s", i, k.Version(), k.ID(), 3-i, cur.ID())
		}
	}
	if ks[0].Created().IsZero() || ks[0].Created().Before(ks[2].Created()) {
		t.Fatalf("Created: version 3 at %v, version 1 at %v", ks[0].Created(), ks[2].Created())
	}
	if kr.CacheMaxAge() != keys.DefaultCacheMaxAge {
		t.Fatalf("CacheMaxAge = %v, want the default %v", kr.CacheMaxAge(), keys.DefaultCacheMaxAge)
	}
	// Warm: served from the cache, no keystore read.
	before := kr.CacheStats()
	if _, err := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	if st := kr.CacheStats(); st.Misses != before.Misses || st.Hits != before.Hits+3 {
		t.Fatalf("warm LiveKeys: %+v then %+v, want 3 hits and no miss", before, st)
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("LiveKeys of a forgotten subject: %v, want ErrKeyDestroyed", err)
	}
	if _, err := kr.LiveKeys(ctx, "", keys.DefaultPurpose); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("LiveKeys with an empty subject: %v, want ErrInvalidSubject", err)
	}
}
