// Command retention shows a shop's retention policy table as code, with
// time simulated: which keys expire when, what an erasure request
// destroys at once and what accounting law keeps for five years, and the
// signed receipts of each destruction. It runs on the embedded default: a
// root key file and a SQLite keystore in a data directory (a new
// temporary one unless -data is given).
//
//	go run ./examples/retention [-data DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

const year = 365 * 24 * time.Hour

// The shop's retention table: data / purpose / retention (and legal basis).
var policies = map[string]keys.Policy{
	// Contact data, for customer service: 2 years after the customer's last activity.
	"contact": {Name: "contact/customer-service/2y-after-activity", Retention: keys.AfterLastActivity(2 * year)},
	// Payment data, for order fulfilment: 5 years, required by accounting law,
	// also when the customer asks for erasure.
	"payment": {Name: "payment/order-fulfilment/5y", Retention: keys.AfterLastActivity(5 * year),
		LegalMinimum: 5 * year, LegalBasis: "accounting law: 5 years"},
	// Marketing data, for the newsletter: until consent is withdrawn.
	"marketing": {Name: "marketing/newsletter/until-withdrawn", Retention: keys.UntilWithdrawn()},
}

func main() {
	data := flag.String("data", "", "directory for the root key file and the SQLite keystore (default: a new temporary one)")
	flag.Parse()
	if err := run(context.Background(), *data); err != nil {
		fmt.Fprintln(os.Stderr, "retention:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fieldcrypt-retention")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	root, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now().UTC().Truncate(24 * time.Hour)
	now := start
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store,
		Lifecycle: keys.Lifecycle{Policies: policies, Receipts: true, AuditLog: true, Now: func() time.Time { return now }}})
	if err != nil {
		return err
	}
	defer kr.Close()
	pub, err := kr.ReceiptPublicKey(ctx)
	if err != nil {
		return err
	}
	day := func() string { return fmt.Sprintf("year %.1f", now.Sub(start).Hours()/24/365) }

	fmt.Println("policies:")
	names := []string{"contact", "payment", "marketing"}
	for _, p := range names {
		pol := policies[p]
		fmt.Printf("  %-9s %-42s %s", p, pol.Name, pol.Retention)
		if pol.LegalMinimum > 0 {
			fmt.Printf(", kept at least %.0f years (%s)", pol.LegalMinimum.Hours()/24/365, pol.LegalBasis)
		}
		fmt.Println()
	}

	// Year 0: three customers order; each field is encrypted under the key
	// of its purpose.
	type row struct{ customer, purpose, ciphertext string }
	var rows []row
	customers := map[string][]string{
		"ana":  {"contact", "payment", "marketing"},
		"ben":  {"contact", "payment"},
		"cleo": {"contact", "marketing"},
	}
	order := []string{"ana", "ben", "cleo"}
	for _, cu := range order {
		for _, p := range customers[cu] {
			c, err := envelope.New(kr, envelope.WithPurpose(p))
			if err != nil {
				return err
			}
			ct, err := c.EncryptString(ctx, cu, p+" data of "+cu, envelope.AssociatedData("customers", p, cu))
			if err != nil {
				return err
			}
			rows = append(rows, row{cu, p, ct})
		}
	}
	if err := kr.FlushActivity(ctx); err != nil {
		return err
	}
	fmt.Printf("\n%s: ana, ben and cleo order (%d fields encrypted)\n", day(), len(rows))

	receipt := func(r keys.Receipt) {
		fmt.Printf("    receipt %-9s destroyed %d, scheduled %d, signature: %v\n", r.Kind, len(r.Destroyed), len(r.Scheduled),
			map[bool]string{true: "valid", false: "INVALID"}[keys.VerifyReceipt(pub, r) == nil])
	}
	sweep := func() error {
		var rs []keys.Receipt
		st, err := kr.Expire(ctx, keys.ExpireOptions{Receipt: func(r keys.Receipt) { rs = append(rs, r) }})
		if err != nil {
			return err
		}
		defer func() {
			for _, r := range rs {
				receipt(r)
			}
		}()
		fmt.Printf("%s: sweep: %d expired", day(), len(st.Keys))
		for _, k := range st.Keys {
			fmt.Printf("; %s (%s)", k.Purpose, k.Reason)
		}
		if st.Forgotten > 0 {
			fmt.Printf("; %d customer(s) now forgotten", st.Forgotten)
		}
		fmt.Println()
		return nil
	}

	// Year 1: ben orders again; cleo unsubscribes; ana asks for erasure.
	now = start.Add(year)
	if err := kr.Touch(ctx, "ben"); err != nil {
		return err
	}
	fmt.Printf("%s: ben orders again\n", day())
	w, err := kr.Withdraw(ctx, "cleo", "marketing", "unsubscribe NL-3")
	if err != nil {
		return err
	}
	fmt.Printf("%s: cleo withdraws newsletter consent: %d key destroyed\n", day(), len(w.Destroyed))
	receipt(w.Receipt)
	e, err := kr.Erase(ctx, "ana", "erasure request ER-1")
	if err != nil {
		return err
	}
	fmt.Printf("%s: ana asks for erasure:", day())
	for _, d := range e.Destroyed {
		fmt.Printf(" %s destroyed;", d.Purpose)
	}
	for _, s := range e.Scheduled {
		fmt.Printf(" %s kept until %s (%s)", s.Purpose, s.Due.Format("2006-01-02"), s.Because)
	}
	fmt.Println()
	receipt(e.Receipt)

	readable := func() error {
		fmt.Printf("%s: what can still be decrypted:", day())
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].customer < rows[j].customer })
		for _, r := range rows {
			c, err := envelope.New(kr, envelope.WithPurpose(r.purpose))
			if err != nil {
				return err
			}
			_, err = c.DecryptString(ctx, r.ciphertext, envelope.AssociatedData("customers", r.purpose, r.customer))
			switch {
			case err == nil:
				fmt.Printf(" %s/%s", r.customer, r.purpose)
			case !errors.Is(err, keys.ErrKeyDestroyed):
				return err
			}
		}
		fmt.Println()
		return nil
	}
	if err := readable(); err != nil {
		return err
	}

	// Every half year, the sweep.
	for now = start.Add(year + year/2); now.Before(start.Add(7 * year)); now = now.Add(year / 2) {
		if err := sweep(); err != nil {
			return err
		}
		if now.Equal(start.Add(3*year)) || now.Equal(start.Add(6*year)) {
			if err := readable(); err != nil {
				return err
			}
		}
	}
	if err := readable(); err != nil {
		return err
	}
	head, err := kr.VerifyAuditLog(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\naudit log: %d entries, chain verified\n", head.Seq)
	return nil
}
