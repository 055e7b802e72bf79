package keys_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// bareStore hides memstore's optional capabilities.
type bareStore struct{ keystore.Store }

func TestLifecycleUnsupported(t *testing.T) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	_, err := keys.Open(ctx, keys.Config{KMS: root, Store: bareStore{memstore.New()},
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop()}})
	if !errors.Is(err, keys.ErrLifecycleUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open with policies on a plain Store: %v", err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: bareStore{memstore.New()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Withdraw(ctx, "s", "contact", "r"); !errors.Is(err, keys.ErrLifecycleUnsupported) {
		t.Fatalf("Withdraw: %v", err)
	}
	if _, err := kr.Expire(ctx, keys.ExpireOptions{}); !errors.Is(err, keys.ErrLifecycleUnsupported) {
		t.Fatalf("Expire: %v", err)
	}
	// Forget keeps working as before.
	if _, err := kr.Current(ctx, "s", "contact"); err != nil {
		t.Fatal(err)
	}
	if tomb, err := kr.Forget(ctx, "s", "r"); err != nil || tomb.Destroyed != 1 {
		t.Fatalf("Forget = %+v, %v", tomb, err)
	}
}

// TestExpireResume stops a sweep after its first batch and resumes it
// from the reported cursor.
func TestExpireResume(t *testing.T) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	clock := keystest.NewFakeClock(time.Now())
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(),
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop(), Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		if _, err := kr.Current(ctx, "customer-"+strconv.Itoa(i), "contact"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(clock.Now().Add(3 * keystest.Year))
	stop, cancel := context.WithCancel(ctx)
	var cursor keys.ExpireCursor
	first, err := kr.Expire(stop, keys.ExpireOptions{BatchSize: 10, Progress: func(p keys.ExpireProgress) {
		cursor = p.Cursor
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || len(first.Keys) != 10 || cursor.Purpose != "contact" {
		t.Fatalf("first run: %d keys, cursor %+v, %v", len(first.Keys), cursor, err)
	}
	rest, err := kr.Expire(ctx, keys.ExpireOptions{BatchSize: 10, Resume: cursor})
	if err != nil || len(rest.Keys) != 15 {
		t.Fatalf("resumed: %d keys, %v; want 15", len(rest.Keys), err)
	}
}

func TestSubjectState(t *testing.T) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	clock := keystest.NewFakeClock(time.Now().UTC())
	t0 := clock.Now()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(),
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop(), Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"contact", "payment", "marketing"} {
		if _, err := kr.Current(ctx, "customer-1", p); err != nil {
			t.Fatal(err)
		}
	}
	kr.FlushActivity(ctx)
	clock.Set(t0.Add(keystest.Year))
	if _, err := kr.Erase(ctx, "customer-1", "T-1"); err != nil {
		t.Fatal(err)
	}
	st, err := kr.SubjectState(ctx, "customer-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Forgotten || !st.ErasurePending || len(st.Purposes) != 3 {
		t.Fatalf("SubjectState = %+v", st)
	}
	for _, p := range st.Purposes {
		switch {
		case p.Purpose == "payment" && (!p.Live || p.Scheduled == nil || !p.HeldUntil.After(t0.Add(5*keystest.Year)) || p.ExpiresAt.IsZero()):
			t.Errorf("payment: %+v", p)
		case p.Purpose != "payment" && p.Live:
			t.Errorf("%s still live: %+v", p.Purpose, p)
		}
	}
}

// TestExpireDryRun lists what the sweep would destroy and destroys nothing.
func TestExpireDryRun(t *testing.T) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	clock := keystest.NewFakeClock(time.Now())
	audit := &countingAuditor{}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), Audit: audit,
		Lifecycle: keys.Lifecycle{Policies: keystest.Shop(), Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if _, err := kr.Current(ctx, "customer-"+strconv.Itoa(i), "contact"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(clock.Now().Add(3 * keystest.Year))
	before := audit.n
	dry, err := kr.Expire(ctx, keys.ExpireOptions{BatchSize: 5, DryRun: true})
	if err != nil || len(dry.Keys) != 12 || dry.Keys[0].Purpose != "contact" || dry.Keys[0].Reason == "" || audit.n != before {
		t.Fatalf("dry run: %d keys, %v, %d events", len(dry.Keys), err, audit.n-before)
	}
	if _, err := kr.Current(ctx, "customer-3", "contact"); err != nil {
		t.Fatalf("a dry run destroyed a key: %v", err)
	}
	if err := kr.FlushActivity(ctx); err != nil {
		t.Fatal(err)
	}
	real, err := kr.Expire(ctx, keys.ExpireOptions{})
	if err != nil || len(real.Keys) != 11 { // customer-3 was active again just now
		t.Fatalf("the sweep after the dry run: %d keys, %v; want 11", len(real.Keys), err)
	}
}

type countingAuditor struct{ n int }

func (a *countingAuditor) Audit(context.Context, keys.Event) { a.n++ }
