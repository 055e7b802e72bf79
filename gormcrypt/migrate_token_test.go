package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// PlainPayer is a table before fieldcrypt: card numbers in clear.
type PlainPayer struct {
	ID   uint
	Ref  string `gorm:"size:64;uniqueIndex"`
	Card string `gorm:"size:32"`
}

func (PlainPayer) TableName() string { return "payers" }

// Payer is the table while its card column becomes a token column: the
// token marker, added by AutoMigrate, says per row which value is a token.
type Payer struct {
	ID            uint
	Ref           string `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
	Card          string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;migrating"`
}

func (Payer) TableName() string { return "payers" }

// DonePayer is the table once the flag is removed (the marker may stay).
type DonePayer struct {
	ID   uint
	Ref  string `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Card string `gorm:"size:32;serializer:token" fieldcrypt:"token:card"`
}

func (DonePayer) TableName() string { return "payers" }

func plainCard(i int) string { return luhn(fmt.Sprintf("4111%011d", i)) }

// luhn appends the check digit that makes s pass the Luhn check.
func luhn(s string) string {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + string(rune('0'+(10-sum%10)%10))
}

func seedPayers(t testing.TB, db *gorm.DB, n int) {
	t.Helper()
	if err := db.AutoMigrate(&PlainPayer{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]PlainPayer, 0, n)
	for i := range n {
		rows = append(rows, PlainPayer{Ref: fmt.Sprintf("payer-%04d", i), Card: plainCard(i)})
	}
	if err := db.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
}

func TestMigrateTokenColumn(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testMigrateTokenColumn(t, b) })
	}
}

func testMigrateTokenColumn(t *testing.T, b backend) {
	ctx := context.Background()
	d := b.open(t)
	db := openGorm(t, d)
	const n = 40
	seedPayers(t, db, n)
	kr := newKeyring(t)
	p, err := install(db, kr, gormcrypt.WithModels(&Payer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Payer{}); err != nil {
		t.Fatalf("AutoMigrate adding the token marker: %v", err)
	}
	db = db.WithContext(ctx)
	want := map[string]string{}
	for i := range n {
		want[fmt.Sprintf("payer-%04d", i)] = plainCard(i)
	}
	rawCard := func(ref string) (card string, marked *bool) {
		t.Helper()
		var raw struct {
			Card          string
			CardTokenized *bool
		}
		if err := db.Raw("SELECT card, card_tokenized FROM payers WHERE ref = ?", ref).Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		return raw.Card, raw.CardTokenized
	}
	check := func(stage string) {
		t.Helper()
		var all []Payer
		if err := db.Order("id").Find(&all).Error; err != nil {
			t.Fatalf("%s: reading the table: %v", stage, err)
		}
		if len(all) != len(want) {
			t.Fatalf("%s: %d rows, want %d", stage, len(all), len(want))
		}
		for _, r := range all {
			if r.Card != want[r.Ref] {
				t.Fatalf("%s: %s reads %q, want %q", stage, r.Ref, r.Card, want[r.Ref])
			}
		}
	}
	check("plaintext table")

	// Application writes during the migration store tokens and mark them:
	// Save, Updates from a struct, Updates from a map, Update of one column,
	// Create.
	var s Payer
	if err := db.Where("ref = ?", "payer-0001").Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	s.Card = plainCard(1001)
	if err := db.Save(&s).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-0001"] = plainCard(1001)
	if err := db.Model(&Payer{}).Where("ref = ?", "payer-0002").Updates(Payer{Ref: "payer-0002", Card: plainCard(1002)}).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-0002"] = plainCard(1002)
	if err := db.Model(&Payer{Ref: "payer-0003"}).Where("ref = ?", "payer-0003").Updates(map[string]any{"card": plainCard(1003)}).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-0003"] = plainCard(1003)
	var four Payer
	if err := db.Where("ref = ?", "payer-0004").Take(&four).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&four).Update("card", plainCard(1004)).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-0004"] = plainCard(1004)
	if err := db.Create(&Payer{Ref: "payer-new", Card: plainCard(2000)}).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-new"] = plainCard(2000)
	// An upsert assigning the card from the inserted row carries the marker.
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "ref"}}, DoUpdates: clause.AssignmentColumns([]string{"card"})}).
		Create(&Payer{Ref: "payer-0006", Card: plainCard(1006)}).Error; err != nil {
		t.Fatal(err)
	}
	want["payer-0006"] = plainCard(1006)
	for _, ref := range []string{"payer-0001", "payer-0002", "payer-0003", "payer-0004", "payer-0006", "payer-new"} {
		card, marked := rawCard(ref)
		if marked == nil || !*marked || card == want[ref] || len(card) != 16 {
			t.Fatalf("%s after an application write: stored %d characters, marked %v; want a marked token", ref, len(card), marked)
		}
	}
	check("mixed table")

	// Setting the marker by hand is refused: it would make a plaintext pass
	// for a token, or a token for a plaintext.
	err = db.Model(&Payer{}).Where("ref = ?", "payer-0005").Updates(map[string]any{"card_tokenized": true}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("setting the marker by hand: %v, want ErrUnsupported", err)
	}

	// A narrow Select gets the marker added before the token column.
	var narrow []Payer
	if err := db.Select("ref", "card").Order("id").Find(&narrow).Error; err != nil || narrow[1].Card != want["payer-0001"] || narrow[5].Card != want["payer-0005"] {
		t.Fatalf("Select(ref, card): %v", err)
	}
	// Raw SQL in its own order cannot be read safely: refused, not guessed.
	var viaRaw []Payer
	err = db.Raw("SELECT id, ref, card, card_tokenized FROM payers ORDER BY id").Find(&viaRaw).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) || strings.Contains(err.Error(), want["payer-0001"]) {
		t.Fatalf("raw SQL with the marker after the token: %v, want ErrUnsupported", err)
	}
	// Raw SQL through ScanRows, whose columns are known, reads when the
	// marker comes first and is refused otherwise.
	for q, first := range map[string]bool{
		"SELECT id, ref, card_tokenized, card FROM payers ORDER BY id": true,
		"SELECT id, ref, card, card_tokenized FROM payers ORDER BY id": false,
	} {
		rows, err := db.Raw(q).Rows()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var r Payer
			err := gormcrypt.ScanRows(db, rows, &r)
			if first && (err != nil || r.Card != want[r.Ref]) {
				t.Fatalf("ScanRows of %q: %s reads %q (%v)", q, r.Ref, r.Card, err)
			}
			if !first && !errors.Is(err, gormcrypt.ErrUnsupported) {
				t.Fatalf("ScanRows of %q: %v, want ErrUnsupported", q, err)
			}
		}
		rows.Close()
	}
	rows, err := db.Model(&Payer{}).Order("id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r Payer
		if err := gormcrypt.ScanRows(db, rows, &r); err != nil || r.Card != want[r.Ref] {
			t.Fatalf("ScanRows: %s reads %q (%v)", r.Ref, r.Card, err)
		}
	}
	rows.Close()

	counts, err := gormcrypt.CountPlaintext(ctx, db, &Payer{}, "Card")
	if err != nil || counts["card"] != n-5 {
		t.Fatalf("CountPlaintext = %v, %v; want %d", counts, err, n-5)
	}
	// The migrating flag of a token column is not implied by WithMigrating
	// without fields, so Backfill names the column.
	pr, err := gormcrypt.Backfill(ctx, db, &Payer{}, gormcrypt.BackfillOptions{Columns: []string{"Card"}, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Done || pr.Updated != n-5 || pr.Scanned != n+1 {
		t.Fatalf("Backfill = %+v; want %d updated of %d", pr, n-5, n+1)
	}
	check("after Backfill")
	for i := range n {
		ref := fmt.Sprintf("payer-%04d", i)
		card, marked := rawCard(ref)
		if marked == nil || !*marked || card == plainCard(i) {
			t.Fatalf("%s after Backfill: marked %v, still the plaintext: %v", ref, marked, card == plainCard(i))
		}
	}
	if counts, err := gormcrypt.CountPlaintext(ctx, db, &Payer{}, "Card"); err != nil || counts["card"] != 0 {
		t.Fatalf("CountPlaintext after Backfill = %v, %v", counts, err)
	}
	// Idempotent: a second walk (a new cursor over the same column with
	// another batch size is the same cursor) tokenizes nothing twice.
	if pr, err := gormcrypt.Backfill(ctx, db, &Payer{}, gormcrypt.BackfillOptions{Columns: []string{"card"}}); err != nil || pr.Updated != n-5 {
		t.Fatalf("second Backfill = %+v, %v", pr, err)
	}
	check("after a second Backfill")

	// The flag removed: every value reads as a token.
	db2 := openGorm(t, d)
	p2, err := install(db2, kr, gormcrypt.WithModels(&DonePayer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Close() })
	var done []DonePayer
	if err := db2.Order("id").Find(&done).Error; err != nil || len(done) != n+1 {
		t.Fatalf("reading without the flag: %d rows, %v", len(done), err)
	}
	for _, r := range done {
		if r.Card != want[r.Ref] {
			t.Fatalf("without the flag %s reads %q, want %q", r.Ref, r.Card, want[r.Ref])
		}
	}
}

// TestMigrateTokenSpoofing: a plaintext that is another value's token is
// read as the plaintext it is, never detokenized into the other value.
func TestMigrateTokenSpoofing(t *testing.T) {
	ctx := context.Background()
	db := openGorm(t, freshSQLite(t))
	seedPayers(t, db, 3)
	p, err := install(db, newKeyring(t), gormcrypt.WithModels(&Payer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Payer{}); err != nil {
		t.Fatal(err)
	}
	db = db.WithContext(ctx)
	secret := plainCard(777)
	if err := db.Save(&Payer{ID: 2, Ref: "payer-0001", Card: secret}).Error; err != nil {
		t.Fatal(err)
	}
	var tok string
	if err := db.Raw("SELECT card FROM payers WHERE id = 2").Scan(&tok).Error; err != nil {
		t.Fatal(err)
	}
	// The token written, unmarked, as if it were a plaintext of before.
	if err := db.Exec("UPDATE payers SET card = ?, card_tokenized = NULL WHERE id = 2", tok).Error; err != nil {
		t.Fatal(err)
	}
	var got Payer
	if err := db.Take(&got, 2).Error; err != nil {
		t.Fatal(err)
	}
	if got.Card != tok || got.Card == secret {
		t.Fatal("an unmarked value was detokenized")
	}
}

func TestMigrateTokenModelErrors(t *testing.T) {
	type noMarker struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token:card;migrating"`
	}
	type markerAfter struct {
		ID            uint
		Ref           string `fieldcrypt:"subject"`
		Card          string `gorm:"serializer:token" fieldcrypt:"token:card;migrating"`
		CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
	}
	type markerOnCiphertext struct {
		ID            uint
		Ref           string `fieldcrypt:"subject"`
		CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
		Card          string `gorm:"serializer:encrypt"`
	}
	type markerNotBool struct {
		ID            uint
		Ref           string  `fieldcrypt:"subject"`
		CardTokenized *string `fieldcrypt:"tokenized:Card"`
		Card          string  `gorm:"serializer:token" fieldcrypt:"token:card"`
	}
	for name, model := range map[string]any{
		"no marker": &noMarker{}, "marker after": &markerAfter{},
		"marker on a ciphertext column": &markerOnCiphertext{}, "marker not bool": &markerNotBool{},
	} {
		db := openGorm(t, freshSQLite(t))
		p, err := install(db, newKeyring(t), gormcrypt.WithSweepEvery(-1))
		if err != nil {
			t.Fatal(err)
		}
		err = db.AutoMigrate(model)
		if err == nil {
			err = db.Create(model).Error
		}
		if !errors.Is(err, gormcrypt.ErrInvalidModel) {
			t.Errorf("%s: %v, want ErrInvalidModel", name, err)
		}
		p.Close()
	}
}

// TestBackfillTokenForgotten: a forgotten customer's plaintext card is set
// to NULL by Backfill, as in ciphertext columns.
func TestBackfillTokenForgotten(t *testing.T) {
	ctx := context.Background()
	db := openGorm(t, freshSQLite(t))
	seedPayers(t, db, 5)
	p, err := install(db, newKeyring(t), gormcrypt.WithModels(&Payer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Payer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gormcrypt.Forget(ctx, db, "payer-0003", "ticket 7"); err != nil {
		t.Fatal(err)
	}
	pr, err := gormcrypt.Backfill(ctx, db, &Payer{}, gormcrypt.BackfillOptions{Columns: []string{"Card"}})
	if err != nil || pr.Erased != 1 || pr.Updated != 4 {
		t.Fatalf("Backfill = %+v, %v; want 4 updated, 1 erased", pr, err)
	}
	var card *string
	if err := db.Raw("SELECT card FROM payers WHERE ref = ?", "payer-0003").Scan(&card).Error; err != nil || card != nil {
		t.Fatalf("the forgotten customer's card was kept (%v)", err)
	}
	var r Payer
	if err := db.WithContext(ctx).Where("ref = ?", "payer-0003").Take(&r).Error; err != nil && !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatal(err)
	}
}
