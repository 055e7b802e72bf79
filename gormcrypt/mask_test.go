package gormcrypt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// Cardholder has a card token column masked unless revealed.
type Cardholder struct {
	ID   uint
	Ref  string `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Card string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;mask:card"`
	Name string `gorm:"serializer:encrypt"`
}

func TestMaskedReads(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testMaskedReads(t, b) })
	}
}

func testMaskedReads(t *testing.T, b backend) {
	ctx := context.Background()
	db := openGorm(t, b.open(t))
	kr := newKeyring(t)
	p, err := install(db, kr, gormcrypt.WithModels(&Cardholder{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithReveal("billing", "cardholders.card"), gormcrypt.WithReveal("auditor", "*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Cardholder{}); err != nil {
		t.Fatal(err)
	}
	const card = "4111111111111111"
	if err := db.WithContext(ctx).Create(&Cardholder{Ref: "customer-1", Card: card, Name: "Ada"}).Error; err != nil {
		t.Fatal(err)
	}
	kr.EvictAll() // a cold cache: any key use shows in the stats

	// Without a grant: the mask, computed from the token, and no key used
	// for the card (the name still decrypts: it is not masked).
	for name, c := range map[string]context.Context{"no grant": ctx, "unknown role": gormcrypt.Reveal(ctx, "intern"),
		"another column's role": gormcrypt.Reveal(ctx, "support")} {
		before := kr.CacheStats()
		var got Cardholder
		if err := db.WithContext(c).Select("id", "ref", "card").Take(&got).Error; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Card != "************1111" {
			t.Fatalf("%s: card read as %q, want the mask", name, got.Card)
		}
		if after := kr.CacheStats(); after.Hits+after.Misses != before.Hits+before.Misses {
			t.Fatalf("%s: a masked read used %d keys", name, after.Hits+after.Misses-before.Hits-before.Misses)
		}
	}
	// With a grant: the value.
	for _, role := range []string{"billing", "auditor"} {
		var got Cardholder
		if err := db.WithContext(gormcrypt.Reveal(ctx, "intern", role)).Take(&got).Error; err != nil || got.Card != card || got.Name != "Ada" {
			t.Fatalf("revealed as %s: %q, %v", role, got.Card, err)
		}
	}
	// A masked value is never written back over the token.
	var m Cardholder
	if err := db.WithContext(ctx).Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	m.Name = "Ada L."
	if err := db.WithContext(ctx).Save(&m).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("saving a masked row: %v, want ErrUnsupported", err)
	}
	var again Cardholder
	if err := db.WithContext(gormcrypt.Reveal(ctx, "billing")).Take(&again).Error; err != nil || again.Card != card || again.Name != "Ada" {
		t.Fatalf("after the refused save: %q %q, %v", again.Card, again.Name, err)
	}
}

func TestMaskModelErrors(t *testing.T) {
	type onCiphertext struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:encrypt" fieldcrypt:"mask:card"`
	}
	type onEmailToken struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:token" fieldcrypt:"token:email;mask:card"`
	}
	type unknownMask struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token:card;mask:stars"`
	}
	for name, model := range map[string]any{"ciphertext column": &onCiphertext{}, "email token": &onEmailToken{}, "unknown mask": &unknownMask{}} {
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
