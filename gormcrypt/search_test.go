package gormcrypt_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosqlite "github.com/glebarez/sqlite"
	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// forEachBackend runs fn once per database as a subtest.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// TestDeterministicSearchAfterRotation: rows written before a rotation of
// the customer's key hold ciphertexts of the old version and must still be
// found, as must rows written after it.
func TestDeterministicSearchAfterRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := setup(t, b)
		ctx := context.Background()
		c := sample("c-rot")
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
		before := Address{CustomerID: c.ID, CustomerRef: c.Ref, Street: "old", Postcode: "00-514"}
		if err := e.db.Create(&before).Error; err != nil {
			t.Fatal(err)
		}
		if v, err := e.kr.Rotate(ctx, c.Ref, keys.DefaultPurpose); err != nil || v != 2 {
			t.Fatalf("Rotate = %d, %v", v, err)
		}
		after := Address{CustomerID: c.ID, CustomerRef: c.Ref, Street: "new", Postcode: "00-514"}
		if err := e.db.Create(&after).Error; err != nil {
			t.Fatal(err)
		}
		sub := gormcrypt.WithSubject(ctx, c.Ref)
		var got []Address
		if err := e.db.WithContext(sub).Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).
			Order("id").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Street != "old" || got[1].Street != "new" {
			t.Fatalf("after rotation WhereEqual found %+v, want the rows written before and after it", got)
		}
	})
}

// TestWhereEqualQualifiesTable: the condition names the model's table as
// the statement knows it, so it works on joined relations, in Preload
// conditions and under a table alias, and reads the subject and keys
// through the statement's context.
func TestWhereEqualQualifiesTable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := setup(t, b)
		ctx := context.Background()
		var cs []Customer
		for i := range 3 {
			c := sample(fmt.Sprintf("c-%d", i))
			c.Addresses = []Address{
				{CustomerRef: c.Ref, Street: "home " + c.Ref, Postcode: "00-514"},
				{CustomerRef: c.Ref, Street: "work " + c.Ref, Postcode: "02-001"},
			}
			if err := e.db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		want := cs[1].Email

		// Joins: the customer's blind index is on the joined table, aliased "Customer".
		var joined []AddressWithCustomer
		err := e.db.Joins("Customer").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", strings.ToUpper(want))).
			Order("addresses.id").Find(&joined).Error
		if err != nil {
			t.Fatalf("Joins + WhereEqual on the joined model: %v", err)
		}
		if len(joined) != 2 || joined[0].Customer.Ref != "c-1" || joined[1].Customer.Ref != "c-1" {
			t.Fatalf("Joins + WhereEqual: %+v", joined)
		}
		// The same through Model and Count, and a condition on both tables.
		var n int64
		sub := gormcrypt.WithSubject(ctx, "c-1")
		err = e.db.WithContext(sub).Model(&AddressWithCustomer{}).Joins("Customer").
			Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", want), gormcrypt.WhereEqual(&Address{}, "Postcode", "02-001")).
			Count(&n).Error
		if err != nil || n != 1 {
			t.Fatalf("Joins + two WhereEqual + Count: %d, %v; want 1", n, err)
		}

		// Preload conditions: the deterministic postcode of one subject,
		// read from the statement's context.
		var pre []Customer
		err = e.db.WithContext(sub).Preload("Addresses", gormcrypt.WhereEqual(&Address{}, "Postcode", "02-001")).
			Where("ref = ?", "c-1").Find(&pre).Error
		if err != nil {
			t.Fatalf("Preload + WhereEqual: %v", err)
		}
		if len(pre) != 1 || len(pre[0].Addresses) != 1 || pre[0].Addresses[0].Street != "work c-1" {
			t.Fatalf("Preload + WhereEqual: %+v", pre)
		}

		// A table alias.
		var aliased []Customer
		if err := e.db.Table("customers c").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", want)).Find(&aliased).Error; err != nil {
			t.Fatalf("Table alias: %v", err)
		}
		if len(aliased) != 1 || aliased[0].Ref != "c-1" {
			t.Fatalf("Table alias: %+v", aliased)
		}

		// A raw join needs the alias named.
		var viaRaw []Address
		err = e.db.Joins("JOIN customers cu ON cu.id = addresses.customer_id").
			Scopes(gormcrypt.WhereEqualAs("cu", &Customer{}, "Email", want)).Order("addresses.id").Find(&viaRaw).Error
		if err != nil || len(viaRaw) != 2 || viaRaw[0].CustomerRef != "c-1" {
			t.Fatalf("raw join + WhereEqualAs: %d rows, %v", len(viaRaw), err)
		}

		// The subject comes from the statement's context, whichever order
		// WithContext and Scopes are called in.
		var addrs []Address
		if err := e.db.Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).WithContext(gormcrypt.WithSubject(ctx, "c-2")).
			Find(&addrs).Error; err != nil || len(addrs) != 1 || addrs[0].Street != "home c-2" {
			t.Fatalf("subject from the statement's context: %+v, %v", addrs, err)
		}
	})
}

// storedIndexes returns the email_index of every customer, by ref.
func storedIndexes(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	var rows []struct {
		Ref        string
		EmailIndex *string
	}
	if err := db.Table("customers").Select("ref, email_index").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		if r.EmailIndex != nil {
			out[r.Ref] = *r.EmailIndex
		}
	}
	return out
}

// TestBlindIndexRotation: after RotateBlindIndex, writes use the new key
// version and lookups find rows of both; Reindex moves every row to the
// new version in batches, resumes after an interruption, never overwrites
// a concurrent write and is idempotent.
func TestBlindIndexRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := setup(t, b, gormcrypt.WithBlindIndexGrace(0)) // one process: no grace period needed
		ctx := context.Background()
		const n = 23
		for i := range n {
			c := sample(fmt.Sprintf("c-%02d", i))
			if err := e.db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
		}
		email := func(i int) string { return sample(fmt.Sprintf("c-%02d", i)).Email }
		if v, err := gormcrypt.RotateBlindIndex(ctx, e.db, &Customer{}, "Email"); err != nil || v != 2 {
			t.Fatalf("RotateBlindIndex = %d, %v; want 2", v, err)
		}
		// No gap: old rows are found right after the rotation, new rows are
		// written under version 2 and found too.
		if got := findByEmail(t, e.db, email(3)); len(got) != 1 || got[0].Ref != "c-03" {
			t.Fatalf("right after the rotation: found %+v", got)
		}
		fresh := sample("c-new")
		if err := e.db.Create(&fresh).Error; err != nil {
			t.Fatal(err)
		}
		col, idx, err := gormcrypt.BlindIndexes(ctx, e.db, &Customer{}, "Email", fresh.Email)
		if err != nil || col != "email_index" || len(idx) != 2 || idx[0] == idx[1] {
			t.Fatalf("BlindIndexes = %s %v, %v", col, idx, err)
		}
		if got := storedIndexes(t, e.db)["c-new"]; got != idx[0] {
			t.Fatalf("a row written after the rotation holds %s, want the version 2 index %s", got, idx[0])
		}
		if got := findByEmail(t, e.db, fresh.Email); len(got) != 1 {
			t.Fatalf("row written after the rotation: found %d", len(got))
		}

		// Reindex, interrupted after the first batch.
		cctx, cancel := context.WithCancel(ctx)
		var seen []gormcrypt.ReindexProgress
		_, err = gormcrypt.Reindex(cctx, e.db, &Customer{}, "Email", gormcrypt.ReindexOptions{
			BatchSize: 5,
			Progress:  func(p gormcrypt.ReindexProgress) { seen = append(seen, p); cancel() },
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted Reindex: %v, want context.Canceled", err)
		}
		if len(seen) != 1 || seen[0].Scanned != 5 || seen[0].Updated != 5 || seen[0].Version != 2 || seen[0].Done {
			t.Fatalf("progress of the interrupted run: %+v", seen)
		}
		// Lookups work half way.
		for _, i := range []int{0, 20} {
			if got := findByEmail(t, e.db, email(i)); len(got) != 1 {
				t.Fatalf("half re-indexed: row %d found %d times", i, len(got))
			}
		}

		// A concurrent write to a row of the next batch, after Reindex read
		// it and before it rewrites it (at the batch's first UPDATE, before
		// its transaction holds any lock): Reindex must leave the new index
		// alone.
		var armed atomic.Bool
		armed.Store(true)
		victim := sample("c-07")
		if err := e.db.Where("ref = ?", "c-07").First(&victim).Error; err != nil {
			t.Fatal(err)
		}
		err = e.db.Callback().Raw().Before("gorm:raw").Register("test:concurrent-write", func(tx *gorm.DB) {
			if !strings.HasPrefix(tx.Statement.SQL.String(), "UPDATE") || !armed.CompareAndSwap(true, false) {
				return
			}
			w := e.db.Session(&gorm.Session{NewDB: true})
			if err := w.Model(&Customer{ID: victim.ID, Ref: victim.Ref}).Updates(Customer{Email: "moved@example.com"}).Error; err != nil {
				t.Errorf("concurrent write: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		seen = nil
		done, err := gormcrypt.Reindex(ctx, e.db, &Customer{}, "Email", gormcrypt.ReindexOptions{
			BatchSize: 5,
			Progress:  func(p gormcrypt.ReindexProgress) { seen = append(seen, p) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if armed.Load() {
			t.Fatal("the concurrent write did not run")
		}
		if !done.Done || done.Scanned != n+1 || done.Updated != n-1 || done.Skipped != 1 || len(seen) != 4 {
			t.Fatalf("resumed Reindex: %+v after %d batches; want %d scanned, %d updated, 1 skipped, 4 batches",
				done, len(seen), n+1, n-1)
		}
		if got := findByEmail(t, e.db, "moved@example.com"); len(got) != 1 || got[0].Ref != "c-07" {
			t.Fatalf("the concurrent write's value: found %+v", got)
		}
		if got := findByEmail(t, e.db, email(7)); len(got) != 0 {
			t.Fatalf("Reindex overwrote a concurrent write: the old value finds %+v", got)
		}
		// Every row is now of version 2: what BlindIndex (the current
		// version) gives.
		stored := storedIndexes(t, e.db)
		for i := range n {
			ref, want := fmt.Sprintf("c-%02d", i), email(i)
			if i == 7 {
				want = "moved@example.com"
			}
			_, cur, err := gormcrypt.BlindIndex(ctx, e.db, &Customer{}, "Email", want)
			if err != nil || stored[ref] != cur {
				t.Fatalf("%s holds %s after Reindex, want %s (%v)", ref, stored[ref], cur, err)
			}
		}
		// Idempotent: a finished Reindex does nothing.
		again, err := gormcrypt.Reindex(ctx, e.db, &Customer{}, "Email", gormcrypt.ReindexOptions{})
		if err != nil || again != done {
			t.Fatalf("Reindex again = %+v, %v; want %+v", again, err, done)
		}
		// A forgotten customer's row gets no index back.
		if _, err := gormcrypt.Forget(ctx, e.db, "c-01", "ticket-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := gormcrypt.RotateBlindIndex(ctx, e.db, &Customer{}, "Email"); err != nil {
			t.Fatal(err)
		}
		v3, err := gormcrypt.Reindex(ctx, e.db, &Customer{}, "Email", gormcrypt.ReindexOptions{BatchSize: 100})
		if err != nil || !v3.Done || v3.Version != 3 || v3.Updated != n {
			t.Fatalf("Reindex to version 3 = %+v, %v; want %d updated", v3, err, n)
		}
		if _, ok := storedIndexes(t, e.db)["c-01"]; ok {
			t.Fatal("Reindex gave a forgotten customer's row an index")
		}
		for _, i := range []int{0, 22} {
			if got := findByEmail(t, e.db, email(i)); len(got) != 1 {
				t.Fatalf("after Reindex to version 3: row %d found %d times", i, len(got))
			}
		}
	})
}

// TestBlindIndexRotationAcrossProcesses: two services (two Keyrings on one
// keystore, two *gorm.DB on one database). One rotates the index key and
// re-indexes while the other, whose cache still names the old version as
// current, keeps writing and searching: no lookup may miss a row.
func TestBlindIndexRotationAcrossProcesses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := b.open(t)
		root, err := localkms.Parse([]byte(localkms.GenerateKey()))
		if err != nil {
			t.Fatal(err)
		}
		store := memstore.New()
		const maxAge = 300 * time.Millisecond
		service := func() *gorm.DB {
			kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, CacheMaxAge: maxAge})
			if err != nil {
				t.Fatal(err)
			}
			db := openGorm(t, d)
			if _, err := install(db, kr, gormcrypt.WithModels(allModels...), gormcrypt.WithBlindIndexGrace(maxAge+100*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			return db
		}
		a, other := service(), service()
		if err := a.AutoMigrate(allModels...); err != nil {
			t.Fatal(err)
		}
		var emails []string
		create := func(db *gorm.DB) {
			t.Helper()
			c := sample(fmt.Sprintf("c-%03d", len(emails)))
			if err := db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
			emails = append(emails, c.Email)
		}
		findAll := func(db *gorm.DB, who string) {
			t.Helper()
			for i, email := range emails {
				var n int64
				if err := db.Model(&Customer{}).Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", email)).Count(&n).Error; err != nil || n != 1 {
					t.Fatalf("%s: lookup of customer %d found %d rows (%v)", who, i, n, err)
				}
			}
		}
		for range 12 {
			create(a)
		}
		findAll(other, "before the rotation") // the other service now caches version 1 as current

		if _, err := gormcrypt.RotateBlindIndex(ctx, a, &Customer{}, "Email"); err != nil {
			t.Fatal(err)
		}
		create(a) // written under version 1 during the grace period
		findAll(other, "right after the rotation")

		done := make(chan error, 1)
		go func() {
			_, err := gormcrypt.Reindex(ctx, a, &Customer{}, "Email", gormcrypt.ReindexOptions{BatchSize: 4})
			done <- err
		}()
		for round := 0; ; round++ {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				findAll(other, "after Reindex")
				findAll(a, "after Reindex, the rotating service")
				_, cur, _ := gormcrypt.BlindIndex(ctx, a, &Customer{}, "Email", emails[0])
				_, cur2, _ := gormcrypt.BlindIndex(ctx, other, &Customer{}, "Email", emails[0])
				if cur != cur2 || storedIndexes(t, a)["c-000"] != cur {
					t.Fatal("after Reindex the services disagree on the write version, or a row was not re-indexed")
				}
				return
			default:
			}
			if round%2 == 0 {
				create(other)
			} else {
				create(a)
			}
			findAll(other, fmt.Sprintf("during Reindex, round %d", round))
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Golden blind indexes: one index per normalisation and key version under
// the fixed keystore of testdata/golden (internal/golden), so that the
// index format (key derivation, normalisation, truncation, hex) never
// changes by accident: stored indexes would silently stop matching. The
// check needs no database server (keys in memstore, the models parsed
// against an in-memory SQLite).
//
// To append the indexes of a new case (never to change one):
//
//	go test ./gormcrypt -run TestGoldenBlindIndexGenerate -golden.generate

var generateGolden = flag.Bool("golden.generate", false, "append missing golden blind indexes to testdata/golden")

// GoldenCustomer has one blind index per normalisation.
type GoldenCustomer struct {
	ID         uint
	Ref        string  `fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `fieldcrypt:"blind_index:Email"`
	Code       string  `gorm:"serializer:encrypt"`
	CodeIndex  *string `fieldcrypt:"blind_index:Code;normalize:exact"`
	Phone      string  `gorm:"serializer:encrypt"`
	PhoneIndex *string `fieldcrypt:"blind_index:Phone;normalize:digits"`
	Tag        []byte  `gorm:"serializer:encrypt"`
	TagIndex   *string `fieldcrypt:"blind_index:Tag;normalize:exact"`
}

func (GoldenCustomer) TableName() string { return "customers" }

type goldenIndex struct {
	Name        string `json:"name"`
	Table       string `json:"table"`
	Field       string `json:"field"`        // the encrypted Go field
	IndexColumn string `json:"index_column"` // names the key: fieldcrypt/blind-index/<table>.<index_column>
	Normalize   string `json:"normalize"`
	KeyVersion  uint32 `json:"key_version"`
	Value       string `json:"value"`
	Index       string `json:"index"` // hex
}

var goldenIndexCases = []struct {
	name, field, column, normalize string
	version                        uint32
	value                          string
}{
	{"lower-v1", "Email", "email_index", gormcrypt.NormalizeLower, 1, "  Ada.Lovelace@Example.COM \t"},
	{"lower-unicode-v1", "Email", "email_index", gormcrypt.NormalizeLower, 1, "ZAŻÓŁĆ@Gęślą.PL"},
	{"lower-empty-v1", "Email", "email_index", gormcrypt.NormalizeLower, 1, ""},
	{"lower-v2", "Email", "email_index", gormcrypt.NormalizeLower, 2, "  Ada.Lovelace@Example.COM \t"},
	{"exact-v1", "Code", "code_index", gormcrypt.NormalizeExact, 1, " Case Kept "},
	{"exact-v2", "Code", "code_index", gormcrypt.NormalizeExact, 2, " Case Kept "},
	{"digits-v1", "Phone", "phone_index", gormcrypt.NormalizeDigits, 1, "+48 (600) 100-200"},
	{"digits-v2", "Phone", "phone_index", gormcrypt.NormalizeDigits, 2, "+48 (600) 100-200"},
	{"bytes-exact-v1", "Tag", "tag_index", gormcrypt.NormalizeExact, 1, "\x00 tab\t and NUL"},
}

// goldenDB opens the models, without a server, on the golden keystore.
func goldenDB(t *testing.T) (*gorm.DB, *golden.Recorder) {
	t.Helper()
	kr, rec, err := golden.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db := openGorm(t, gosqlite.Open("file::memory:"))
	if _, err := install(db, kr, gormcrypt.WithModels(&GoldenCustomer{})); err != nil {
		t.Fatal(err)
	}
	return db, rec
}

// goldenIndexOf computes a case's index through the public API: the
// index under every live version, newest first, of which it takes its
// version's (versions are 1 to the current one).
func goldenIndexOf(t *testing.T, db *gorm.DB, field, value string, version uint32) (column, index string) {
	t.Helper()
	column, all, err := gormcrypt.BlindIndexes(context.Background(), db, &GoldenCustomer{}, field, value)
	if err != nil {
		t.Fatal(err)
	}
	if int(version) > len(all) {
		t.Fatalf("the golden keystore has %d versions of the %s key, the case needs %d: run the generator", len(all), column, version)
	}
	return column, all[len(all)-int(version)]
}

func TestGoldenBlindIndex(t *testing.T) {
	db, _ := goldenDB(t)
	var vs []goldenIndex
	if err := golden.ReadJSON("blindindex.json", &vs); err != nil {
		t.Fatalf("reading golden blind indexes: %v", err)
	}
	for _, c := range goldenIndexCases {
		if !slices.ContainsFunc(vs, func(g goldenIndex) bool { return g.Name == c.name }) {
			t.Errorf("no golden blind index for case %s: run the generator", c.name)
		}
	}
	for _, g := range vs {
		t.Run(g.Name, func(t *testing.T) {
			column, got := goldenIndexOf(t, db, g.Field, g.Value, g.KeyVersion)
			if column != g.IndexColumn || g.Table != "customers" {
				t.Fatalf("%s.%s indexes into %s, recorded %s.%s", g.Table, g.Field, column, g.Table, g.IndexColumn)
			}
			if len(got) != 2*gormcrypt.BlindIndexSize || got != g.Index {
				t.Fatalf("index of %q (%s, key version %d) = %s, recorded %s", g.Value, g.Normalize, g.KeyVersion, got, g.Index)
			}
		})
	}
}

func TestGoldenBlindIndexGenerate(t *testing.T) {
	if !*generateGolden {
		t.Skip("run with -golden.generate to append missing golden blind indexes")
	}
	ctx := context.Background()
	db, rec := goldenDB(t)
	var vs []goldenIndex
	if err := golden.ReadJSON("blindindex.json", &vs); err != nil {
		t.Logf("starting blindindex.json: %v", err)
	}
	for _, c := range goldenIndexCases {
		if slices.ContainsFunc(vs, func(g goldenIndex) bool { return g.Name == c.name }) {
			continue
		}
		for {
			_, all, err := gormcrypt.BlindIndexes(ctx, db, &GoldenCustomer{}, c.field, c.value)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) >= int(c.version) {
				break
			}
			if _, err := gormcrypt.RotateBlindIndex(ctx, db, &GoldenCustomer{}, c.field); err != nil {
				t.Fatal(err)
			}
		}
		column, index := goldenIndexOf(t, db, c.field, c.value, c.version)
		if column != c.column {
			t.Fatalf("%s: index column %s, the case says %s", c.name, column, c.column)
		}
		vs = append(vs, goldenIndex{Name: c.name, Table: "customers", Field: c.field, IndexColumn: column,
			Normalize: c.normalize, KeyVersion: c.version, Value: c.value, Index: index})
	}
	if err := golden.WriteJSON("keystore.json", rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := golden.WriteJSON("blindindex.json", vs); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkWhereEqual measures a lookup with one live key version and with
// two (after a rotation, before any re-index), for a blind index column
// (Customer.Email: one HMAC per version) and a deterministic column
// (Address.Postcode: one AES-SIV per version), on SQLite with 1000 rows of
// 10 customers. "query" runs the SELECT; "build" stops after building it
// (GORM's DryRun); "values" only computes what the IN list holds
// (BlindIndexes, envelope.Cipher.EncryptDeterministicAll), which isolates
// what the extra version costs. The two versions run side by side so that
// other load on the machine affects both alike.
//
//	go test -run '^$' -bench WhereEqual -count 6 ./gormcrypt/
func BenchmarkWhereEqual(b *testing.B) {
	ctx := context.Background()
	type shop struct {
		db *gorm.DB
		c  *envelope.Cipher
	}
	var shops [2]shop
	for v := range shops {
		db := openGorm(b, freshSQLite(b))
		kr := newKeyring(b)
		if _, err := install(db, kr, gormcrypt.WithModels(allModels...), gormcrypt.WithBlindIndexGrace(0)); err != nil {
			b.Fatal(err)
		}
		if err := db.AutoMigrate(allModels...); err != nil {
			b.Fatal(err)
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			for i := range 1000 {
				c := sample(fmt.Sprintf("c-%04d", i))
				c.Email = fmt.Sprintf("user%d@example.com", i)
				c.Addresses = []Address{{CustomerRef: fmt.Sprintf("s-%d", i%10), Street: "x", Postcode: fmt.Sprintf("%02d-%03d", i%100, i%7)}}
				if err := tx.Create(&c).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if v == 1 {
			if _, err := gormcrypt.RotateBlindIndex(ctx, db, &Customer{}, "Email"); err != nil {
				b.Fatal(err)
			}
			for s := range 10 {
				if _, err := kr.Rotate(ctx, fmt.Sprintf("s-%d", s), keys.DefaultPurpose); err != nil {
					b.Fatal(err)
				}
			}
		}
		c, err := envelope.New(kr)
		if err != nil {
			b.Fatal(err)
		}
		shops[v] = shop{db, c}
	}
	sub := gormcrypt.WithSubject(ctx, "s-3")
	cases := []struct {
		name  string
		scope func(*gorm.DB) *gorm.DB
		dest  func() any
		want  int
	}{
		{"blind", gormcrypt.WhereEqual(&Customer{}, "Email", "User503@example.com"), func() any { return &[]Customer{} }, 1},
		{"det", gormcrypt.WhereEqual(&Address{}, "Postcode", "03-003"), func() any { return &[]Address{} }, 2}, // rows 3 and 703
	}
	ad := envelope.AssociatedData("addresses", "postcode", "s-3")
	for _, c := range cases {
		for _, op := range []string{"query", "build", "values"} {
			for v, sh := range shops {
				b.Run(fmt.Sprintf("%s/%s/versions=%d", c.name, op, v+1), func(b *testing.B) {
					q := sh.db.WithContext(sub)
					if op == "build" {
						q = q.Session(&gorm.Session{DryRun: true})
					}
					dest := c.dest()
					run := func() error { return q.Scopes(c.scope).Find(dest).Error }
					switch {
					case op == "values" && c.name == "blind":
						run = func() error {
							_, idx, err := gormcrypt.BlindIndexes(ctx, sh.db, &Customer{}, "Email", "User503@example.com")
							if err == nil && len(idx) != v+1 {
								err = fmt.Errorf("%d indexes", len(idx))
							}
							return err
						}
					case op == "values":
						run = func() error {
							cts, err := sh.c.EncryptDeterministicAll(ctx, "s-3", []byte("03-003"), ad)
							if err == nil && len(cts) != v+1 {
								err = fmt.Errorf("%d ciphertexts", len(cts))
							}
							return err
						}
					case op == "query":
						if res := q.Scopes(c.scope).Find(dest); res.Error != nil || res.RowsAffected != int64(c.want) {
							b.Fatalf("%d rows, %v", res.RowsAffected, res.Error)
						}
					}
					b.ReportAllocs()
					cpu0 := cpuTime() // CPU time, less disturbed than wall time by other load on the machine
					for b.Loop() {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// ExampleReindex rotates a blind index key and moves the rows to the new
// version, while lookups keep finding them. The grace period is 0 here
// because one process uses the keystore; the default waits until every
// process sharing it knows the new version.
func ExampleReindex() {
	ctx := context.Background()
	db, done := openShop(gormcrypt.WithBlindIndexGrace(0))
	defer done()
	for i := range 5 {
		db.Create(&Shopper{Ref: fmt.Sprintf("customer-%d", i), Email: fmt.Sprintf("user%d@example.com", i)})
	}

	v, _ := gormcrypt.RotateBlindIndex(ctx, db, &Shopper{}, "Email")
	var n int64
	db.Model(&Shopper{}).Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", "User3@example.com")).Count(&n)
	fmt.Println("key version", v, "- found before re-indexing:", n)

	p, err := gormcrypt.Reindex(ctx, db, &Shopper{}, "Email", gormcrypt.ReindexOptions{
		BatchSize: 2,
		Progress:  func(p gormcrypt.ReindexProgress) { fmt.Println("  re-indexed", p.Scanned, "rows") },
	})
	fmt.Println(p.Done, p.Updated, err)
	db.Model(&Shopper{}).Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", "User3@example.com")).Count(&n)
	fmt.Println("found after re-indexing:", n)
	// Output:
	// key version 2 - found before re-indexing: 1
	//   re-indexed 2 rows
	//   re-indexed 4 rows
	//   re-indexed 5 rows
	// true 5 <nil>
	// found after re-indexing: 1
}

// ExampleWhereEqual searches a joined relation by its encrypted email: the
// condition names the table by the alias GORM gives the join.
func ExampleWhereEqual() {
	db, done := openShop()
	defer done()
	type Order struct {
		ID        uint
		Number    string
		ShopperID uint
		Shopper   Shopper
	}
	db.AutoMigrate(&Order{})
	ada := Shopper{Ref: "customer-1", Email: "ada@example.com"}
	db.Create(&ada)
	db.Create(&Order{Number: "A-1", ShopperID: ada.ID})

	var orders []Order
	err := db.Joins("Shopper").Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", "ADA@example.com")).Find(&orders).Error
	fmt.Println(len(orders), orders[0].Number, orders[0].Shopper.Email, err)
	// Output:
	// 1 A-1 ada@example.com <nil>
}

// TestReindexFillsMissingIndexes: rows without an index (written before the
// blind index was added to the model) get one from Reindex, under version 1.
func TestReindexFillsMissingIndexes(t *testing.T) {
	e := setup(t, backends[0])
	ctx := context.Background()
	for i := range 3 {
		c := sample(fmt.Sprintf("c-%d", i))
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Exec("UPDATE customers SET email_index = NULL").Error; err != nil {
		t.Fatal(err)
	}
	if got := findByEmail(t, e.db, sample("c-1").Email); len(got) != 0 {
		t.Fatalf("found %d rows without an index", len(got))
	}
	p, err := gormcrypt.Reindex(ctx, e.db, &Customer{}, "Email", gormcrypt.ReindexOptions{})
	if err != nil || !p.Done || p.Version != 1 || p.Updated != 3 {
		t.Fatalf("Reindex = %+v, %v; want 3 rows filled under version 1", p, err)
	}
	if got := findByEmail(t, e.db, sample("c-1").Email); len(got) != 1 || got[0].Ref != "c-1" {
		t.Fatalf("after Reindex: found %+v", got)
	}
	// Models without a blind index on the field are refused.
	if _, err := gormcrypt.Reindex(ctx, e.db, &Customer{}, "Name", gormcrypt.ReindexOptions{}); !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("Reindex of a field without a blind index: %v, want ErrUnsupported", err)
	}
	if _, err := gormcrypt.RotateBlindIndex(ctx, e.db, &Address{}, "Postcode"); !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("RotateBlindIndex of a field without a blind index: %v, want ErrUnsupported", err)
	}
}

// Transfer joins customers twice, for TestWhereEqualAmbiguousJoin.
type Transfer struct {
	ID     uint
	FromID uint
	From   Customer `gorm:"foreignKey:FromID"`
	ToID   uint
	To     Customer `gorm:"foreignKey:ToID"`
}

// TestWhereEqualAmbiguousJoin: with the model's table joined twice,
// WhereEqual refuses to guess and WhereEqualAs picks one.
func TestWhereEqualAmbiguousJoin(t *testing.T) {
	e := setup(t, backends[0])
	if err := e.db.AutoMigrate(&Transfer{}); err != nil {
		t.Fatal(err)
	}
	a, c := sample("c-a"), sample("c-c")
	c.Email = "grace@example.com"
	for _, x := range []*Customer{&a, &c} {
		if err := e.db.Create(x).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Omit("From", "To").Create(&Transfer{FromID: a.ID, ToID: c.ID}).Error; err != nil {
		t.Fatal(err)
	}
	var ts []Transfer
	err := e.db.Joins("From").Joins("To").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", c.Email)).Find(&ts).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("WhereEqual on a table joined twice: %v, want ErrUnsupported", err)
	}
	for _, tc := range []struct {
		alias string
		want  int
	}{{"To", 1}, {"From", 0}} {
		ts = nil
		err := e.db.Joins("From").Joins("To").Scopes(gormcrypt.WhereEqualAs(tc.alias, &Customer{}, "Email", c.Email)).Find(&ts).Error
		if err != nil || len(ts) != tc.want {
			t.Fatalf("WhereEqualAs(%q): %d rows, %v; want %d", tc.alias, len(ts), err, tc.want)
		}
	}
}
