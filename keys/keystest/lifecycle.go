package keystest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// LifecycleHarness gives RunLifecycleTests a backend implementing
// keystore.LifecycleStore and the means to tamper with its audit log as
// someone with write access to the database would.
type LifecycleHarness struct {
	// New returns a fresh, empty store implementing
	// keystore.LifecycleStore. Required.
	New func(t *testing.T) keystore.Store
	// Reopen returns a second Store on the same keystore, as another
	// process would open it; nil means New's store is shared as is.
	Reopen func(t *testing.T, s keystore.Store) keystore.Store
	// TamperAudit changes the stored audit log beneath the Store API:
	// "remove" deletes entry seq, "swap" exchanges the contents of
	// entries seq and seq+1, "edit" changes one byte of entry seq's
	// reason. Required.
	TamperAudit func(t *testing.T, s keystore.Store, op string, seq uint64)
}

// Year is the 365-day year the lifecycle tests count in.
const Year = 365 * 24 * time.Hour

// Shop is the policy table of a small web shop, which the lifecycle
// tests and examples use: contact data for customer service, 2 years
// after the customer's last activity; payment data for order fulfilment,
// 5 years, required by accounting law; marketing data for the newsletter,
// until consent is withdrawn.
func Shop() map[string]keys.Policy {
	return map[string]keys.Policy{
		"contact": {Name: "contact/customer-service/2y-after-activity", Retention: keys.AfterLastActivity(2 * Year)},
		"payment": {Name: "payment/order-fulfilment/5y", Retention: keys.AfterLastActivity(5 * Year),
			LegalMinimum: 5 * Year, LegalBasis: "accounting law: 5 years"},
		"marketing": {Name: "marketing/newsletter/until-withdrawn", Retention: keys.UntilWithdrawn()},
	}
}

// FakeClock is a settable clock for Lifecycle.Now.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a clock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{t: start} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func openLife(t *testing.T, s keystore.Store, clock *FakeClock, audit bool) *keys.Keyring {
	t.Helper()
	kr, err := keys.Open(context.Background(), keys.Config{KMS: lifeRoot, Store: s, DisableWatch: true,
		Lifecycle: keys.Lifecycle{Policies: Shop(), Receipts: true, AuditLog: audit, Now: clock.Now}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr
}

var lifeRoot keystore.KMS

// RunLifecycleTests checks retention policies, consent withdrawal, legal
// minimums, holds, erasure receipts and the audit log through a Keyring on
// the backend h gives, with a fake clock.
func RunLifecycleTests(t *testing.T, h LifecycleHarness) {
	ctx := context.Background()
	if lifeRoot == nil {
		lifeRoot = newRoot(t)
	}
	t0 := time.Now().UTC().Truncate(time.Second)
	use := func(t *testing.T, kr *keys.Keyring, subject, purpose string) *keys.Key {
		t.Helper()
		k, err := kr.Current(ctx, subject, purpose)
		if err != nil {
			t.Fatalf("Current(%s): %v", purpose, err)
		}
		return k
	}
	readable := func(t *testing.T, kr *keys.Keyring, k *keys.Key, want bool) {
		t.Helper()
		kr.EvictAll()
		_, err := kr.KeyVersion(ctx, k.ID(), k.Version())
		switch {
		case want && err != nil:
			t.Fatalf("%s v%d: %v, want readable", k.Purpose(), k.Version(), err)
		case !want && !errors.Is(err, keys.ErrKeyDestroyed):
			t.Fatalf("%s v%d: %v, want ErrKeyDestroyed", k.Purpose(), k.Version(), err)
		}
	}
	expire := func(t *testing.T, kr *keys.Keyring) keys.ExpireStats {
		t.Helper()
		st, err := kr.Expire(ctx, keys.ExpireOptions{BatchSize: 2})
		if err != nil {
			t.Fatalf("Expire: %v", err)
		}
		return st
	}
	verify := func(t *testing.T, kr *keys.Keyring, r keys.Receipt) {
		t.Helper()
		pub, err := kr.ReceiptPublicKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.VerifyReceipt(pub, r); err != nil {
			t.Fatalf("receipt %+v: %v", r, err)
		}
	}

	t.Run("OpenValidates", func(t *testing.T) {
		for _, p := range []map[string]keys.Policy{
			{"contact": {Retention: keys.AfterCreation(Year)}},                                    // no name
			{"contact": {Name: "x"}},                                                              // no retention
			{"contact": {Name: "x", Retention: keys.AfterCreation(-1)}},                           // negative
			{"Bad Purpose": {Name: "x", Retention: keys.UntilWithdrawn()}},                        // purpose
			{"payment": {Name: "x", Retention: keys.AfterCreation(Year), LegalMinimum: 2 * Year}}, // minimum > retention
		} {
			_, err := keys.Open(ctx, keys.Config{KMS: lifeRoot, Store: h.New(t), Lifecycle: keys.Lifecycle{Policies: p}})
			if !errors.Is(err, keys.ErrInvalidPolicy) {
				t.Errorf("Open(%v) = %v, want ErrInvalidPolicy", p, err)
			}
		}
	})

	t.Run("ContactExpiresAfterInactivity", func(t *testing.T) {
		clock := NewFakeClock(t0)
		kr := openLife(t, h.New(t), clock, false)
		alice := use(t, kr, "alice", "contact")
		bob := use(t, kr, "bob", "contact")
		carol := use(t, kr, "carol", "contact")
		clock.Set(t0.Add(Year))
		if err := kr.Touch(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(Year + Year/2))
		use(t, kr, "carol", "contact") // encrypting counts as activity
		if err := kr.FlushActivity(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(2*Year - time.Hour))
		if st := expire(t, kr); len(st.Keys) != 0 {
			t.Fatalf("before 2 years: expired %+v", st.Keys)
		}
		readable(t, kr, alice, true)
		clock.Set(t0.Add(2*Year + 2*24*time.Hour))
		var receipts []keys.Receipt
		st, err := kr.Expire(ctx, keys.ExpireOptions{Receipt: func(r keys.Receipt) { receipts = append(receipts, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Keys) != 1 || st.Keys[0].Key != alice.ID() || st.Keys[0].Reason != Shop()["contact"].Name {
			t.Fatalf("after 2 years: expired %+v, want alice's contact key", st.Keys)
		}
		if len(receipts) != 1 || receipts[0].Kind != "expire" {
			t.Fatalf("receipts %+v", receipts)
		}
		verify(t, kr, receipts[0])
		readable(t, kr, alice, false)
		readable(t, kr, bob, true)
		readable(t, kr, carol, true)
		// Alice comes back: her contact purpose starts afresh.
		again := use(t, kr, "alice", "contact")
		if again.Version() != alice.Version()+1 {
			t.Fatalf("alice's new contact key is v%d, want v%d", again.Version(), alice.Version()+1)
		}
		if st := expire(t, kr); len(st.Keys) != 0 {
			t.Fatalf("second sweep expired %+v", st.Keys)
		}
		clock.Set(t0.Add(3*Year + 2*24*time.Hour))
		if st := expire(t, kr); len(st.Keys) != 1 || st.Keys[0].Key != bob.ID() {
			t.Fatalf("after 3 years: expired %+v, want bob's", st.Keys)
		}
	})

	t.Run("PaymentKeptForLegalMinimum", func(t *testing.T) {
		clock := NewFakeClock(t0)
		kr := openLife(t, h.New(t), clock, false)
		contact, payment, marketing := use(t, kr, "dave", "contact"), use(t, kr, "dave", "payment"), use(t, kr, "dave", "marketing")
		if err := kr.FlushActivity(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(Year))
		e, err := kr.Erase(ctx, "dave", "erasure request T-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Destroyed) != 2 || len(e.Scheduled) != 1 || e.Scheduled[0].Purpose != "payment" || !e.Tombstone.ForgottenAt.IsZero() || e.Tombstone.Scheduled != 1 {
			t.Fatalf("Erase = %+v; want contact and marketing destroyed, payment scheduled", e)
		}
		if due := e.Scheduled[0].Due; due.Before(t0.Add(5*Year)) || due.After(t0.Add(5*Year+2*24*time.Hour)) {
			t.Fatalf("payment due %v, want about 5 years after %v", due, t0)
		}
		if e.Receipt.Kind != "forget" || len(e.Receipt.Scheduled) != 1 || len(e.Receipt.Destroyed) != 2 {
			t.Fatalf("receipt %+v", e.Receipt)
		}
		verify(t, kr, e.Receipt)
		readable(t, kr, contact, false)
		readable(t, kr, marketing, false)
		readable(t, kr, payment, true)
		if _, err := kr.Current(ctx, "dave", "contact"); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("Current after Erase: %v, want ErrKeyDestroyed", err)
		}
		if _, err := kr.Current(ctx, "dave", "other"); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("Current of a new purpose after Erase: %v, want ErrKeyDestroyed", err)
		}
		// A repeated request keeps the first term.
		if e2, err := kr.Erase(ctx, "dave", "again"); err != nil || len(e2.Scheduled) != 1 || !e2.Scheduled[0].Due.Equal(e.Scheduled[0].Due) {
			t.Fatalf("repeated Erase = %+v, %v", e2, err)
		}
		clock.Set(t0.Add(4 * Year))
		if st := expire(t, kr); len(st.Keys) != 0 {
			t.Fatalf("year 4: expired %+v", st.Keys)
		}
		readable(t, kr, payment, true)
		clock.Set(t0.Add(5*Year + 3*24*time.Hour))
		var receipts []keys.Receipt
		st, err := kr.Expire(ctx, keys.ExpireOptions{Receipt: func(r keys.Receipt) { receipts = append(receipts, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Keys) != 1 || st.Keys[0].Key != payment.ID() || !st.Keys[0].Scheduled || st.Forgotten != 1 {
			t.Fatalf("year 5: %+v, want dave's payment key and dave forgotten", st)
		}
		if len(receipts) != 1 || receipts[0].Kind != "scheduled" || receipts[0].Destroyed[0].Purpose != "payment" {
			t.Fatalf("second receipt %+v", receipts)
		}
		verify(t, kr, receipts[0])
		readable(t, kr, payment, false)
		if gone, err := kr.Forgotten(ctx, "dave"); err != nil || !gone {
			t.Fatalf("Forgotten = %v, %v", gone, err)
		}
	})

	t.Run("ForgetWithoutHeldKeys", func(t *testing.T) {
		clock := NewFakeClock(t0)
		kr := openLife(t, h.New(t), clock, false)
		k := use(t, kr, "gina", "contact")
		tomb, err := kr.Forget(ctx, "gina", "T-2")
		if err != nil || tomb.ForgottenAt.IsZero() || tomb.Scheduled != 0 {
			t.Fatalf("Forget = %+v, %v", tomb, err)
		}
		readable(t, kr, k, false)
	})

	t.Run("WithdrawLeavesOtherPurposes", func(t *testing.T) {
		clock := NewFakeClock(t0)
		kr := openLife(t, h.New(t), clock, false)
		contact, payment, marketing := use(t, kr, "erin", "contact"), use(t, kr, "erin", "payment"), use(t, kr, "erin", "marketing")
		w, err := kr.Withdraw(ctx, "erin", "marketing", "newsletter unsubscribe N-7")
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Destroyed) != 1 || w.Destroyed[0].Key != marketing.ID() || w.Receipt.Kind != "withdraw" {
			t.Fatalf("Withdraw = %+v", w)
		}
		verify(t, kr, w.Receipt)
		readable(t, kr, marketing, false)
		readable(t, kr, contact, true)
		readable(t, kr, payment, true)
		// Withdrawing payment consent inside the legal minimum schedules it.
		w, err = kr.Withdraw(ctx, "erin", "payment", "W-8")
		if err != nil || len(w.Destroyed) != 0 || len(w.Scheduled) != 1 {
			t.Fatalf("Withdraw(payment) = %+v, %v; want it scheduled", w, err)
		}
		readable(t, kr, payment, true)
		// A hold cannot be placed on a destroyed key.
		if err := kr.Hold(ctx, "erin", "marketing", "L-1", t0.Add(Year)); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("Hold on a withdrawn purpose: %v, want ErrKeyDestroyed", err)
		}
	})

	t.Run("HoldPostponesErasure", func(t *testing.T) {
		clock := NewFakeClock(t0)
		kr := openLife(t, h.New(t), clock, false)
		contact := use(t, kr, "frank", "contact")
		if err := kr.Hold(ctx, "frank", "", "litigation L-9", t0.Add(3*Year)); err != nil {
			t.Fatal(err)
		}
		if err := kr.Hold(ctx, "frank", "", "L-9", t0.Add(-time.Hour)); !errors.Is(err, keys.ErrInvalidHold) {
			t.Fatalf("Hold in the past: %v", err)
		}
		clock.Set(t0.Add(2*Year + 2*24*time.Hour))
		if st := expire(t, kr); len(st.Keys) != 0 {
			t.Fatalf("held key expired: %+v", st.Keys)
		}
		e, err := kr.Erase(ctx, "frank", "T-3")
		if err != nil || len(e.Destroyed) != 0 || len(e.Scheduled) != 1 || !e.Scheduled[0].Due.Equal(t0.Add(3*Year)) {
			t.Fatalf("Erase under hold = %+v, %v", e, err)
		}
		readable(t, kr, contact, true)
		clock.Set(t0.Add(3*Year + time.Hour))
		if st := expire(t, kr); len(st.Keys) != 1 || st.Forgotten != 1 {
			t.Fatalf("after the hold: %+v", st)
		}
		readable(t, kr, contact, false)
		if err := kr.Hold(ctx, "frank", "", "L-10", t0.Add(5*Year)); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Fatalf("Hold on a forgotten subject: %v, want ErrKeyDestroyed", err)
		}
	})

	t.Run("ReceiptTamper", func(t *testing.T) {
		clock := NewFakeClock(t0)
		s := h.New(t)
		kr := openLife(t, s, clock, false)
		use(t, kr, "hana", "contact")
		e, err := kr.Erase(ctx, "hana", "T-4")
		if err != nil {
			t.Fatal(err)
		}
		pub, err := kr.ReceiptPublicKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := e.Receipt
		if bytes.Contains(r.Canonical(), []byte("hana")) {
			t.Fatal("receipt names the subject")
		}
		r.Destroyed[0].LastVersion++
		if err := keys.VerifyReceipt(pub, r); !errors.Is(err, keys.ErrReceiptInvalid) {
			t.Fatalf("edited receipt: %v", err)
		}
		// A second Keyring on the keystore signs with the same key.
		s2 := kr
		if h.Reopen != nil {
			s2 = openLife(t, h.Reopen(t, s), clock, false)
		}
		pub2, err := s2.ReceiptPublicKey(ctx)
		if err != nil || !bytes.Equal(pub, pub2) {
			t.Fatalf("second keyring's receipt key differs: %v", err)
		}
	})

	t.Run("AuditChain", func(t *testing.T) {
		for _, op := range []string{"", "remove", "swap", "edit"} {
			clock := NewFakeClock(t0)
			s := h.New(t)
			kr := openLife(t, s, clock, true)
			use(t, kr, "ivan", "contact")
			use(t, kr, "ivan", "payment")
			if _, err := kr.Withdraw(ctx, "ivan", "contact", "W-1"); err != nil {
				t.Fatal(err)
			}
			if err := kr.Hold(ctx, "ivan", "payment", "L-1", t0.Add(Year)); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Forget(ctx, "ivan", "T-5"); err != nil {
				t.Fatal(err)
			}
			if n := kr.AuditLogFailures(); n != 0 {
				t.Fatalf("%d audit log failures", n)
			}
			head, err := kr.VerifyAuditLog(ctx)
			if err != nil || head.Seq < 5 {
				t.Fatalf("VerifyAuditLog = %+v, %v", head, err)
			}
			if op == "" {
				var buf bytes.Buffer
				if _, err := kr.ExportAuditLog(ctx, &buf); err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(buf.Bytes(), []byte("ivan")) {
					t.Fatal("audit log names the subject")
				}
				if h2, err := kr.VerifyAuditExport(bytes.NewReader(buf.Bytes())); err != nil || h2 != head {
					t.Fatalf("VerifyAuditExport = %+v, %v; want %+v", h2, err, head)
				}
				edited := bytes.Replace(buf.Bytes(), []byte("W-1"), []byte("W-2"), 1)
				if _, err := kr.VerifyAuditExport(bytes.NewReader(edited)); !errors.Is(err, keys.ErrAuditLogTampered) {
					t.Fatalf("edited export: %v", err)
				}
				continue
			}
			h.TamperAudit(t, s, op, 3)
			if _, err := kr.VerifyAuditLog(ctx); !errors.Is(err, keys.ErrAuditLogTampered) {
				t.Errorf("%s: VerifyAuditLog = %v, want ErrAuditLogTampered", op, err)
			}
		}
	})

	t.Run("ConcurrentAudit", func(t *testing.T) {
		clock := NewFakeClock(t0)
		s := h.New(t)
		krs := []*keys.Keyring{openLife(t, s, clock, true)}
		for i := 0; i < 2; i++ {
			s2 := s
			if h.Reopen != nil {
				s2 = h.Reopen(t, s)
			}
			krs = append(krs, openLife(t, s2, clock, true))
		}
		var wg sync.WaitGroup
		for i, kr := range krs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 10; j++ {
					if _, err := kr.Current(ctx, string(rune('a'+i))+string(rune('a'+j)), "contact"); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		head, err := krs[0].VerifyAuditLog(ctx)
		if err != nil || head.Seq != 30 {
			t.Fatalf("VerifyAuditLog = %+v, %v; want 30 entries", head, err)
		}
	})

	t.Run("ConcurrentSweepers", func(t *testing.T) {
		clock := NewFakeClock(t0)
		s := h.New(t)
		kr := openLife(t, s, clock, false)
		const n = 60
		want := map[keys.KeyID]bool{}
		for i := 0; i < n; i++ {
			subj := "s" + string(rune('A'+i%26)) + string(rune('a'+i/26))
			k := use(t, kr, subj, "contact")
			use(t, kr, subj, "marketing")
			want[k.ID()] = true
		}
		if err := kr.FlushActivity(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(2*Year + 2*24*time.Hour))
		var mu sync.Mutex
		got := map[keys.KeyID]int{}
		var total atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			s2 := s
			if h.Reopen != nil {
				s2 = h.Reopen(t, s)
			}
			sw := openLife(t, s2, clock, false)
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := sw.Expire(ctx, keys.ExpireOptions{BatchSize: 7})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, k := range st.Keys {
					got[k.Key]++
				}
				total.Add(int64(len(st.Keys)))
			}()
		}
		wg.Wait()
		if int(total.Load()) != n || len(got) != n {
			t.Fatalf("destroyed %d keys (%d distinct), want %d", total.Load(), len(got), n)
		}
		for id, c := range got {
			if !want[id] || c != 1 {
				t.Fatalf("key %s destroyed %d times, expected %v", id, c, want[id])
			}
		}
	})
}
