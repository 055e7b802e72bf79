package gormcrypt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// VaultPayer keeps its cards as random tokens from the token vault.
type VaultPayer struct {
	ID     uint
	Ref    string `gorm:"size:64;index" fieldcrypt:"subject"`
	Card   string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;vault;mask:card"`
	Backup string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;vault"`
	Shared string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;vault;scope:global"`
}

// countingVault counts the token vault's queries.
type countingVault struct {
	*sqlstore.Store
	reads atomic.Int64
}

func (s *countingVault) TokenEntryByToken(ctx context.Context, field, token string) (keystore.TokenEntry, error) {
	s.reads.Add(1)
	return s.Store.TokenEntryByToken(ctx, field, token)
}

func TestVaultColumns(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testVaultColumns(t, b) })
	}
}

func testVaultColumns(t *testing.T, b backend) {
	ctx := context.Background()
	db := openGorm(t, b.open(t))
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	store := &countingVault{Store: st}
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	p, err := install(db, kr, gormcrypt.WithModels(&VaultPayer{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithTokenVault(store), gormcrypt.WithReveal("billing", "vault_payers.*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&VaultPayer{}); err != nil {
		t.Fatal(err)
	}
	const card, other = "4111111111111111", "5555555555554444"
	rows := []VaultPayer{{Ref: "cust-1", Card: card, Backup: other, Shared: card}, {Ref: "cust-1", Card: card}, {Ref: "cust-2", Card: card, Shared: card}}
	if err := db.WithContext(ctx).Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	// What the table holds: vault tokens, the same for the same customer and
	// card, kept last four, Luhn-invalid; in the vault, sealed.
	var raw []struct {
		Ref    string
		Card   string
		Shared string
	}
	if err := db.Table("vault_payers").Select("ref", "card", "shared").Order("id").Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if raw[0].Shared != raw[2].Shared || raw[0].Shared == raw[0].Card || raw[0].Shared == card {
		t.Fatalf("global-scope tokens %q %q (subject-scope %q)", raw[0].Shared, raw[2].Shared, raw[0].Card)
	}
	if raw[0].Card != raw[1].Card || raw[0].Card == raw[2].Card || raw[0].Card == card || raw[0].Card[12:] != "1111" {
		t.Fatalf("stored tokens %q %q %q", raw[0].Card, raw[1].Card, raw[2].Card)
	}
	e, err := st.TokenEntryByToken(ctx, "vault_payers.card", raw[0].Card)
	if err != nil || strings.Contains(string(e.Sealed), card) {
		t.Fatalf("vault entry: %v", err)
	}
	// Masked read: the mask from the token, no vault query.
	before := store.reads.Load()
	var masked VaultPayer
	if err := db.WithContext(ctx).Select("id", "ref", "card").First(&masked).Error; err != nil || masked.Card != "************1111" {
		t.Fatalf("masked read: %q, %v", masked.Card, err)
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Fatalf("a masked read queried the vault %d times", n)
	}
	// Revealed: the values.
	var got []VaultPayer
	if err := db.WithContext(gormcrypt.Reveal(ctx, "billing")).Order("id").Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got[0].Card != card || got[0].Backup != other || got[2].Card != card {
		t.Fatalf("revealed: %+v", got)
	}
	// Search by value: Lookup never issues a token.
	tok, err := p.Vault().Lookup(ctx, "cust-1", "vault_payers.card", tokenize.Card{}, card)
	if err != nil || tok != raw[0].Card {
		t.Fatalf("Lookup = %q, %v", tok, err)
	}
	var n int64
	if err := db.Model(&VaultPayer{}).Where("card = ?", tok).Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("rows with the token: %d, %v", n, err)
	}
	if _, err := p.Vault().Lookup(ctx, "cust-1", "vault_payers.card", tokenize.Card{}, other); !errors.Is(err, tokenize.ErrUnknownToken) {
		t.Fatalf("Lookup of a card never stored in that column: %v", err)
	}
	// Forget: the vault entries are unreadable and reads redact.
	if _, err := gormcrypt.Forget(ctx, db, "cust-1", "erasure request"); err != nil {
		t.Fatal(err)
	}
	var gone VaultPayer
	if err := db.WithContext(gormcrypt.Reveal(ctx, "billing")).Where("ref = ?", "cust-1").First(&gone).Error; err != nil || gone.Card != "" || gone.Backup != "" {
		t.Fatalf("after Forget: %+v, %v", gone, err)
	}
	var kept VaultPayer
	if err := db.WithContext(gormcrypt.Reveal(ctx, "billing")).Where("ref = ?", "cust-2").First(&kept).Error; err != nil || kept.Card != card || kept.Shared != card {
		t.Fatalf("other customer after Forget: %+v, %v", kept, err)
	}
}

// A vault column without a vault is refused when the model is parsed, with
// an error that says what to do.
func TestVaultColumnNeedsVault(t *testing.T) {
	db := openGorm(t, freshSQLite(t))
	_, err := install(db, newKeyring(t), gormcrypt.WithModels(&VaultPayer{}))
	if err == nil || !strings.Contains(err.Error(), "WithTokenVault") {
		t.Fatalf("err = %v, want one naming WithTokenVault", err)
	}
}
