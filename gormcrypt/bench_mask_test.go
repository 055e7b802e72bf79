package gormcrypt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// BenchmarkMaskedRead reads 1000 rows of four masked encrypted columns
// (card, email, phone, name) on SQLite: masked (the mask columns, nothing
// decrypted) beside revealed (every value decrypted), in the same run.
// Rows belong to 100 customers whose keys are in the Keyring cache.
// Compare with: go test -run '^$' -bench MaskedRead -count 6 ./gormcrypt/
func BenchmarkMaskedRead(b *testing.B) {
	ctx := context.Background()
	db := openGorm(b, freshSQLite(b))
	kr := newKeyring(b)
	p, err := install(db, kr, gormcrypt.WithModels(&MaskedPerson{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithReveal("auditor", "masked_people.*"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&MaskedPerson{}); err != nil {
		b.Fatal(err)
	}
	rows := make([]MaskedPerson, 0, benchRows)
	for i := range benchRows {
		v := maskedValues(i)
		rows = append(rows, MaskedPerson{Ref: fmt.Sprintf("customer-%03d-%04d", i%100, i), Card: v["card"][0], Email: v["email"][0],
			Phone: v["phone"][0], Name: v["name"][0]})
	}
	if err := db.WithContext(ctx).CreateInBatches(rows, 200).Error; err != nil {
		b.Fatal(err)
	}
	for _, r := range []struct {
		name string
		ctx  context.Context
	}{{"masked", ctx}, {"revealed", gormcrypt.Reveal(ctx, "auditor")}} {
		c := r.ctx
		b.Run(r.name, func(b *testing.B) {
			var page []MaskedPerson
			if err := db.WithContext(c).Find(&page).Error; err != nil || len(page) != benchRows { // warm the keys
				b.Fatal(len(page), err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				page = page[:0]
				if err := db.WithContext(c).Find(&page).Error; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
