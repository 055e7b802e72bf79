package keys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// rotated returns a Keyring with a short cache MaxAge whose key of
// ("cust-1", default) has versions 1 to n, the newest older than MaxAge.
func rotated(t *testing.T, n int, cfg keys.Config) *keys.Keyring {
	t.Helper()
	cfg.CacheMaxAge = time.Millisecond
	kr := open(t, cfg)
	if _, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		if _, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	return kr
}

func TestDestroyVersionsBelow(t *testing.T) {
	rec := &recorder{}
	kr := rotated(t, 3, keys.Config{Audit: rec})
	cur, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil {
		t.Fatal(err)
	}
	for v := uint32(1); v <= 3; v++ { // all cached
		if _, err := kr.KeyVersion(ctx, cur.ID(), v); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	d, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 3, keys.WhenUnused(func(context.Context) (int64, error) {
		calls++
		return 0, nil
	}))
	if err != nil || calls != 1 {
		t.Fatalf("DestroyVersionsBelow = %v after %d checks", err, calls)
	}
	if d.DestroyedNow != 2 || d.Below != 3 || d.Key != cur.ID() || d.Purpose != keys.DefaultPurpose || d.Subject != cur.Subject() {
		t.Fatalf("DestroyVersionsBelow = %+v", d)
	}
	for _, v := range []uint32{1, 2} {
		_, err := kr.KeyVersion(ctx, cur.ID(), v)
		if !errors.Is(err, keys.ErrVersionDestroyed) || !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("KeyVersion v%d after DestroyVersionsBelow = %v; want ErrVersionDestroyed, which is ErrKeyDestroyed", v, err)
		}
	}
	if k, err := kr.KeyVersion(ctx, cur.ID(), 3); err != nil || k.Version() != 3 {
		t.Fatalf("KeyVersion v3 = %v", err)
	}
	ks, err := kr.LiveKeys(ctx, "cust-1", keys.DefaultPurpose)
	if err != nil || len(ks) != 1 || ks[0].Version() != 3 {
		t.Fatalf("LiveKeys after DestroyVersionsBelow(3) = %d keys, %v; want only v3", len(ks), err)
	}
	if st, _ := kr.Status(ctx, "cust-1"); st.Forgotten {
		t.Fatal("DestroyVersionsBelow forgot the subject")
	}
	again, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 3, keys.Unchecked())
	if err != nil || again.DestroyedNow != 0 {
		t.Fatalf("repeated DestroyVersionsBelow = %+v, %v; want 0 destroyed", again, err)
	}
	// A lower bound than one already applied succeeds and destroys nothing.
	if lower, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 2, keys.Unchecked()); err != nil || lower.DestroyedNow != 0 {
		t.Fatalf("DestroyVersionsBelow(2) after (3) = %+v, %v; want 0 destroyed", lower, err)
	}
	var got []keys.Event
	for _, e := range rec.events {
		if e.Type == keys.EventVersionsDestroyed {
			got = append(got, e)
		}
	}
	if len(got) != 3 || got[0].Destroyed != 2 || got[0].Version != 3 || got[0].Key != cur.ID() || got[1].Destroyed != 0 || got[2].Destroyed != 0 {
		t.Fatalf("audit events = %+v; want three EventVersionsDestroyed, 2 then 0 then 0 destroyed", got)
	}
	// Rotating again still works: new versions are above the floor.
	if v, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose); err != nil || v != 4 {
		t.Fatalf("Rotate after DestroyVersionsBelow = %d, %v", v, err)
	}
}

func TestDestroyVersionsBelowRefuses(t *testing.T) {
	kr := rotated(t, 2, keys.Config{})
	id := func() keys.KeyID {
		k, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID()
	}()
	intact := func(t *testing.T) {
		t.Helper()
		if _, err := kr.KeyVersion(ctx, id, 1); err != nil {
			t.Fatalf("a refused DestroyVersionsBelow destroyed v1: %v", err)
		}
	}
	unused := keys.WhenUnused(func(context.Context) (int64, error) { return 0, nil })
	for _, c := range []struct {
		name  string
		below uint32
		opts  []keys.DestroyOption
		want  error
	}{
		{"version 0", 0, []keys.DestroyOption{unused}, keys.ErrInvalidVersion},
		{"above MaxVersion", keys.MaxVersion + 1, []keys.DestroyOption{unused}, keys.ErrInvalidVersion},
		{"the current version", 3, []keys.DestroyOption{unused}, keys.ErrInvalidVersion},
		{"rows still in use", 2, []keys.DestroyOption{keys.WhenUnused(func(context.Context) (int64, error) { return 7, nil })}, keys.ErrVersionsInUse},
		{"one of two checks in use", 2, []keys.DestroyOption{unused, keys.WhenUnused(func(context.Context) (int64, error) { return 1, nil })}, keys.ErrVersionsInUse},
		{"no guard", 2, nil, nil},
		{"check failed", 2, []keys.DestroyOption{keys.WhenUnused(func(context.Context) (int64, error) { return 0, context.DeadlineExceeded })}, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, c.below, c.opts...)
			if err == nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("DestroyVersionsBelow = %v, want %v", err, c.want)
			}
			intact(t)
		})
	}
	if _, err := kr.DestroyVersionsBelow(ctx, "cust-2", keys.DefaultPurpose, 2, unused); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("DestroyVersionsBelow of a key that does not exist = %v, want ErrKeyNotFound", err)
	}
	if _, err := kr.DestroyVersionsBelow(ctx, "", keys.DefaultPurpose, 2, unused); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("empty subject: %v", err)
	}
	if d, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 1, unused); err != nil || d.DestroyedNow != 0 {
		t.Fatalf("DestroyVersionsBelow(1) = %+v, %v; want nothing destroyed", d, err)
	}
	if _, err := kr.Forget(ctx, "cust-1", "ticket-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 2, unused); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("DestroyVersionsBelow of a forgotten subject = %v, want ErrKeyDestroyed", err)
	}
}

// A process that read the current version just before a Rotate keeps
// encrypting under the old one for up to its cache MaxAge.
func TestDestroyVersionsBelowWaitsForCaches(t *testing.T) {
	kr := open(t, keys.Config{CacheMaxAge: time.Hour})
	if _, err := kr.Current(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(ctx, "cust-1", keys.DefaultPurpose); err != nil {
		t.Fatal(err)
	}
	_, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 2, keys.Unchecked())
	if !errors.Is(err, keys.ErrVersionsInUse) {
		t.Fatalf("DestroyVersionsBelow right after Rotate = %v, want ErrVersionsInUse", err)
	}
}

// storeOnly hides every optional capability of a Store.
type storeOnly struct{ keystore.Store }

func TestDestroyVersionsBelowUnsupported(t *testing.T) {
	kr := rotated(t, 2, keys.Config{Store: storeOnly{memstore.New()}})
	_, err := kr.DestroyVersionsBelow(ctx, "cust-1", keys.DefaultPurpose, 2, keys.Unchecked())
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("DestroyVersionsBelow on a Store without VersionDestroyer = %v, want errors.ErrUnsupported", err)
	}
}
