package gormcrypt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	gosqlite "github.com/glebarez/sqlite"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

type PageRow struct {
	ID    uint
	Ref   string `gorm:"size:64" fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt"`
}

// countingStore and countingKMS count keystore reads and KMS unwraps,
// batched or not.
type countingStore struct {
	*memstore.Store
	queries atomic.Int64
}

func (s *countingStore) LatestKey(ctx context.Context, id keys.KeyID) (keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.LatestKey(ctx, id)
}

func (s *countingStore) GetKey(ctx context.Context, id keys.KeyID, v uint32) (keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.GetKey(ctx, id, v)
}

func (s *countingStore) LatestKeys(ctx context.Context, ids []keys.KeyID) ([]keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.LatestKeys(ctx, ids)
}

func (s *countingStore) GetKeys(ctx context.Context, refs []keys.KeyVersionRef) ([]keystore.KeyRecord, error) {
	s.queries.Add(1)
	return s.Store.GetKeys(ctx, refs)
}

type countingKMS struct {
	*localkms.KMS
	calls atomic.Int64
}

func (k *countingKMS) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.KMS.Unwrap(ctx, w, ad)
}

func (k *countingKMS) UnwrapBatch(ctx context.Context, reqs []keystore.UnwrapRequest) ([]keystore.UnwrapResult, error) {
	k.calls.Add(1)
	return k.KMS.UnwrapBatch(ctx, reqs)
}

// TestWarmListPage: a list page of 1000 rows of 1000 customers, read by a
// process whose cache is cold, costs at most 3 keystore queries and 3 KMS
// calls in all, whether the caller warms the page's subjects first with
// keys.Keyring.Warm or leaves it to the plugin (TestFindWarmsKeys), which
// then loads nothing more.
func TestWarmListPage(t *testing.T) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	path := filepath.Join(t.TempDir(), "page.db")
	writerKeys, err := keys.Open(ctx, keys.Config{KMS: root, Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	writer := openGorm(t, gosqlite.Open(path))
	if _, err := install(writer, writerKeys); err != nil {
		t.Fatal(err)
	}
	if err := writer.AutoMigrate(&PageRow{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]PageRow, 1000)
	subjects := make([]string, len(rows))
	for i := range rows {
		subjects[i] = fmt.Sprint("cust-", i)
		rows[i] = PageRow{Ref: subjects[i], Email: fmt.Sprintf("c%d@example.com", i)}
	}
	if err := writer.CreateInBatches(rows, 200).Error; err != nil {
		t.Fatal(err)
	}

	for _, warm := range []bool{false, true} {
		store, kms := &countingStore{Store: mem}, &countingKMS{KMS: root}
		kr, err := keys.Open(ctx, keys.Config{KMS: kms, Store: store, DisableWatch: true})
		if err != nil {
			t.Fatal(err)
		}
		reader := openGorm(t, gosqlite.Open(path))
		if _, err := install(reader, kr); err != nil {
			t.Fatal(err)
		}
		q0, k0 := store.queries.Load(), kms.calls.Load()
		if warm {
			if err := kr.Warm(ctx, subjects, keys.DefaultPurpose); err != nil {
				t.Fatal(err)
			}
		}
		var got []PageRow
		if err := reader.Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) {
			t.Fatalf("found %d rows, want %d", len(got), len(rows))
		}
		for i, r := range got {
			if r.Email != rows[i].Email {
				t.Fatalf("row %d: email %q, want %q", i, r.Email, rows[i].Email)
			}
		}
		q, k := store.queries.Load()-q0, kms.calls.Load()-k0
		t.Logf("warm=%v: 1000-row Find over 1000 cold customers: %d keystore queries, %d KMS calls", warm, q, k)
		if q > 3 || k > 3 {
			t.Errorf("warm=%v: %d keystore queries and %d KMS calls, want at most 3 each", warm, q, k)
		}
		kr.Close()
	}
}
