package gormcrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// PlainBuyer is a shop's table before fieldcrypt: everything in clear.
type PlainBuyer struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex"`
	Email string
	Phone *string
	Name  string
}

func (PlainBuyer) TableName() string { return "buyers" }

// Buyer is the same table while it is being adopted: three migrating
// encrypted columns, one with a blind index added by AutoMigrate.
type Buyer struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      *string `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	Name       string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
}

func (Buyer) TableName() string { return "buyers" }

// DoneBuyer is the table once the flag is removed.
type DoneBuyer struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      *string `gorm:"serializer:encrypt"`
	Name       string  `gorm:"serializer:encrypt"`
}

func (DoneBuyer) TableName() string { return "buyers" }

func plainBuyer(i int) PlainBuyer {
	var phone *string
	if i%5 != 0 { // some NULLs
		phone = ptr(fmt.Sprintf("+48 600 %06d", i))
	}
	return PlainBuyer{Ref: fmt.Sprintf("cust-%06d", i), Email: fmt.Sprintf("User%06d@Example.com", i), Phone: phone,
		Name: fmt.Sprintf("Name %d Surname", i)}
}

// seedPlain creates the plaintext table with n rows through a *gorm.DB
// without the plugin, as the shop had it.
func seedPlain(t testing.TB, db *gorm.DB, n int) {
	t.Helper()
	if err := db.AutoMigrate(&PlainBuyer{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]PlainBuyer, 0, n)
	for i := range n {
		rows = append(rows, plainBuyer(i))
	}
	if err := db.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
}

func TestMigrate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("MixedReads", func(t *testing.T) { testMixedReads(t, b) })
			t.Run("Spoofing", func(t *testing.T) { testSpoofing(t, b) })
		})
	}
}

func testMixedReads(t *testing.T, b backend) {
	ctx := context.Background()
	d := b.open(t)
	db := openGorm(t, d)
	seedPlain(t, db, 50)
	kr := newKeyring(t)
	p, err := install(db, kr, gormcrypt.WithModels(&Buyer{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// The table holds plaintext: AutoMigrate must not add CHECK constraints.
	if err := db.AutoMigrate(&Buyer{}); err != nil {
		t.Fatalf("AutoMigrate of a migrating model over plaintext: %v", err)
	}
	db = db.WithContext(ctx)

	var s Buyer
	if err := db.Where("ref = ?", "cust-000001").Take(&s).Error; err != nil {
		t.Fatalf("reading a plaintext row: %v", err)
	}
	if s.Email != "User000001@Example.com" || s.Phone == nil || *s.Phone != "+48 600 000001" || s.Name != "Name 1 Surname" {
		t.Fatalf("plaintext row read as %+v", s)
	}
	// A write stores the protected form, index included.
	s.Email = "new@example.com"
	if err := db.Save(&s).Error; err != nil {
		t.Fatal(err)
	}
	var raw struct{ Email, Name string }
	if err := db.Raw("SELECT email, name FROM buyers WHERE id = ?", s.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw.Email, "A") || strings.Contains(raw.Email, "@") || strings.Contains(raw.Name, "Surname") {
		t.Fatal("a write through the migrating model stored plaintext")
	}
	var found []Buyer
	if err := db.Scopes(gormcrypt.WhereEqual(&Buyer{}, "Email", "NEW@example.com")).Find(&found).Error; err != nil || len(found) != 1 {
		t.Fatalf("WhereEqual after a write: %d rows, %v", len(found), err)
	}
	if err := db.Create(&Buyer{Ref: "cust-new", Email: "fresh@example.com", Name: "Fresh"}).Error; err != nil {
		t.Fatal(err)
	}
	// Mixed: one ciphertext row, the rest plaintext.
	var all []Buyer
	if err := db.Order("id").Find(&all).Error; err != nil || len(all) != 51 {
		t.Fatalf("reading the mixed table: %d rows, %v", len(all), err)
	}
	counts, err := gormcrypt.CountPlaintext(ctx, db, &Buyer{})
	if err != nil {
		t.Fatal(err)
	}
	// 50 rows, one rewritten by Save, 10 NULL phones (i%5 == 0, one of them row 0).
	if counts["email"] != 49 || counts["name"] != 49 || counts["phone"] != 39 {
		t.Fatalf("CountPlaintext = %v, want email 49, name 49, phone 39", counts)
	}
	var progress []gormcrypt.BackfillProgress
	pr, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{BatchSize: 7,
		Progress: func(p gormcrypt.BackfillProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Done || pr.Scanned != 51 || pr.Updated != 49 || pr.Total != 51 || len(progress) != 8 {
		t.Fatalf("Backfill = %+v after %d batches", pr, len(progress))
	}
	// Finished: a second call returns at once, and nothing is left.
	if pr, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{}); err != nil || pr.Updated != 49 || !pr.Done {
		t.Fatalf("second Backfill = %+v, %v", pr, err)
	}
	if counts, err := gormcrypt.CountPlaintext(ctx, db, &Buyer{}); err != nil || counts["email"]+counts["phone"]+counts["name"] != 0 {
		t.Fatalf("CountPlaintext after Backfill = %v, %v", counts, err)
	}
	if err := db.Scopes(gormcrypt.WhereEqual(&Buyer{}, "Email", "user000007@example.com")).Find(&found).Error; err != nil ||
		len(found) != 1 || found[0].Ref != "cust-000007" || found[0].Name != "Name 7 Surname" {
		t.Fatalf("WhereEqual after Backfill: %+v, %v", found, err)
	}

	// The flag removed: a new *gorm.DB (a restarted service) with the
	// final model refuses plaintext, and AutoMigrate adds its CHECK
	// constraints.
	db2 := openGorm(t, d)
	p2, err := install(db2, kr, gormcrypt.WithModels(&DoneBuyer{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Close() })
	var done []DoneBuyer
	if err := db2.Order("id").Find(&done).Error; err != nil || len(done) != 51 || done[7].Email != "User000007@Example.com" {
		t.Fatalf("reading the protected table without the flag: %d rows, %v", len(done), err)
	}
	var saved struct{ Name string }
	if err := db.Raw("SELECT name FROM buyers WHERE ref = ?", "cust-000003").Scan(&saved).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("UPDATE buyers SET name = ? WHERE ref = ?", "Leaked Name", "cust-000003").Error; err != nil {
		t.Fatal(err)
	}
	var one DoneBuyer
	err = db2.Where("ref = ?", "cust-000003").Take(&one).Error
	if !errors.Is(err, gormcrypt.ErrPlaintext) || !errors.Is(err, envelope.ErrMalformed) || strings.Contains(err.Error(), "Leaked") {
		t.Fatalf("reading plaintext without the flag: %v, want ErrPlaintext without the value", err)
	}
	if err := db.Exec("UPDATE buyers SET name = ? WHERE ref = ?", saved.Name, "cust-000003").Error; err != nil {
		t.Fatal(err)
	}
	if err := db2.AutoMigrate(&DoneBuyer{}); err != nil {
		t.Fatalf("AutoMigrate with the constraints on the protected table: %v", err)
	}
	if err := db.Exec("UPDATE buyers SET name = ? WHERE ref = ?", "Leaked Name", "cust-000003").Error; err == nil {
		t.Fatal("the CHECK constraint added after the flag was removed let plaintext in")
	}
}

// testSpoofing stores values crafted to look like ciphertexts in a
// migrating column: none may be returned, as plaintext or otherwise.
func testSpoofing(t *testing.T, b backend) {
	ctx := context.Background()
	db := openGorm(t, b.open(t))
	seedPlain(t, db, 3)
	kr := newKeyring(t)
	p, err := install(db, kr, gormcrypt.WithModels(&Buyer{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Buyer{}); err != nil {
		t.Fatal(err)
	}
	db = db.WithContext(ctx)
	if err := db.Create(&Buyer{Ref: "victim", Email: "victim@example.com", Name: "Victim"}).Error; err != nil {
		t.Fatal(err)
	}
	var victim struct{ Name string }
	if err := db.Raw("SELECT name FROM buyers WHERE ref = ?", "victim").Scan(&victim).Error; err != nil {
		t.Fatal(err)
	}
	header := make([]byte, envelope.HeaderSize+40)
	header[0], header[1] = 2, 1
	header[21] = 1
	copy(header[envelope.HeaderSize:], "attacker chosen text, 40 bytes long....")
	v1 := append([]byte(nil), header[:22+40]...)
	v1[0] = 1
	for name, v := range map[string]string{
		"another row's ciphertext": victim.Name, // authentic, but bound to another subject
		"forged version 2 header":  text(header),
		"forged version 1 header":  text(v1),
		"truncated ciphertext":     victim.Name[:60],
		"flipped body character":   victim.Name[:70] + flip(victim.Name[70]) + victim.Name[71:],
	} {
		if err := db.Exec("UPDATE buyers SET name = ? WHERE ref = ?", v, "cust-000001").Error; err != nil {
			t.Fatal(err)
		}
		var s Buyer
		err := db.Where("ref = ?", "cust-000001").Take(&s).Error
		if err == nil {
			t.Errorf("%s: read as %q, want an error", name, s.Name)
			continue
		}
		if !errors.Is(err, envelope.ErrDecrypt) && !errors.Is(err, envelope.ErrMalformed) {
			t.Logf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), "attacker") || s.Name != "" {
			t.Errorf("%s: the error or the field carries the value: %v", name, err)
		}
	}
	// Backfill refuses nothing it cannot classify as plaintext: the forged
	// value stays as it is and is not counted as plaintext.
	if counts, err := gormcrypt.CountPlaintext(ctx, db, &Buyer{}, "Name"); err != nil || counts["name"] != 2 {
		t.Fatalf("CountPlaintext = %v, %v; want the 2 untouched plaintext names", counts, err)
	}
}

func text(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func flip(c byte) string {
	if c == 'A' {
		return "Q"
	}
	return "A"
}

// TestBackfillLogsNoPlaintext runs Backfill with GORM's logger at Info
// level, which prints every statement with its arguments: the optimistic
// WHERE holds the plaintext, so Backfill's UPDATEs must not be logged.
func TestBackfillLogsNoPlaintext(t *testing.T) {
	ctx := context.Background()
	d := freshSQLite(t)
	seedPlain(t, openGorm(t, d), 20)
	var buf bytes.Buffer
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.New(log.New(&buf, "", 0), logger.Config{LogLevel: logger.Info})})
	if err != nil {
		t.Fatal(err)
	}
	p, err := install(db, newKeyring(t), gormcrypt.WithModels(&Buyer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Buyer{}); err != nil {
		t.Fatal(err)
	}
	if pr, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{BatchSize: 8}); err != nil || pr.Updated != 20 {
		t.Fatalf("Backfill = %+v, %v", pr, err)
	}
	if out := buf.String(); strings.Contains(out, "Example.com") || strings.Contains(out, "Surname") || strings.Contains(out, "+48") {
		t.Fatal("GORM's log holds plaintext from Backfill")
	}
	if !strings.Contains(buf.String(), gormcrypt.BackfillTable) {
		t.Fatal("the logger saw nothing: the test does not test")
	}
}

// TestWithMigrating marks the final model's fields migrating with the
// option instead of the tag, and refuses what cannot be migrating.
func TestWithMigrating(t *testing.T) {
	ctx := context.Background()
	d := freshSQLite(t)
	db := openGorm(t, d)
	seedPlain(t, db, 10)
	p, err := install(db, newKeyring(t), gormcrypt.WithModels(&DoneBuyer{}), gormcrypt.WithMigrating(&DoneBuyer{}, "Email", "name", "Phone"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&DoneBuyer{}); err != nil {
		t.Fatalf("AutoMigrate: %v (a migrating column got a CHECK constraint?)", err)
	}
	var all []DoneBuyer
	if err := db.Order("id").Find(&all).Error; err != nil || len(all) != 10 || all[3].Name != "Name 3 Surname" {
		t.Fatalf("mixed read with WithMigrating: %d rows, %v", len(all), err)
	}
	if _, err := gormcrypt.Backfill(ctx, db, &DoneBuyer{}, gormcrypt.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}

	type TokenBuyer struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token:card;migrating"`
	}
	type IntBuyer struct {
		ID     uint
		Ref    string `fieldcrypt:"subject"`
		Visits int    `gorm:"serializer:encrypt"`
	}
	for name, opts := range map[string][]gormcrypt.Option{
		"token tag":     {gormcrypt.WithModels(&TokenBuyer{})},
		"integer":       {gormcrypt.WithModels(&IntBuyer{}), gormcrypt.WithMigrating(&IntBuyer{}, "Visits")},
		"unknown field": {gormcrypt.WithModels(&DoneBuyer{}), gormcrypt.WithMigrating(&DoneBuyer{}, "Nope")},
	} {
		db := openGorm(t, d)
		if _, err := install(db, newKeyring(t), append(opts, gormcrypt.WithSweepEvery(-1))...); !errors.Is(err, gormcrypt.ErrInvalidModel) {
			t.Errorf("%s: %v, want ErrInvalidModel", name, err)
		}
	}
}

// TestBackfillForgotten: plaintext of a subject forgotten before the
// backfill cannot be encrypted for them any more; it is erased.
func TestBackfillForgotten(t *testing.T) {
	ctx := context.Background()
	db := openGorm(t, freshSQLite(t))
	seedPlain(t, db, 10)
	p, err := install(db, newKeyring(t), gormcrypt.WithModels(&Buyer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Buyer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gormcrypt.Forget(ctx, db, "cust-000004", "ticket 1"); err != nil {
		t.Fatal(err)
	}
	pr, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{})
	if err != nil || pr.Erased != 1 || pr.Updated != 9 {
		t.Fatalf("Backfill = %+v, %v; want 9 updated, 1 erased", pr, err)
	}
	var raw struct {
		Email, Name *string
	}
	if err := db.Raw("SELECT email, name FROM buyers WHERE ref = ?", "cust-000004").Scan(&raw).Error; err != nil || raw.Email != nil || raw.Name != nil {
		t.Fatalf("the forgotten customer's plaintext was kept (%v)", err)
	}
}
