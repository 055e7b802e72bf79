package gormcrypt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Payment has token columns: subject-scoped card and phone, a global-scope
// email (joinable across customers, survives an erasure).
type Payment struct {
	ID    uint
	Ref   string  `gorm:"size:64;index" fieldcrypt:"subject"`
	Card  string  `gorm:"serializer:token;size:32" fieldcrypt:"token:card"`
	Phone *string `gorm:"serializer:token;size:32" fieldcrypt:"token:phone"`
	Email string  `gorm:"serializer:token;size:254" fieldcrypt:"token:email;scope:global"`
}

func testTokens(t *testing.T, b backend) {
	ctx := context.Background()
	e := setup(t, b, gormcrypt.WithModels(&Payment{}))
	if err := e.db.AutoMigrate(&Payment{}); err != nil {
		t.Fatal(err)
	}
	a := Payment{Ref: "c-1", Card: "4111 1111 1111 1111", Phone: ptr("+48 601 234 567"), Email: "ada.lovelace@example.com"}
	bb := Payment{Ref: "c-2", Card: "4111 1111 1111 1111", Email: "ada.lovelace@example.com"} // same card, other customer
	empty := Payment{Ref: "c-3"}                                                              // "" stays "", nil stays NULL
	for _, p := range []*Payment{&a, &bb, &empty} {
		if err := e.db.Create(p).Error; err != nil {
			t.Fatal(err)
		}
	}

	// The stored values are tokens of the same format, never the value.
	type raw struct {
		Card  string
		Phone *string
		Email string
	}
	var ra, rb, re raw
	e.db.Raw("SELECT card, phone, email FROM payments WHERE id = ?", a.ID).Scan(&ra)
	e.db.Raw("SELECT card, phone, email FROM payments WHERE id = ?", bb.ID).Scan(&rb)
	e.db.Raw("SELECT card, phone, email FROM payments WHERE id = ?", empty.ID).Scan(&re)
	if ra.Card == a.Card || len(ra.Card) != len(a.Card) || !strings.HasSuffix(ra.Card, " 1111") {
		t.Fatalf("stored card %q is not a same-format token keeping the last 4", ra.Card)
	}
	if ra.Phone == nil || *ra.Phone == *a.Phone || !strings.HasPrefix(*ra.Phone, "+48 ") {
		t.Fatalf("stored phone %v is not a token keeping the country code", ra.Phone)
	}
	if ra.Email == a.Email || !strings.HasSuffix(ra.Email, "@example.com") {
		t.Fatalf("stored email %q is not a token keeping the domain", ra.Email)
	}
	if rb.Card == ra.Card {
		t.Fatal("subject-scoped tokens of two customers are equal")
	}
	if rb.Email != ra.Email {
		t.Fatal("global-scope tokens of one value differ across customers (they must join)")
	}
	if re.Card != "" || re.Phone != nil || re.Email != "" {
		t.Fatalf("empty and NULL values were not kept: %+v", re)
	}

	var got Payment
	if err := e.db.First(&got, a.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Card != a.Card || *got.Phone != *a.Phone || got.Email != a.Email {
		t.Fatalf("read back %+v, want %+v", got, a)
	}
	// Equality search on a global token column: tokenize the value.
	tk, err := tokenize.New(e.kr)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tk.TokenizeGlobal(ctx, "payments.email", tokenize.Email{}, "ada.lovelace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	e.db.Model(&Payment{}).Where("email = ?", tok).Count(&n)
	if n != 2 {
		t.Fatalf("search by global token found %d rows, want 2", n)
	}

	// Bad input is refused, not stored.
	if err := e.db.Create(&Payment{Ref: "c-4", Card: "4111-not-a-card"}).Error; !errors.Is(err, tokenize.ErrInvalidFormat) {
		t.Fatalf("invalid card: err = %v, want tokenize.ErrInvalidFormat", err)
	}

	// Erasure: the customer's subject-scoped tokens die, global ones survive.
	if _, err := gormcrypt.Forget(ctx, e.db, "c-1", "ticket"); err != nil {
		t.Fatal(err)
	}
	var after Payment
	if err := e.db.First(&after, a.ID).Error; err != nil || after.Card != "" || after.Phone != nil || after.Email != a.Email {
		t.Fatalf("read after Forget: %+v, %v; want the subject's tokens redacted, the global one kept", after, err)
	}
	var globalOnly Payment
	if err := e.db.Select("id", "ref", "email").First(&globalOnly, a.ID).Error; err != nil || globalOnly.Email != a.Email {
		t.Fatalf("global token after Forget = %q, %v; want it to survive", globalOnly.Email, err)
	}
	var other Payment
	if err := e.db.First(&other, bb.ID).Error; err != nil || other.Card != bb.Card {
		t.Fatalf("other customer after Forget: %+v, %v", other, err)
	}
}
