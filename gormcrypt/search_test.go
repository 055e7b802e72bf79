package gormcrypt_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// forEachBackend runs fn once per database as a subtest.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// TestDeterministicSearchAfterRotation: rows written before a rotation of
// the customer's key hold ciphertexts of the old version and must still be
// found, as must rows written after it.
func TestDeterministicSearchAfterRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := setup(t, b)
		ctx := context.Background()
		c := sample("c-rot")
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
		before := Address{CustomerID: c.ID, CustomerRef: c.Ref, Street: "old", Postcode: "00-514"}
		if err := e.db.Create(&before).Error; err != nil {
			t.Fatal(err)
		}
		if v, err := e.kr.Rotate(ctx, c.Ref, keys.DefaultPurpose); err != nil || v != 2 {
			t.Fatalf("Rotate = %d, %v", v, err)
		}
		after := Address{CustomerID: c.ID, CustomerRef: c.Ref, Street: "new", Postcode: "00-514"}
		if err := e.db.Create(&after).Error; err != nil {
			t.Fatal(err)
		}
		sub := gormcrypt.WithSubject(ctx, c.Ref)
		var got []Address
		if err := e.db.WithContext(sub).Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).
			Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Street != "old" || got[1].Street != "new" {
			t.Fatalf("after rotation WhereEqual found %+v, want the rows written before and after it", got)
		}
	})
}

// TestWhereEqualQualifiesTable: the condition names the model's table as
// the statement knows it, so it works on joined relations, in Preload
// conditions and under a table alias, and reads the subject and keys
// through the statement's context.
func TestWhereEqualQualifiesTable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := setup(t, b)
		ctx := context.Background()
		var cs []Customer
		for i := range 3 {
			c := sample(fmt.Sprintf("c-%d", i))
			c.Addresses = []Address{
				{CustomerRef: c.Ref, Street: "home " + c.Ref, Postcode: "00-514"},
				{CustomerRef: c.Ref, Street: "work " + c.Ref, Postcode: "02-001"},
			}
			if err := e.db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		want := cs[1].Email

		// Joins: the customer's blind index is on the joined table, aliased "Customer".
		var joined []AddressWithCustomer
		err := e.db.Joins("Customer").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", strings.ToUpper(want))).
			Order("addresses.id").Find(&joined).Error
		if err != nil {
			t.Fatalf("Joins + WhereEqual on the joined model: %v", err)
		}
		if len(joined) != 2 || joined[0].Customer.Ref != "c-1" || joined[1].Customer.Ref != "c-1" {
			t.Fatalf("Joins + WhereEqual: %+v", joined)
		}
		// The same through Model and Count, and a condition on both tables.
		var n int64
		sub := gormcrypt.WithSubject(ctx, "c-1")
		err = e.db.WithContext(sub).Model(&AddressWithCustomer{}).Joins("Customer").
			Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", want), gormcrypt.WhereEqual(&Address{}, "Postcode", "02-001")).
			Count(&n).Error
		if err != nil || n != 1 {
			t.Fatalf("Joins + two WhereEqual + Count: %d, %v; want 1", n, err)
		}

		// Preload conditions: the deterministic postcode of one subject,
		// read from the statement's context.
		var pre []Customer
		err = e.db.WithContext(sub).Preload("Addresses", gormcrypt.WhereEqual(&Address{}, "Postcode", "02-001")).
			Where("ref = ?", "c-1").Find(&pre).Error
		if err != nil {
			t.Fatalf("Preload + WhereEqual: %v", err)
		}
		if len(pre) != 1 || len(pre[0].Addresses) != 1 || pre[0].Addresses[0].Street != "work c-1" {
			t.Fatalf("Preload + WhereEqual: %+v", pre)
		}

		// A table alias.
		var aliased []Customer
		if err := e.db.Table("customers c").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", want)).Find(&aliased).Error; err != nil {
			t.Fatalf("Table alias: %v", err)
		}
		if len(aliased) != 1 || aliased[0].Ref != "c-1" {
			t.Fatalf("Table alias: %+v", aliased)
		}

		// A raw join needs the alias named.
		var viaRaw []Address
		err = e.db.Joins("JOIN customers cu ON cu.id = addresses.customer_id").
			Scopes(gormcrypt.WhereEqualAs("cu", &Customer{}, "Email", want)).Order("addresses.id").Find(&viaRaw).Error
		if err != nil || len(viaRaw) != 2 || viaRaw[0].CustomerRef != "c-1" {
			t.Fatalf("raw join + WhereEqualAs: %d rows, %v", len(viaRaw), err)
		}

		// The subject comes from the statement's context, whichever order
		// WithContext and Scopes are called in.
		var addrs []Address
		if err := e.db.Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).WithContext(gormcrypt.WithSubject(ctx, "c-2")).
			Find(&addrs).Error; err != nil || len(addrs) != 1 || addrs[0].Street != "home c-2" {
			t.Fatalf("subject from the statement's context: %+v, %v", addrs, err)
		}
	})
}
