package keys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

const year = 365 * 24 * time.Hour

// shopPolicies is a shop's retention table.
var shopPolicies = map[string]keys.Policy{
	// Contact data, for customer service: 2 years after the last activity.
	"contact": {Name: "contact/customer-service/2y", Retention: keys.AfterLastActivity(2 * year)},
	// Payment data, for order fulfilment: 5 years, required by accounting law.
	"payment": {Name: "payment/order-fulfilment/5y", Retention: keys.AfterLastActivity(5 * year),
		LegalMinimum: 5 * year, LegalBasis: "accounting law"},
	// Marketing data, for the newsletter: until consent is withdrawn.
	"marketing": {Name: "marketing/newsletter", Retention: keys.UntilWithdrawn()},
}

// simulated is a clock the examples move forward by years.
type simulated struct{ t time.Time }

func (s *simulated) Now() time.Time { return s.t }

// A customer inactive for two years loses their contact key to the expiry
// sweep; one who was active meanwhile keeps it.
func ExampleKeyring_Expire() {
	c := context.Background()
	clock := &simulated{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(),
		Lifecycle: keys.Lifecycle{Policies: shopPolicies, Now: clock.Now}})
	kr.Current(c, "customer-1", "contact")
	kr.Current(c, "customer-2", "contact")

	clock.t = clock.t.Add(year)
	kr.Touch(c, "customer-2") // customer 2 logs in after a year

	clock.t = clock.t.Add(year + 24*time.Hour)
	st, _ := kr.Expire(c, keys.ExpireOptions{Progress: func(p keys.ExpireProgress) {
		fmt.Println("progress:", p.Cursor.Purpose, p.Examined, p.Destroyed)
	}})
	ref1, _ := kr.SubjectRef("customer-1")
	for _, k := range st.Keys {
		fmt.Println("expired:", k.Purpose, "of customer 1:", k.Subject == ref1, "by", k.Reason)
	}
	// Output:
	// progress: contact 1 1
	// expired: contact of customer 1: true by contact/customer-service/2y
}

// Withdrawing newsletter consent destroys the marketing key and leaves
// the customer's other data readable.
func ExampleKeyring_Withdraw() {
	c := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{Policies: shopPolicies}})
	marketing, _ := kr.Current(c, "customer-7", "marketing")
	contact, _ := kr.Current(c, "customer-7", "contact")

	w, err := kr.Withdraw(c, "customer-7", "marketing", "unsubscribe N-12")
	fmt.Println("destroyed:", len(w.Destroyed), w.Destroyed[0].Purpose, err)
	kr.EvictAll()
	_, err = kr.KeyVersion(c, marketing.ID(), marketing.Version())
	fmt.Println("marketing:", errors.Is(err, keys.ErrKeyDestroyed))
	_, err = kr.KeyVersion(c, contact.ID(), contact.Version())
	fmt.Println("contact readable:", err == nil)
	// Output:
	// destroyed: 1 marketing <nil>
	// marketing: true
	// contact readable: true
}

// An erasure request inside the payment data's legal minimum destroys the
// rest now and schedules the payment key; the sweep destroys it when the
// 5 years are over, and forgets the customer. Both steps come with a
// signed receipt anyone can check with the public key alone.
func ExampleKeyring_Erase() {
	c := context.Background()
	clock := &simulated{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(),
		Lifecycle: keys.Lifecycle{Policies: shopPolicies, Receipts: true, Now: clock.Now}})
	kr.Current(c, "customer-9", "contact")
	kr.Current(c, "customer-9", "payment")
	kr.FlushActivity(c)

	clock.t = clock.t.Add(year)
	e, _ := kr.Erase(c, "customer-9", "erasure request T-77")
	for _, d := range e.Destroyed {
		fmt.Println("destroyed now:", d.Purpose)
	}
	for _, s := range e.Scheduled {
		fmt.Println("scheduled:", s.Purpose, s.Due.Format("2006-01-02"), "because", s.Because)
	}
	pub, _ := kr.ReceiptPublicKey(c)
	fmt.Println("receipt:", e.Receipt.Kind, keys.VerifyReceipt(pub, e.Receipt))

	clock.t = clock.t.Add(4*year + 7*24*time.Hour)
	st, _ := kr.Expire(c, keys.ExpireOptions{Receipt: func(r keys.Receipt) {
		fmt.Println("second receipt:", r.Kind, r.Destroyed[0].Purpose, keys.VerifyReceipt(pub, r))
	}})
	gone, _ := kr.Forgotten(c, "customer-9")
	fmt.Println("forgotten:", st.Forgotten, gone)
	// Output:
	// destroyed now: contact
	// scheduled: payment 2031-01-01 because legal minimum of policy payment/order-fulfilment/5y (accounting law)
	// receipt: forget <nil>
	// second receipt: scheduled payment <nil>
	// forgotten: 1 true
}

// A litigation hold postpones erasure until it ends; it cannot be placed
// on a key already destroyed.
func ExampleKeyring_Hold() {
	c := context.Background()
	clock := &simulated{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(),
		Lifecycle: keys.Lifecycle{Policies: shopPolicies, Now: clock.Now}})
	kr.Current(c, "customer-3", "contact")
	kr.Current(c, "customer-3", "marketing")

	err := kr.Hold(c, "customer-3", "contact", "litigation L-5", clock.t.Add(3*year))
	fmt.Println("hold:", err)
	e, _ := kr.Erase(c, "customer-3", "erasure request T-78")
	fmt.Println("destroyed:", len(e.Destroyed), "scheduled:", e.Scheduled[0].Purpose, e.Scheduled[0].Because)
	err = kr.Hold(c, "customer-3", "marketing", "litigation L-6", clock.t.Add(year))
	fmt.Println("hold on a destroyed key:", errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// hold: <nil>
	// destroyed: 1 scheduled: contact hold: litigation L-5
	// hold on a destroyed key: true
}

// The audit log is a chain in the keystore: editing an entry breaks it.
func ExampleKeyring_VerifyAuditLog() {
	c := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{AuditLog: true}})
	kr.Current(c, "customer-4", "contact")
	kr.Forget(c, "customer-4", "erasure request T-79")

	head, err := kr.VerifyAuditLog(c)
	fmt.Println("entries:", head.Seq, err)
	var export bytes.Buffer
	kr.ExportAuditLog(c, &export)
	edited := bytes.Replace(export.Bytes(), []byte("T-79"), []byte("T-80"), 1)
	_, err = kr.VerifyAuditExport(bytes.NewReader(edited))
	fmt.Println("edited:", errors.Is(err, keys.ErrAuditLogTampered))
	// Output:
	// entries: 2 <nil>
	// edited: true
}
