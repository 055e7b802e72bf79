package gormcrypt_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/testdb"

	gosqlite "github.com/glebarez/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the admin connection
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// The test models: a customer with every supported column type, their
// addresses (has-many, for Preload and Joins) and a note without a subject
// field (the subject comes from the context).
type Customer struct {
	ID         uint
	Ref        string     `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string     `gorm:"serializer:encrypt"`
	EmailIndex *string    `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Name       *string    `gorm:"serializer:encrypt"`
	Phone      string     `gorm:"serializer:encrypt_det"`
	Born       time.Time  `gorm:"serializer:encrypt"`
	Seen       *time.Time `gorm:"serializer:encrypt"`
	Score      int64      `gorm:"serializer:encrypt"`
	Visits     uint16     `gorm:"serializer:encrypt"`
	Avatar     []byte     `gorm:"serializer:encrypt"`
	Tier       string     // plaintext
	Addresses  []Address  `gorm:"foreignKey:CustomerID"`
}

type Address struct {
	ID          uint
	CustomerID  uint
	CustomerRef string `gorm:"size:64;index" fieldcrypt:"subject"`
	Street      string `gorm:"serializer:encrypt"`
	Postcode    string `gorm:"serializer:encrypt_det"`
}

type Note struct {
	ID   uint
	Text string `gorm:"serializer:encrypt"`
}

// HookedCustomer checks that user hooks run and see plaintext.
type HookedCustomer struct {
	ID         uint
	Ref        string  `gorm:"size:64" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32" fieldcrypt:"blind_index:Email"`
	Loaded     string  `gorm:"-"`
}

func (h *HookedCustomer) BeforeCreate(tx *gorm.DB) error {
	h.Email = strings.TrimSpace(h.Email) // the index and ciphertext see this value
	return nil
}

func (h *HookedCustomer) AfterFind(tx *gorm.DB) error {
	h.Loaded = "after-find saw " + h.Email
	return nil
}

// AddressWithCustomer reads addresses with their customer, for Joins.
type AddressWithCustomer struct {
	Address
	Customer Customer `gorm:"foreignKey:CustomerID"`
}

func (AddressWithCustomer) TableName() string { return "addresses" }

var allModels = []any{&Customer{}, &Address{}, &Note{}, &HookedCustomer{}}

type backend struct {
	name string
	open func(t testing.TB) gorm.Dialector // a fresh, empty database
}

var backends = []backend{
	{"SQLite", freshSQLite},
	{"Postgres", freshPostgres},
	{"MySQL", freshMySQL},
}

func freshSQLite(t testing.TB) gorm.Dialector {
	path := filepath.Join(t.TempDir(), "shop.db")
	return gosqlite.Open(path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
}

func freshPostgres(t testing.TB) gorm.Dialector { return postgres.Open(testdb.PostgresDSN(t)) }

func freshMySQL(t testing.TB) gorm.Dialector {
	cfg := testdb.MySQLConfig(t)
	cfg.ParseTime = true
	return mysql.Open(cfg.FormatDSN())
}

// newKeyring keeps keys in memory (keys/memstore): the keystore backends
// have their own suite in keys/sqlstore, and here the database under test
// is the shop's. The Example uses the SQLite keystore.
func newKeyring(t testing.TB) *keys.Keyring {
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(context.Background(), keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// install is what a service does: build the plugin and db.Use it.
func install(db *gorm.DB, kr *keys.Keyring, opts ...gormcrypt.Option) (*gormcrypt.Plugin, error) {
	p, err := gormcrypt.New(kr, opts...)
	if err != nil {
		return nil, err
	}
	return p, db.Use(p)
}

func openGorm(t testing.TB, d gorm.Dialector) *gorm.DB {
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

// env is one test's database with gormcrypt registered and the tables made.
type env struct {
	db *gorm.DB
	kr *keys.Keyring
}

func setup(t *testing.T, b backend, opts ...gormcrypt.Option) env {
	db := openGorm(t, b.open(t))
	kr := newKeyring(t)
	p, err := install(db, kr, append([]gormcrypt.Option{gormcrypt.WithModels(allModels...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(allModels...); err != nil {
		t.Fatal(err)
	}
	return env{db, kr}
}

func ptr[T any](v T) *T { return &v }

func sample(ref string) Customer {
	return Customer{
		Ref: ref, Email: "ada." + ref + "@example.com", Name: ptr("Ada " + ref), Phone: "+48 600 100 200",
		Born: time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC), Score: -42, Visits: 7,
		Avatar: []byte{0, 1, 2}, Tier: "gold",
	}
}

// TestSuite runs the same integration suite on every database.
func TestSuite(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"NoPlaintextAndSwap", testNoPlaintextAndSwap},
		{"Operations", testOperations},
		{"Lookups", testLookups},
		{"ForgetStrict", testForgetStrict},
		{"ForgetRedacted", testForgetRedacted},
		{"BadInput", testBadInput},
		{"Tokens", testTokens},
		{"Concurrent", testConcurrent},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
			}
		})
	}
}

func testRoundTrip(t *testing.T, b backend) {
	e := setup(t, b)
	full := sample("c-1")
	full.Seen = ptr(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600)))
	empty := Customer{Ref: "c-2", Email: "", Avatar: []byte{}} // empty, not NULL; nil pointers stay NULL
	for _, c := range []*Customer{&full, &empty} {
		if err := e.db.Create(c).Error; err != nil {
			t.Fatal(err)
		}
	}
	var got Customer
	if err := e.db.First(&got, full.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Email != full.Email || *got.Name != *full.Name || got.Phone != full.Phone || !got.Born.Equal(full.Born) ||
		!got.Seen.Equal(*full.Seen) || got.Score != -42 || got.Visits != 7 || !bytes.Equal(got.Avatar, full.Avatar) || got.Tier != "gold" {
		t.Fatalf("round trip: got %+v, want %+v", got, full)
	}
	if got.EmailIndex == nil || len(*got.EmailIndex) != 2*gormcrypt.BlindIndexSize {
		t.Fatalf("blind index = %v, want %d hex characters", got.EmailIndex, 2*gormcrypt.BlindIndexSize)
	}
	var got2 Customer
	if err := e.db.Where("ref = ?", "c-2").First(&got2).Error; err != nil {
		t.Fatal(err)
	}
	if got2.Email != "" || got2.Name != nil || got2.Seen != nil || got2.Avatar == nil || len(got2.Avatar) != 0 {
		t.Fatalf("empty values: got Email %q Name %v Seen %v Avatar %#v", got2.Email, got2.Name, got2.Seen, got2.Avatar)
	}
	var nulls struct{ Name, Seen *string }
	if err := e.db.Raw("SELECT name, seen FROM customers WHERE ref = ?", "c-2").Scan(&nulls).Error; err != nil {
		t.Fatal(err)
	}
	if nulls.Name != nil || nulls.Seen != nil {
		t.Fatalf("nil pointers were stored as %v, %v; want NULL", nulls.Name, nulls.Seen)
	}
}

func testNoPlaintextAndSwap(t *testing.T, b backend) {
	e := setup(t, b)
	a, c := sample("c-a"), sample("c-b")
	c.Email = "grace@example.com"
	for _, x := range []*Customer{&a, &c} {
		if err := e.db.Create(x).Error; err != nil {
			t.Fatal(err)
		}
	}
	rows, err := e.db.Raw("SELECT email, name, phone, born, score, visits, avatar FROM customers WHERE id = ?", a.ID).Rows()
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]sql.NullString, 7)
	rows.Next()
	if err := rows.Scan(&raw[0], &raw[1], &raw[2], &raw[3], &raw[4], &raw[5], &raw[6]); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for i, v := range raw {
		if !v.Valid {
			t.Fatalf("column %d is NULL", i)
		}
		for _, plain := range []string{a.Email, "ada.", *a.Name, "600", "1815"} {
			if strings.Contains(v.String, plain) {
				t.Fatalf("column %d holds plaintext %q: %q", i, plain, v.String)
			}
		}
		ct, err := base64.RawURLEncoding.DecodeString(v.String)
		if err != nil {
			t.Fatalf("column %d is not a ciphertext: %v", i, err)
		}
		if len(ct) <= envelope.HeaderSize || ct[0] != envelope.FormatVersion {
			t.Fatalf("column %d is not a version %d ciphertext", i, envelope.FormatVersion)
		}
	}

	// Swap the two customers' emails in the database: both reads must fail.
	var ea, ec string
	e.db.Raw("SELECT email FROM customers WHERE id = ?", a.ID).Scan(&ea)
	e.db.Raw("SELECT email FROM customers WHERE id = ?", c.ID).Scan(&ec)
	if err := e.db.Exec("UPDATE customers SET email = ? WHERE id = ?", ec, a.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("UPDATE customers SET email = ? WHERE id = ?", ea, c.ID).Error; err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint{a.ID, c.ID} {
		var got Customer
		err := e.db.First(&got, id).Error
		if !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("reading swapped row %d: err = %v, want envelope.ErrDecrypt", id, err)
		}
		if got.Email != "" {
			t.Fatalf("swapped row %d: email %q leaked", id, got.Email)
		}
	}
	// Moving a ciphertext to another column of the same row fails too.
	var name string
	e.db.Raw("SELECT name FROM customers WHERE id = ?", c.ID).Scan(&name)
	e.db.Exec("UPDATE customers SET email = ? WHERE id = ?", name, c.ID)
	var got Customer
	if err := e.db.First(&got, c.ID).Error; !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("column move: err = %v, want envelope.ErrDecrypt", err)
	}
}

func findByEmail(t *testing.T, db *gorm.DB, email string) []Customer {
	t.Helper()
	var out []Customer
	if err := db.Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", email)).Order("id").Find(&out).Error; err != nil {
		t.Fatalf("WhereEqual(%q): %v", email, err)
	}
	return out
}

func testOperations(t *testing.T, b backend) {
	e := setup(t, b)
	db := e.db
	// CreateInBatches with associations.
	batch := make([]Customer, 25)
	for i := range batch {
		batch[i] = sample(fmt.Sprintf("c-%02d", i))
		batch[i].Addresses = []Address{{CustomerRef: batch[i].Ref, Street: "Street " + batch[i].Ref, Postcode: "00-514"}}
	}
	if err := db.CreateInBatches(&batch, 10).Error; err != nil {
		t.Fatal(err)
	}
	// Find with Preload.
	var all []Customer
	if err := db.Preload("Addresses").Order("id").Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 || all[3].Email != batch[3].Email || len(all[3].Addresses) != 1 || all[3].Addresses[0].Street != "Street c-03" {
		t.Fatalf("Preload: got %d customers, [3] = %+v", len(all), all[3])
	}
	// Pointers in the slice, and Joins from the address side.
	var ptrs []*Customer
	if err := db.Where("tier = ?", "gold").Find(&ptrs).Error; err != nil || len(ptrs) != 25 || ptrs[0].Email == "" {
		t.Fatalf("Find into []*Customer: %v", err)
	}
	var joined []AddressWithCustomer
	if err := db.Joins("Customer").Order("addresses.id").Find(&joined).Error; err != nil {
		t.Fatalf("Joins: %v", err)
	}
	if len(joined) != 25 || joined[5].Street != "Street c-05" || joined[5].Customer.Email != batch[5].Email {
		t.Fatalf("Joins: got %+v", joined[5])
	}

	// Save (update path).
	c := all[0]
	c.Email = "Saved@Example.com"
	c.Score = 99
	if err := db.Save(&c).Error; err != nil {
		t.Fatal(err)
	}
	if got := findByEmail(t, db, "saved@example.com"); len(got) != 1 || got[0].Score != 99 || got[0].ID != c.ID {
		t.Fatalf("after Save: lookup found %+v", got)
	}
	// Updates with a struct, on a model holding only the primary key and subject.
	if err := db.Model(&Customer{ID: all[1].ID, Ref: all[1].Ref}).Updates(Customer{Email: "struct@example.com", Visits: 3}).Error; err != nil {
		t.Fatal(err)
	}
	if got := findByEmail(t, db, "struct@example.com"); len(got) != 1 || got[0].ID != all[1].ID || got[0].Visits != 3 {
		t.Fatalf("after Updates(struct): lookup found %+v", got)
	}
	if got := findByEmail(t, db, batch[1].Email); len(got) != 0 {
		t.Fatalf("old email still found after Updates(struct): %+v", got)
	}
	// Updates with a map, and Update of one column; the caller's map is untouched.
	m := map[string]any{"email": "map@example.com", "name": nil, "score": int64(5)}
	if err := db.Model(&all[2]).Updates(m).Error; err != nil {
		t.Fatal(err)
	}
	if m["email"] != "map@example.com" || len(m) != 3 {
		t.Fatalf("the caller's map was changed: %v", m)
	}
	got := findByEmail(t, db, "MAP@example.com ")
	if len(got) != 1 || got[0].ID != all[2].ID || got[0].Name != nil || got[0].Score != 5 {
		t.Fatalf("after Updates(map): lookup found %+v", got)
	}
	var rawEmail string
	db.Raw("SELECT email FROM customers WHERE id = ?", all[2].ID).Scan(&rawEmail)
	if strings.Contains(rawEmail, "map@") {
		t.Fatal("Updates(map) wrote plaintext")
	}
	if err := db.Model(&all[4]).Update("Email", "single@example.com").Error; err != nil {
		t.Fatal(err)
	}
	if got := findByEmail(t, db, "single@example.com"); len(got) != 1 || got[0].ID != all[4].ID {
		t.Fatalf("after Update: lookup found %+v", got)
	}
	// Select keeps the index in step.
	c5 := all[5]
	c5.Email, c5.Tier = "selected@example.com", "silver"
	if err := db.Select("Email").Updates(&c5).Error; err != nil {
		t.Fatal(err)
	}
	if got := findByEmail(t, db, "selected@example.com"); len(got) != 1 || got[0].Tier != "gold" {
		t.Fatalf("after Select(Email).Updates: lookup found %+v", got)
	}

	// Transactions: a rollback leaves nothing, a commit is read back.
	err := db.Transaction(func(tx *gorm.DB) error {
		x := sample("c-rollback")
		if err := tx.Create(&x).Error; err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil || len(findByEmail(t, db, sample("c-rollback").Email)) != 0 {
		t.Fatalf("rollback: err %v", err)
	}
	if err := db.Transaction(func(tx *gorm.DB) error {
		x := sample("c-commit")
		if err := tx.Create(&x).Error; err != nil {
			return err
		}
		var y Customer
		return tx.First(&y, x.ID).Error
	}); err != nil {
		t.Fatal(err)
	}

	// Raw(...).Scan into the model.
	var viaRaw []Customer
	if err := db.Raw("SELECT * FROM customers WHERE ref = ?", "c-commit").Scan(&viaRaw).Error; err != nil || len(viaRaw) != 1 || viaRaw[0].Email != sample("c-commit").Email {
		t.Fatalf("Raw.Scan: %v %+v", err, viaRaw)
	}

	// Rows with ScanRows.
	rows, err := db.Model(&Customer{}).Where("ref = ?", "c-commit").Rows()
	if err != nil {
		t.Fatal(err)
	}
	var scanned []Customer
	for rows.Next() {
		var x Customer
		if err := gormcrypt.ScanRows(db, rows, &x); err != nil {
			t.Fatalf("ScanRows: %v", err)
		}
		scanned = append(scanned, x)
	}
	rows.Close()
	if len(scanned) != 1 || scanned[0].Email != sample("c-commit").Email {
		t.Fatalf("ScanRows: %+v", scanned)
	}

	// User hooks run and see plaintext.
	h := HookedCustomer{Ref: "c-hook", Email: "  hook@example.com  "}
	if err := db.Create(&h).Error; err != nil {
		t.Fatal(err)
	}
	var hg HookedCustomer
	if err := db.First(&hg, h.ID).Error; err != nil {
		t.Fatal(err)
	}
	if hg.Email != "hook@example.com" || hg.Loaded != "after-find saw hook@example.com" {
		t.Fatalf("hooks: got %+v", hg)
	}
	var hooked []HookedCustomer
	if err := db.Scopes(gormcrypt.WhereEqual(&HookedCustomer{}, "Email", "HOOK@example.com")).Find(&hooked).Error; err != nil || len(hooked) != 1 {
		t.Fatalf("hooked lookup: %v, %d rows", err, len(hooked))
	}

	// A model without a subject field takes it from the context.
	ctx := gormcrypt.WithSubject(context.Background(), "c-00")
	n := Note{Text: "call back on Monday"}
	if err := db.WithContext(ctx).Create(&n).Error; err != nil {
		t.Fatal(err)
	}
	var ng Note
	if err := db.WithContext(ctx).First(&ng, n.ID).Error; err != nil || ng.Text != n.Text {
		t.Fatalf("note: %v %q", err, ng.Text)
	}
	other := gormcrypt.WithSubject(context.Background(), "c-01")
	if err := db.WithContext(other).First(&ng, n.ID).Error; !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("note read as another subject: err = %v, want envelope.ErrDecrypt", err)
	}
}

func testLookups(t *testing.T, b backend) {
	e := setup(t, b)
	ctx := context.Background()
	for i := range 3 {
		c := sample(fmt.Sprintf("c-%d", i))
		c.Email = "shared@example.com" // same email, different customers
		if i == 2 {
			c.Email = "Other@Example.com"
		}
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
		a := Address{CustomerID: c.ID, CustomerRef: c.Ref, Street: "x", Postcode: "00-514"}
		if err := e.db.Create(&a).Error; err != nil {
			t.Fatal(err)
		}
	}
	if got := findByEmail(t, e.db, " SHARED@example.com"); len(got) != 2 || got[0].Ref != "c-0" || got[1].Ref != "c-1" {
		t.Fatalf("blind index across customers: %+v", got)
	}
	col, idx, err := gormcrypt.BlindIndex(ctx, e.db, &Customer{}, "Email", "other@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := e.db.Model(&Customer{}).Where(col+" = ?", idx).Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("BlindIndex: column %s, %d rows, %v", col, n, err)
	}
	if got := findByEmail(t, e.db, "nobody@example.com"); len(got) != 0 {
		t.Fatalf("unknown email found %d rows", len(got))
	}
	// Deterministic column: exact match within one subject.
	var addrs []Address
	sub := gormcrypt.WithSubject(ctx, "c-1")
	if err := e.db.WithContext(sub).Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).Find(&addrs).Error; err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].CustomerRef != "c-1" {
		t.Fatalf("deterministic lookup: %+v", addrs)
	}
	// A randomised column without index cannot be searched; nor a deterministic one without subject.
	err = e.db.Scopes(gormcrypt.WhereEqual(&Address{}, "Street", "x")).Find(&addrs).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("search on randomised column: err = %v, want ErrUnsupported", err)
	}
	err = e.db.Scopes(gormcrypt.WhereEqual(&Address{}, "Postcode", "00-514")).Find(&addrs).Error
	if !errors.Is(err, gormcrypt.ErrNoSubject) {
		t.Fatalf("deterministic search without subject: err = %v, want ErrNoSubject", err)
	}
}

func testForgetStrict(t *testing.T, b backend) {
	e := setup(t, b, gormcrypt.WithStrict())
	ctx := context.Background()
	var ids []uint
	for _, ref := range []string{"c-gone", "c-kept"} {
		c := sample(ref)
		c.Email = ref + "@example.com"
		c.Addresses = []Address{{CustomerRef: ref, Street: "Street of " + ref}}
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	tomb, err := gormcrypt.Forget(ctx, e.db, "c-gone", "erasure ticket T-1")
	if err != nil {
		t.Fatal(err)
	}
	if tomb.Destroyed < 1 || tomb.Reason != "erasure ticket T-1" {
		t.Fatalf("tombstone %+v", tomb)
	}
	var got Customer
	err = e.db.First(&got, ids[0]).Error
	if !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("reading a forgotten customer: err = %v, want keys.ErrKeyDestroyed", err)
	}
	if got.Email != "" || got.Name != nil {
		t.Fatalf("forgotten customer's data leaked: %+v", got)
	}
	var addr []Address
	if err := e.db.Where("customer_ref = ?", "c-gone").Find(&addr).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("reading a forgotten customer's address: err = %v", err)
	}
	// A query over both customers fails as a whole with WithStrict.
	var all []Customer
	if err := e.db.Find(&all).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("Find over all customers: err = %v", err)
	}
	if got := findByEmail(t, e.db, "c-gone@example.com"); len(got) != 0 {
		t.Fatalf("blind index still finds the forgotten customer: %d rows", len(got))
	}
	var idx *string
	e.db.Raw("SELECT email_index FROM customers WHERE id = ?", ids[0]).Scan(&idx)
	if idx != nil {
		t.Fatalf("blind index not cleared: %q", *idx)
	}
	// The other customer is intact.
	kept := findByEmail(t, e.db, "c-kept@example.com")
	if len(kept) != 1 || *kept[0].Name != "Ada c-kept" {
		t.Fatalf("other customer: %+v", kept)
	}
	// Nothing new is written for the forgotten customer.
	again := sample("c-gone-2")
	again.Ref = "c-gone"
	if err := e.db.Model(&Customer{ID: ids[0], Ref: "c-gone"}).Updates(Customer{Email: "new@example.com"}).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("writing for a forgotten customer: err = %v", err)
	}
	// Forget is idempotent.
	if t2, err := gormcrypt.Forget(ctx, e.db, "c-gone", "again"); err != nil || !t2.ForgottenAt.Equal(tomb.ForgottenAt) {
		t.Fatalf("second Forget: %+v, %v", t2, err)
	}
	if _, err := gormcrypt.Forget(ctx, e.db, gormcrypt.BlindIndexSubjectPrefix+"customers.email_index", "x"); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("Forget of a reserved subject: err = %v", err)
	}
}

func testForgetRedacted(t *testing.T, b backend) {
	e := setup(t, b) // redaction is the default
	for _, ref := range []string{"c-gone", "c-kept"} {
		c := sample(ref)
		if err := e.db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gormcrypt.Forget(context.Background(), e.db, "c-gone", "T-2"); err != nil {
		t.Fatal(err)
	}
	var all []Customer
	if err := e.db.Order("ref").Find(&all).Error; err != nil {
		t.Fatalf("redacted read: %v", err)
	}
	gone, kept := all[0], all[1]
	if gone.Email != "" || gone.Name != nil || gone.Score != 0 || gone.Avatar != nil || gone.Tier != "gold" || gone.EmailIndex != nil {
		t.Fatalf("redacted row: %+v", gone)
	}
	if kept.Email != sample("c-kept").Email {
		t.Fatalf("kept row: %+v", kept)
	}
	// Tampering is still an error when redacting.
	e.db.Exec("UPDATE customers SET email = name WHERE ref = ?", "c-kept")
	if err := e.db.Order("ref").Find(&all).Error; !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("tampered row while redacting: err = %v", err)
	}
}

// Models with mistakes; each must be refused before anything is written.
type (
	badTypo struct {
		ID    uint
		Ref   string `fieldcrypt:"subjcet"`
		Email string `gorm:"serializer:encrypt"`
	}
	badType struct {
		ID    uint
		Ref   string  `fieldcrypt:"subject"`
		Ratio float64 `gorm:"serializer:encrypt"`
	}
	badToken struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `fieldcrypt:"token:card"`
	}
	badTokenFormat struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token:visa"`
	}
	badTokenType struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card int64  `gorm:"serializer:token;type:text" fieldcrypt:"token:card"`
	}
	badTokenScope struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token:card;scope:tenant"`
	}
	badOrder struct {
		ID    uint
		Email string `gorm:"serializer:encrypt"`
		Ref   string `fieldcrypt:"subject"`
	}
	badIndexSource struct {
		ID    uint
		Ref   string  `fieldcrypt:"subject"`
		Email string  // not encrypted
		Index *string `fieldcrypt:"blind_index:Email"`
	}
	badIndexNoSubject struct {
		ID    uint
		Email string  `gorm:"serializer:encrypt"`
		Index *string `fieldcrypt:"blind_index:Email"`
	}
	badTagSyntax struct {
		ID   uint
		Ref  string `fieldcrypt:"subject"`
		Card string `gorm:"serializer:token" fieldcrypt:"token=card"`
	}
	badNormalize struct {
		ID    uint
		Ref   string  `fieldcrypt:"subject"`
		Email string  `gorm:"serializer:encrypt"`
		Index *string `fieldcrypt:"blind_index:Email;normalize:upper"`
	}
)

func testBadInput(t *testing.T, b backend) {
	e := setup(t, b)
	for _, m := range []struct {
		model any
		want  string
	}{
		{&badTypo{}, `unknown fieldcrypt tag key "subjcet"`},
		{&badType{}, "unsupported type float64"},
		{&badToken{}, `token column needs gorm:"serializer:token"`},
		{&badTokenFormat{}, `unknown token format "visa"`},
		{&badTokenType{}, "a token column must be a string"},
		{&badTokenScope{}, `unknown token scope "tenant"`},
		{&badOrder{}, "subject field must be declared before"},
		{&badIndexSource{}, "not an encrypted field"},
		{&badIndexNoSubject{}, "needs a fieldcrypt:\"subject\" field"},
		{&badNormalize{}, `unknown normalize "upper"`},
		{&badTagSyntax{}, `write token:card`},
	} {
		_, err := install(openGorm(t, freshSQLite(t)), e.kr, gormcrypt.WithModels(m.model))
		if !errors.Is(err, gormcrypt.ErrInvalidModel) || !strings.Contains(err.Error(), m.want) {
			t.Errorf("db.Use(New(WithModels(%T))): err = %v, want ErrInvalidModel mentioning %q", m.model, err, m.want)
		}
		// First use through a registered DB fails the same way, writing nothing.
		if err := e.db.AutoMigrate(m.model); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Create(m.model).Error; !errors.Is(err, gormcrypt.ErrInvalidModel) {
			t.Errorf("Create(%T): err = %v, want ErrInvalidModel", m.model, err)
		}
		var n int64
		e.db.Model(m.model).Count(&n)
		if n != 0 {
			t.Errorf("%T: %d rows written", m.model, n)
		}
	}

	// Missing subject: a customer without Ref, a note without context.
	if err := e.db.Create(&Customer{Email: "x@example.com"}).Error; !errors.Is(err, gormcrypt.ErrNoSubject) {
		t.Errorf("Create without subject: err = %v, want ErrNoSubject", err)
	}
	if err := e.db.Create(&Note{Text: "x"}).Error; !errors.Is(err, gormcrypt.ErrNoSubject) {
		t.Errorf("Create note without subject: err = %v, want ErrNoSubject", err)
	}
	if err := e.db.Create(&Customer{Ref: "fieldcrypt/x", Email: "x"}).Error; !errors.Is(err, keys.ErrInvalidSubject) {
		t.Errorf("Create with a reserved subject: err = %v, want keys.ErrInvalidSubject", err)
	}
	// Bulk map update without a subject.
	if err := e.db.Model(&Customer{}).Where("tier = ?", "gold").Update("email", "x").Error; !errors.Is(err, gormcrypt.ErrNoSubject) {
		t.Errorf("bulk Update without subject: err = %v, want ErrNoSubject", err)
	}
	// Create from a map is refused rather than written in clear.
	err := e.db.Model(&Customer{}).Create(map[string]any{"ref": "c-map", "email": "map@example.com"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("Create from a map: err = %v, want ErrUnsupported", err)
	}
	// So is writing an encrypted column through Table() without the model.
	err = e.db.Table("customers").Create(map[string]any{"ref": "c-map", "email": "map@example.com"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("Table().Create from a map: err = %v, want ErrUnsupported", err)
	}
	err = e.db.Table("customers").Where("ref = ?", "c-1").Updates(map[string]any{"email": "map@example.com"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("Table().Updates with a map: err = %v, want ErrUnsupported", err)
	}
	// Setting a blind index or the subject through a map is refused.
	c := sample("c-1")
	if err := e.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Model(&c).Updates(map[string]any{"email_index": "00"}).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("setting a blind index: err = %v", err)
	}
	// Moving a row to another subject is refused, by map or by struct.
	if err := e.db.Model(&c).Updates(map[string]any{"ref": "c-2"}).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("changing the subject by map: err = %v", err)
	}
	if err := e.db.Model(&c).Updates(Customer{Ref: "c-2"}).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Errorf("changing the subject by struct: err = %v", err)
	}
	// A value of the wrong type in a map update.
	if err := e.db.Model(&c).Updates(map[string]any{"score": "many"}).Error; !errors.Is(err, gormcrypt.ErrInvalidModel) {
		t.Errorf("wrong type in map update: err = %v", err)
	}
	var n int64
	e.db.Model(&Customer{}).Count(&n)
	if n != 1 {
		t.Errorf("%d customers written, want 1", n)
	}

	// A *gorm.DB without Register refuses encrypted columns.
	plain := openGorm(t, freshSQLite(t))
	if err := plain.AutoMigrate(&Note{}); err != nil {
		t.Fatal(err)
	}
	if err := plain.WithContext(gormcrypt.WithSubject(context.Background(), "c-1")).Create(&Note{Text: "secret"}).Error; !errors.Is(err, gormcrypt.ErrNotRegistered) {
		t.Errorf("Create without Register: err = %v, want ErrNotRegistered", err)
	}
	var cnt int64
	plain.Model(&Note{}).Count(&cnt)
	if cnt != 0 {
		t.Errorf("unregistered DB wrote %d rows", cnt)
	}
	// A model first seen in a query (not given to WithModels) with an integer
	// column is refused unless the column is declared as text.
	type lazyInt struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Score int64  `gorm:"serializer:encrypt"`
	}
	type lazyText struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Score int64  `gorm:"serializer:encrypt;type:text"`
	}
	if err := e.db.Create(&lazyInt{Ref: "c-1", Score: 1}).Error; !errors.Is(err, gormcrypt.ErrInvalidModel) || !strings.Contains(err.Error(), "type:text") {
		t.Errorf("lazy integer column: err = %v, want ErrInvalidModel naming type:text", err)
	}
	if err := e.db.AutoMigrate(&lazyText{}); err != nil {
		t.Fatal(err)
	}
	lt := lazyText{Ref: "c-1", Score: -1}
	if err := e.db.Create(&lt).Error; err != nil {
		t.Fatal(err)
	}
	var ltGot lazyText
	if err := e.db.First(&ltGot, lt.ID).Error; err != nil || ltGot.Score != -1 {
		t.Errorf("lazy text column: %v, %d", err, ltGot.Score)
	}
	// A query decrypts once the row is scanned, so the subject may come
	// last; ScanRows decrypts column by column, where it is an error, not a
	// misread.
	var sel Customer
	if err := e.db.Select("email", "ref").First(&sel, c.ID).Error; err != nil || sel.Email != c.Email {
		t.Errorf("subject selected last: err = %v, email %q, want %q", err, sel.Email, c.Email)
	}
	if rows, err := e.db.Model(&Customer{}).Select("email", "ref").Where("id = ?", c.ID).Rows(); err != nil {
		t.Error(err)
	} else {
		var sc Customer
		for rows.Next() {
			if err := gormcrypt.ScanRows(e.db, rows, &sc); !errors.Is(err, gormcrypt.ErrNoSubject) {
				t.Errorf("ScanRows, subject selected last: err = %v, want ErrNoSubject", err)
			}
		}
		rows.Close()
	}
	// Registering twice on one DB fails.
	if _, err := install(e.db, e.kr); err == nil {
		t.Error("second Register on one DB succeeded")
	}
}

func testConcurrent(t *testing.T, b backend) {
	e := setup(t, b)
	const workers, each = 4, 10
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				for i := range each {
					c := sample(fmt.Sprintf("w%d-%d", w, i))
					if err := e.db.Create(&c).Error; err != nil {
						return err
					}
					var got Customer
					if err := e.db.Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", c.Email)).First(&got).Error; err != nil {
						return err
					}
					if got.Ref != c.Ref || *got.Name != *c.Name {
						return fmt.Errorf("got %s, want %s", got.Ref, c.Ref)
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewRefusesNil(t *testing.T) {
	// Bad configuration is an error from New, never a panic.
	if _, err := gormcrypt.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, err := gormcrypt.New(newKeyring(t), gormcrypt.WithModels(), nil); err == nil {
		t.Fatal("New with a nil Option succeeded")
	}
	if _, err := gormcrypt.New(newKeyring(t), gormcrypt.WithPurpose("Not A Purpose")); !errors.Is(err, keys.ErrInvalidPurpose) {
		t.Fatalf("New with a bad purpose: %v", err)
	}
}
