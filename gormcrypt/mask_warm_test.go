package gormcrypt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	gosqlite "github.com/glebarez/sqlite"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// TestMaskedFindLoadsNoKeys: a masked Find of 100 rows of 100 customers on
// a cold cache reads no key from the keystore and calls no KMS (the batched
// key loading of a Find skips masked columns); a revealed one loads them
// in one batch.
func TestMaskedFindLoadsNoKeys(t *testing.T) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	path := filepath.Join(t.TempDir(), "masked.db")
	writer, err := keys.Open(ctx, keys.Config{KMS: root, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	db := openGorm(t, gosqlite.Open(path))
	if _, err := install(db, writer, gormcrypt.WithModels(&MaskedPerson{})); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&MaskedPerson{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]MaskedPerson, 100)
	for i := range rows {
		rows[i] = MaskedPerson{Ref: fmt.Sprint("cust-", i), Card: "4111111111111111", Email: fmt.Sprintf("c%d@example.com", i),
			Phone: "+48 601 234 567", Name: "Jan Kowalski"}
	}
	if err := db.Create(&rows).Error; err != nil {
		t.Fatal(err)
	}

	store, kms := &countingStore{Store: mem}, &countingKMS{KMS: root}
	kr, err := keys.Open(ctx, keys.Config{KMS: kms, Store: store, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	rdb := openGorm(t, gosqlite.Open(path))
	if _, err := install(rdb, kr, gormcrypt.WithModels(&MaskedPerson{}), gormcrypt.WithReveal("support", "masked_people.*")); err != nil {
		t.Fatal(err)
	}
	store.queries.Store(0)
	kms.calls.Store(0)
	var got []MaskedPerson
	if err := rdb.WithContext(ctx).Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0].Email == rows[0].Email || got[0].Email == "" {
		t.Fatalf("masked read: %d rows, first email %q", len(got), got[0].Email)
	}
	if q, c := store.queries.Load(), kms.calls.Load(); q != 0 || c != 0 {
		t.Fatalf("a masked Find made %d keystore queries and %d KMS calls, want none", q, c)
	}
	got = nil
	if err := rdb.WithContext(gormcrypt.Reveal(ctx, "support")).Find(&got).Error; err != nil || got[99].Email != rows[99].Email {
		t.Fatalf("revealed read: %v", err)
	}
	if q, c := store.queries.Load(), kms.calls.Load(); q == 0 || q > 2 || c == 0 || c > 2 {
		t.Fatalf("a revealed Find made %d keystore queries and %d KMS calls, want 1 or 2 of each", q, c)
	}
}
