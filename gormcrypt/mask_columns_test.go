package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// MaskedPerson has a masked encrypted column of each mask, each with its
// mask column.
type MaskedPerson struct {
	ID        uint
	Ref       string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	CardMask  *string `gorm:"size:32"`
	Card      string  `gorm:"serializer:encrypt" fieldcrypt:"mask:card"`
	EmailMask *string `gorm:"size:320"`
	Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	PhoneMask *string `gorm:"size:32"`
	Phone     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:phone"`
	Initial   *string `gorm:"size:8"`
	Name      string  `gorm:"serializer:encrypt_det" fieldcrypt:"mask:name;mask_column:initial"`
}

// MaskedTokens has a masked token column of each mask: the card's from the
// token, the others from mask columns.
type MaskedTokens struct {
	ID        uint
	Ref       string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Card      string  `gorm:"size:32;serializer:token" fieldcrypt:"token:card;mask:card"`
	EmailMask *string `gorm:"size:320"`
	Email     string  `gorm:"size:320;serializer:token" fieldcrypt:"token:email;mask:email"`
	PhoneMask *string `gorm:"size:32"`
	Phone     string  `gorm:"size:32;serializer:token" fieldcrypt:"token:phone;mask:phone"`
	NameMask  *string `gorm:"size:8"`
	Name      string  `gorm:"size:128;serializer:token" fieldcrypt:"token:name;mask:name"`
}

// The values of row i, and their masks.
func maskedValues(i int) map[string][2]string {
	return map[string][2]string{
		"card":  {"4111111111111111", "************1111"},
		"email": {fmt.Sprintf("jan.%04d@example.com", i), "j***@example.com"},
		"phone": {fmt.Sprintf("+48 601 234 %03d", i%1000), fmt.Sprintf("+** *** *** %03d", i%1000)},
		"name":  {"jan Kowalski", "J."},
	}
}

// maskField names the Go field and the mask column of each column.
var maskFields = map[string][2]string{
	"card": {"Card", "card_mask"}, "email": {"Email", "email_mask"}, "phone": {"Phone", "phone_mask"}, "name": {"Name", "name_mask"},
}

// countingAudit is a decryption counter: the plugin reports every value it
// decrypts or detokenizes, aggregated per statement and column.
type countingAudit struct{ accessLog }

func (a *countingAudit) values() int {
	n := 0
	for _, r := range a.take() {
		n += r.Values
	}
	return n
}

func TestMaskedColumns(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("encrypted", func(t *testing.T) { testMaskedColumns(t, b, &MaskedPerson{}, "masked_people") })
			t.Run("token", func(t *testing.T) { testMaskedColumns(t, b, &MaskedTokens{}, "masked_tokens") })
		})
	}
}

func newMasked(model any, ref string, vals map[string][2]string) any {
	switch model.(type) {
	case *MaskedPerson:
		return &MaskedPerson{Ref: ref, Card: vals["card"][0], Email: vals["email"][0], Phone: vals["phone"][0], Name: vals["name"][0]}
	default:
		return &MaskedTokens{Ref: ref, Card: vals["card"][0], Email: vals["email"][0], Phone: vals["phone"][0], Name: vals["name"][0]}
	}
}

// field returns the string in the Go field name of row (a struct pointer).
func field(row any, name string) string {
	switch r := row.(type) {
	case *MaskedPerson:
		return map[string]string{"Card": r.Card, "Email": r.Email, "Phone": r.Phone, "Name": r.Name}[name]
	case *MaskedTokens:
		return map[string]string{"Card": r.Card, "Email": r.Email, "Phone": r.Phone, "Name": r.Name}[name]
	}
	panic("unknown model")
}

func testMaskedColumns(t *testing.T, b backend, model any, table string) {
	ctx := context.Background()
	db := openGorm(t, b.open(t))
	kr := newKeyring(t)
	audit := &countingAudit{}
	p, err := install(db, kr, gormcrypt.WithModels(model), gormcrypt.WithSweepEvery(-1), gormcrypt.WithAccessAudit(audit.record),
		gormcrypt.WithReveal("support", table+".email"), gormcrypt.WithReveal("billing", table+".card"),
		gormcrypt.WithReveal("auditor", table+".*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(model); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if err := db.WithContext(ctx).Create(newMasked(model, fmt.Sprintf("customer-%03d", i), maskedValues(i))).Error; err != nil {
			t.Fatal(err)
		}
	}
	audit.take()
	isToken := table == "masked_tokens"
	for _, col := range []string{"card", "email", "phone", "name"} {
		t.Run(col, func(t *testing.T) {
			goName := maskFields[col][0]
			cols := []string{"id", "ref", col}
			if !(isToken && col == "card") {
				mc := maskFields[col][1]
				if !isToken && col == "name" {
					mc = "initial"
				}
				cols = append(cols, mc)
			}
			read := func(c context.Context) []any {
				t.Helper()
				rows := newSlice(model)
				if err := db.WithContext(c).Model(model).Select(cols).Order("id").Find(rows).Error; err != nil {
					t.Fatalf("%s: %v", col, err)
				}
				return elems(rows)
			}
			// Masked: n masks, no key used, nothing decrypted.
			for name, c := range map[string]context.Context{"no grant": ctx, "unknown role": gormcrypt.Reveal(ctx, "intern"),
				"another column's role": gormcrypt.Reveal(ctx, otherRole(col))} {
				kr.EvictAll()
				before := kr.CacheStats()
				rows := read(c)
				after := kr.CacheStats()
				if used := after.Hits + after.Misses - before.Hits - before.Misses; used != 0 {
					t.Errorf("%s: a masked read of %d rows used %d keys", name, n, used)
				}
				if d := audit.values(); d != 0 {
					t.Errorf("%s: a masked read of %d rows decrypted %d values", name, n, d)
				}
				for i, r := range rows {
					if got, want := field(r, goName), maskedValues(i)[col][1]; got != want {
						t.Fatalf("%s: row %d read as %q, want the mask %q", name, i, got, want)
					}
				}
			}
			// Revealed: the values, n decrypted.
			for _, role := range []string{revealRole(col), "auditor"} {
				rows := read(gormcrypt.Reveal(ctx, "intern", role))
				for i, r := range rows {
					if got, want := field(r, goName), maskedValues(i)[col][0]; got != want {
						t.Fatalf("revealed as %s: row %d read as %q, want %q", role, i, got, want)
					}
				}
				if d := audit.values(); d != n {
					t.Errorf("revealed as %s: %d values decrypted, want %d", role, d, n)
				}
			}
		})
	}

	// A masked row cannot be written back: Save, Updates from the struct
	// or a map of the mask; the error names no value.
	one := newOne(model)
	if err := db.WithContext(ctx).Order("id").Take(one).Error; err != nil {
		t.Fatal(err)
	}
	vals := maskedValues(0)
	writes := map[string]func() error{
		"Save":           func() error { return db.WithContext(ctx).Save(one).Error },
		"Updates struct": func() error { return db.WithContext(ctx).Model(one).Updates(one).Error },
	}
	for _, col := range []string{"email", "phone", "name"} {
		writes["Updates map "+col] = func() error {
			return db.WithContext(ctx).Model(one).Updates(map[string]any{col: vals[col][1]}).Error
		}
	}
	for name, w := range writes {
		err := w()
		if !errors.Is(err, gormcrypt.ErrMasked) || !errors.Is(err, gormcrypt.ErrUnsupported) {
			t.Errorf("%s of a masked row: %v, want ErrMasked", name, err)
		}
		for _, v := range vals {
			if err != nil && (strings.Contains(err.Error(), v[0]) || strings.Contains(err.Error(), v[1])) {
				t.Errorf("%s: the error holds a value or mask: %v", name, err)
			}
		}
	}
	// Nothing changed.
	check := newOne(model)
	if err := db.WithContext(gormcrypt.Reveal(ctx, "auditor")).Order("id").Take(check).Error; err != nil {
		t.Fatal(err)
	}
	for col, v := range vals {
		if got := field(check, maskFields[col][0]); got != v[0] {
			t.Errorf("after the refused writes %s is %q, want %q", col, got, v[0])
		}
	}
	// A revealed row can be changed, and Updates(map) refreshes the mask.
	if err := db.WithContext(ctx).Model(check).Updates(map[string]any{"email": "olenka@example.org", "phone": "+48 601 234 999"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(ctx).Order("id").Take(one).Error; err != nil {
		t.Fatal(err)
	}
	if e, ph := field(one, "Email"), field(one, "Phone"); e != "o***@example.org" || ph != "+** *** *** 999" {
		t.Errorf("masks after Updates(map): %q, %q", e, ph)
	}
	// Save of a revealed row with a new value refreshes the mask too.
	if err := db.WithContext(gormcrypt.Reveal(ctx, "auditor")).Order("id").Take(check).Error; err != nil {
		t.Fatal(err)
	}
	setName(check, "Ewa Nowak")
	if err := db.WithContext(ctx).Save(check).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(ctx).Order("id").Take(one).Error; err != nil || field(one, "Name") != "E." || field(one, "Card") != "************1111" {
		t.Errorf("after Save: name %q card %q, %v", field(one, "Name"), field(one, "Card"), err)
	}
}

func otherRole(col string) string {
	if col == "email" {
		return "billing"
	}
	return "support"
}

func revealRole(col string) string {
	switch col {
	case "email":
		return "support"
	case "card":
		return "billing"
	}
	return "auditor"
}

func newSlice(model any) any {
	if _, ok := model.(*MaskedPerson); ok {
		return &[]MaskedPerson{}
	}
	return &[]MaskedTokens{}
}

func newOne(model any) any {
	if _, ok := model.(*MaskedPerson); ok {
		return &MaskedPerson{}
	}
	return &MaskedTokens{}
}

func elems(rows any) []any {
	var out []any
	switch r := rows.(type) {
	case *[]MaskedPerson:
		for i := range *r {
			out = append(out, &(*r)[i])
		}
	case *[]MaskedTokens:
		for i := range *r {
			out = append(out, &(*r)[i])
		}
	}
	return out
}

func setName(row any, name string) {
	switch r := row.(type) {
	case *MaskedPerson:
		r.Name = name
	case *MaskedTokens:
		r.Name = name
	}
}
