package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	gosqlite "github.com/glebarez/sqlite"
	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// WarmRow has the three kinds of column a read decrypts: randomised and
// deterministic ciphertexts (keys named by their headers) and a token
// (the subject's tokenization key).
type WarmRow struct {
	ID    uint
	Ref   string  `gorm:"size:64" fieldcrypt:"subject"`
	Email string  `gorm:"serializer:encrypt"`
	Phone string  `gorm:"serializer:encrypt_det"`
	Score int64   `gorm:"serializer:encrypt"`
	Note  *string `gorm:"serializer:encrypt"` // NULL in every third row
	Card  string  `gorm:"serializer:token;size:32" fieldcrypt:"token:card"`
	Tier  string
	Items []WarmItem `gorm:"foreignKey:RowID"`
}

// WarmItem is a has-many of WarmRow, for Preload.
type WarmItem struct {
	ID    uint
	RowID uint
	Ref   string `gorm:"size:64" fieldcrypt:"subject"`
	What  string `gorm:"serializer:encrypt"`
}

// warmFixture is a SQLite database of n rows of n customers written by
// one process, and the keystore and root key it wrote them with.
type warmFixture struct {
	path string
	mem  *memstore.Store
	root *localkms.KMS
	rows []WarmRow
}

func newWarmFixture(t testing.TB, n int) *warmFixture {
	t.Helper()
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	f := &warmFixture{path: filepath.Join(t.TempDir(), "warm.db"), mem: memstore.New(), root: root}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: f.mem})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	db := openGorm(t, gosqlite.Open(f.path))
	if _, err := install(db, kr, gormcrypt.WithModels(&WarmRow{}, &WarmItem{})); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&WarmRow{}, &WarmItem{}); err != nil {
		t.Fatal(err)
	}
	f.rows = make([]WarmRow, n)
	for i := range f.rows {
		ref := fmt.Sprint("cust-", i)
		f.rows[i] = WarmRow{Ref: ref, Email: fmt.Sprintf("c%d@example.com", i), Phone: fmt.Sprintf("+48600%06d", i),
			Score: int64(i) - 7, Card: withLuhn(fmt.Sprintf("4111%011d", i)), Tier: "gold",
			Items: []WarmItem{{Ref: ref, What: fmt.Sprint("item ", i)}}}
		if i%3 != 0 {
			f.rows[i].Note = ptr(fmt.Sprint("note ", i))
		}
	}
	if err := db.CreateInBatches(f.rows, 100).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

// reader opens a process with a cold cache on the fixture's keystore,
// counting its keystore queries and KMS calls.
func (f *warmFixture) reader(t testing.TB) (*gorm.DB, *countingStore, *countingKMS) {
	t.Helper()
	db, _, store, kms := f.readerKeys(t)
	return db, store, kms
}

// readerKeys is reader, also returning the process's Keyring.
func (f *warmFixture) readerKeys(t testing.TB) (*gorm.DB, *keys.Keyring, *countingStore, *countingKMS) {
	t.Helper()
	store, kms := &countingStore{Store: f.mem}, &countingKMS{KMS: f.root}
	kr, err := keys.Open(context.Background(), keys.Config{KMS: kms, Store: store, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	db := openGorm(t, gosqlite.Open(f.path))
	if _, err := install(db, kr, gormcrypt.WithModels(&WarmRow{}, &WarmItem{})); err != nil {
		t.Fatal(err)
	}
	// Count from here: Open checks the root key with a KMS call of its own.
	store.queries.Store(0)
	kms.calls.Store(0)
	return db, kr, store, kms
}

func (f *warmFixture) check(t testing.TB, got []WarmRow, preloaded bool) {
	t.Helper()
	if len(got) != len(f.rows) {
		t.Fatalf("found %d rows, want %d", len(got), len(f.rows))
	}
	for i, r := range got {
		w := f.rows[i]
		if r.Ref != w.Ref || r.Email != w.Email || r.Phone != w.Phone || r.Score != w.Score || r.Card != w.Card ||
			(r.Note == nil) != (w.Note == nil) || (r.Note != nil && *r.Note != *w.Note) {
			t.Fatalf("row %d: read %+v, wrote %+v", i, r, w)
		}
		if preloaded && (len(r.Items) != 1 || r.Items[0].What != w.Items[0].What) {
			t.Fatalf("row %d: preloaded %+v, want %q", i, r.Items, w.Items[0].What)
		}
	}
}

// TestFindWarmsKeys: a 1000-row Find over 1000 customers by a process whose
// key cache is cold loads the keys its rows need in batches, without the
// caller warming anything: the ciphertexts' key versions (one keystore
// query and one KMS call per 500) and then the customers' tokenization
// keys (as many again). Without it, each customer costs a keystore read
// and a KMS unwrap per key.
func TestFindWarmsKeys(t *testing.T) {
	f := newWarmFixture(t, 1000)

	t.Run("ciphertexts", func(t *testing.T) {
		db, store, kms := f.reader(t)
		var got []WarmRow
		if err := db.Omit("card").Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i].Card = f.rows[i].Card // not read
		}
		f.check(t, got, false)
		q, k := store.queries.Load(), kms.calls.Load()
		t.Logf("cold 1000-row Find, encrypted columns: %d keystore queries, %d KMS calls", q, k)
		if q > 3 || k > 3 {
			t.Errorf("%d keystore queries and %d KMS calls, want at most 3 each", q, k)
		}
	})

	t.Run("ciphertexts and tokens", func(t *testing.T) {
		db, store, kms := f.reader(t)
		var got []WarmRow
		if err := db.Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		f.check(t, got, false)
		q, k := store.queries.Load(), kms.calls.Load()
		t.Logf("cold 1000-row Find, encrypted and token columns: %d keystore queries, %d KMS calls", q, k)
		// Two purposes, so two keys per customer: 2 batches of 500 each.
		if q > 4 || k > 4 {
			t.Errorf("%d keystore queries and %d KMS calls, want at most 4 each", q, k)
		}
		// Warm now: no more loads.
		if err := db.Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		f.check(t, got, false)
		if dq, dk := store.queries.Load()-q, kms.calls.Load()-k; dq != 0 || dk != 0 {
			t.Errorf("warm Find: %d keystore queries and %d KMS calls, want none", dq, dk)
		}
	})

	t.Run("pointers and Preload", func(t *testing.T) {
		db, store, kms := f.reader(t)
		var got []*WarmRow
		if err := db.Omit("card").Preload("Items").Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		rows := make([]WarmRow, len(got))
		for i, r := range got {
			rows[i] = *r
			rows[i].Card = f.rows[i].Card
		}
		f.check(t, rows, true)
		q, k := store.queries.Load(), kms.calls.Load()
		t.Logf("cold 1000-row Find with Preload: %d keystore queries, %d KMS calls", q, k)
		// The items use their customers' keys, loaded for the rows.
		if q > 3 || k > 3 {
			t.Errorf("%d keystore queries and %d KMS calls, want at most 3 each", q, k)
		}
	})
}

// withLuhn appends the Luhn check digit to the digits s.
func withLuhn(s string) string {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + string(rune('0'+(10-sum%10)%10))
}

// WarmView reads warm_rows into another struct than the model.
type WarmView struct {
	ID    uint
	Ref   string `gorm:"size:64" fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt"`
}

func (WarmView) TableName() string { return "warm_rows" }

// TestFindDeferredPlacement: the values a query decrypts after scanning
// reach the rows GORM returns, whatever the destination, and only them.
func TestFindDeferredPlacement(t *testing.T) {
	f := newWarmFixture(t, 12)
	db, _, _ := f.reader(t)

	var one WarmRow
	if err := db.Omit("card").First(&one, "ref = ?", "cust-4").Error; err != nil || one.Email != f.rows[4].Email || one.Score != f.rows[4].Score {
		t.Errorf("First: %v, %+v", err, one)
	}
	var arr [5]WarmRow // shorter than the result: GORM keeps the first 5
	if err := db.Omit("card").Order("id").Find(&arr).Error; err != nil {
		t.Fatal(err)
	}
	for i, r := range arr {
		if r.Email != f.rows[i].Email {
			t.Errorf("array row %d: email %q, want %q", i, r.Email, f.rows[i].Email)
		}
	}
	// Rows whose only encrypted value is NULL keep nothing: the rows
	// after them must still get their own values.
	var notes []WarmRow
	if err := db.Select("id", "ref", "note").Order("id").Find(&notes).Error; err != nil {
		t.Fatal(err)
	}
	for i, r := range notes {
		if w := f.rows[i].Note; (r.Note == nil) != (w == nil) || (w != nil && *r.Note != *w) {
			t.Errorf("notes row %d: %v, want %v", i, r.Note, w)
		}
	}
	var views []WarmView
	if err := db.Model(&WarmRow{}).Order("id").Find(&views).Error; err != nil {
		t.Fatal(err)
	}
	for i, v := range views {
		if v.Email != f.rows[i].Email {
			t.Errorf("view row %d: email %q, want %q", i, v.Email, f.rows[i].Email)
		}
	}
	var raw []WarmView
	if err := db.Raw("SELECT id, ref, email FROM warm_rows ORDER BY id DESC").Find(&raw).Error; err != nil || len(raw) != len(f.rows) {
		t.Fatalf("Raw().Find: %v, %d rows", err, len(raw))
	}
	for i, v := range raw {
		if w := f.rows[len(f.rows)-1-i]; v.Email != w.Email {
			t.Errorf("raw row %d: email %q, want %q", i, v.Email, w.Email)
		}
	}
	// The subject may be selected after the encrypted columns.
	var late []WarmView
	if err := db.Raw("SELECT email, id, ref FROM warm_rows ORDER BY id").Find(&late).Error; err != nil || len(late) != len(f.rows) || late[3].Email != f.rows[3].Email {
		t.Errorf("subject selected last: %v, %+v", err, late)
	}
}

// TestFindDeferredFailure: a query of which one value fails to decrypt
// fails, and leaves no value of any row decrypted.
func TestFindDeferredFailure(t *testing.T) {
	f := newWarmFixture(t, 12)
	db, _, _ := f.reader(t)
	// Row 7 gets row 6's ciphertext: another customer's, so it fails.
	if err := db.Exec("UPDATE warm_rows SET email = (SELECT email FROM warm_rows WHERE ref = 'cust-6') WHERE ref = 'cust-7'").Error; err != nil {
		t.Fatal(err)
	}
	var got []WarmRow
	if err := db.Omit("card").Order("id").Find(&got).Error; !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("Find: err = %v, want envelope.ErrDecrypt", err)
	}
	var ptrs []*WarmRow
	if err := db.Omit("card").Order("id").Find(&ptrs).Error; !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("Find into pointers: err = %v, want envelope.ErrDecrypt", err)
	}
	for i := range got {
		if got[i].Email != "" || got[i].Phone != "" || ptrs[i].Email != "" || ptrs[i].Phone != "" {
			t.Fatalf("row %d keeps a value after the failed query: %+v, %+v", i, got[i], *ptrs[i])
		}
	}
}

// WarmPlain is WarmRow's peer without the plugin: the same table, its
// values read as the stored text (as long as the ciphertexts).
type WarmPlain struct {
	ID    uint
	Ref   string
	Email string
	Phone string
	Score string
	Note  *string
	Card  string
	Tier  string
}

func (WarmPlain) TableName() string { return "warm_rows" }

// BenchmarkFind1000 reads a 1000-row page of 1000 customers (three
// encrypted columns, a nullable one and a token) with a cold key cache
// (emptied with EvictAll outside the timer: each iteration loads 2000
// keys in 8 batched calls), warm, and with plain GORM reading the same
// rows' stored text: SQLite, keys/memstore and keys/localkms, in one run.
//
//	go test -run '^$' -bench Find1000 -count 6 ./gormcrypt/
func BenchmarkFind1000(b *testing.B) {
	f := newWarmFixture(b, 1000)
	b.Run("cold", func(b *testing.B) {
		db, kr, _, _ := f.readerKeys(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			kr.EvictAll()
			b.StartTimer()
			var got []WarmRow
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != len(f.rows) {
				b.Fatal(err, len(got))
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		db, _, _ := f.reader(b)
		var got []WarmRow
		if err := db.Order("id").Find(&got).Error; err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != len(f.rows) {
				b.Fatal(err, len(got))
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		db := openGorm(b, gosqlite.Open(f.path))
		b.ReportAllocs()
		for b.Loop() {
			var got []WarmPlain
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != len(f.rows) {
				b.Fatal(err, len(got))
			}
		}
	})
}
