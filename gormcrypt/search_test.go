package gormcrypt_test

import (
	"context"
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
		if err := e.db.WithContext(sub).Scopes(gormcrypt.WhereEqual(sub, &Address{}, "Postcode", "00-514")).
			Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Street != "old" || got[1].Street != "new" {
			t.Fatalf("after rotation WhereEqual found %+v, want the rows written before and after it", got)
		}
	})
}
