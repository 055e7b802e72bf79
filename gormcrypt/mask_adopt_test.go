package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// ContactV1 is a table before its email is masked.
type ContactV1 struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt"`
}

func (ContactV1) TableName() string { return "contacts" }

// ContactV2 masks it: AutoMigrate adds email_mask after every other column.
type ContactV2 struct {
	ID        uint
	Ref       string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	EmailMask *string `gorm:"size:320"`
	Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
}

func (ContactV2) TableName() string { return "contacts" }

func TestMaskAdoption(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testMaskAdoption(t, b) })
	}
}

func testMaskAdoption(t *testing.T, b backend) {
	ctx := context.Background()
	d := b.open(t)
	kr := newKeyring(t)
	db1 := openGorm(t, d)
	p1, err := install(db1, kr, gormcrypt.WithModels(&ContactV1{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	if err := db1.AutoMigrate(&ContactV1{}); err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		if err := db1.WithContext(ctx).Create(&ContactV1{Ref: fmt.Sprintf("customer-%02d", i), Email: fmt.Sprintf("user%02d@example.com", i)}).Error; err != nil {
			t.Fatal(err)
		}
	}
	p1.Close()

	db := openGorm(t, d)
	p, err := install(db, kr, gormcrypt.WithModels(&ContactV2{}), gormcrypt.WithSweepEvery(-1), gormcrypt.WithReveal("support", "contacts.email"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&ContactV2{}); err != nil {
		t.Fatal(err)
	}
	// Before the backfill: no mask to show, and still nothing decrypted.
	var rows []ContactV2
	kr.EvictAll()
	before := kr.CacheStats()
	if err := db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil || len(rows) != n {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if after := kr.CacheStats(); after.Hits+after.Misses != before.Hits+before.Misses {
		t.Fatal("a masked read used keys")
	}
	if rows[0].Email != gormcrypt.MaskUnavailable {
		t.Fatalf("unfilled mask read as %q", rows[0].Email)
	}
	// MaskUnavailable is never written back.
	if err := db.WithContext(ctx).Save(&rows[0]).Error; !errors.Is(err, gormcrypt.ErrMasked) {
		t.Fatalf("saving an unfilled mask: %v", err)
	}
	got, err := gormcrypt.BackfillMasks(ctx, db, &ContactV2{}, 7)
	if err != nil || got != n {
		t.Fatalf("BackfillMasks: %d, %v; want %d", got, err, n)
	}
	if again, err := gormcrypt.BackfillMasks(ctx, db, &ContactV2{}, 7); err != nil || again != 0 {
		t.Fatalf("BackfillMasks again: %d, %v", again, err)
	}
	// The mask column comes after the value in SELECT *: the mask is put
	// in place after the query.
	kr.EvictAll()
	before = kr.CacheStats()
	if err := db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if after := kr.CacheStats(); after.Hits+after.Misses != before.Hits+before.Misses {
		t.Fatal("a masked read used keys")
	}
	for i, r := range rows {
		if want := "u***@example.com"; r.Email != want || r.EmailMask == nil || *r.EmailMask != want {
			t.Fatalf("row %d: %q, want %q", i, r.Email, want)
		}
	}
	var one ContactV2
	if err := db.WithContext(gormcrypt.Reveal(ctx, "support")).Where("ref = ?", "customer-03").Take(&one).Error; err != nil || one.Email != "user03@example.com" {
		t.Fatalf("revealed: %q, %v", one.Email, err)
	}
	// Forget clears the mask with the value's key.
	if _, err := gormcrypt.Forget(ctx, db, "customer-03", "test"); err != nil {
		t.Fatal(err)
	}
	var mask *string
	if err := db.Table("contacts").Where("ref = ?", "customer-03").Select("email_mask").Scan(&mask).Error; err != nil || mask != nil {
		t.Fatalf("mask after Forget: %v, %v", mask, err)
	}
}

func TestMaskColumnErrors(t *testing.T) {
	type noColumn struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	}
	type noSubject struct {
		ID        uint
		EmailMask *string
		Email     string `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	}
	type cardTokenColumn struct {
		ID       uint
		Ref      string `fieldcrypt:"subject"`
		CardMask *string
		Card     string `gorm:"serializer:token" fieldcrypt:"token:card;mask:card;mask_column:card_mask"`
	}
	type notString struct {
		ID       uint
		Ref      string `fieldcrypt:"subject"`
		BornMask *string
		Born     int `gorm:"serializer:encrypt" fieldcrypt:"mask:name"`
	}
	type encryptedColumn struct {
		ID        uint
		Ref       string  `fieldcrypt:"subject"`
		EmailMask *string `gorm:"serializer:encrypt"`
		Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	}
	for name, model := range map[string]any{"no mask column": &noColumn{}, "no subject": &noSubject{}, "card token with mask_column": &cardTokenColumn{},
		"integer": &notString{}, "encrypted mask column": &encryptedColumn{}} {
		db := openGorm(t, freshSQLite(t))
		_, err := install(db, newKeyring(t), gormcrypt.WithSweepEvery(-1), gormcrypt.WithModels(model))
		if !errors.Is(err, gormcrypt.ErrInvalidModel) {
			t.Errorf("%s: %v, want ErrInvalidModel", name, err)
		}
	}
}

func TestMaskTooLong(t *testing.T) {
	type shortMask struct {
		ID        uint
		Ref       string  `gorm:"size:64" fieldcrypt:"subject"`
		EmailMask *string `gorm:"size:8"`
		Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	}
	db := openGorm(t, freshSQLite(t))
	p, err := install(db, newKeyring(t), gormcrypt.WithSweepEvery(-1), gormcrypt.WithModels(&shortMask{}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := db.AutoMigrate(&shortMask{}); err != nil {
		t.Fatal(err)
	}
	err = db.Create(&shortMask{Ref: "customer-1", Email: "ada@example.com"}).Error
	if !errors.Is(err, gormcrypt.ErrValueTooLong) || strings.Contains(err.Error(), "example") {
		t.Fatalf("a mask longer than its column: %v", err)
	}
}
