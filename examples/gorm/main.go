// Command gorm shows fieldcrypt's GORM integration on a small shop:
// customers, their addresses, orders and payment cards, with personal
// columns encrypted under each customer's own key and the email searchable
// through a blind index. It creates two customers, finds one by email,
// handles an erasure request for her and shows that her data can no longer
// be read while the other customer's can.
//
//	go run ./examples/gorm [-data DIR]            # SQLite shop and keystore under DIR
//	go run ./examples/gorm -dsn postgres://...    # PostgreSQL shop and keystore (or FIELDCRYPT_GORM_DSN)
//
// The root key file always lives in the data directory. With PostgreSQL
// the shop tables and the keystore are created in the first schema of the
// search_path; add "&search_path=myschema" to the DSN to keep them apart.
// Each run creates new customers, so runs can be repeated.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	pgstore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// Customer is a shop customer. Ref is the data subject: the identifier the
// keystore knows them by, declared before the encrypted columns.
type Customer struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Name       string  `gorm:"serializer:encrypt"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email;normalize:lower"`
	Phone      *string `gorm:"serializer:encrypt"`
	CreatedAt  time.Time
	Addresses  []Address
	Orders     []Order
	Cards      []PaymentCard
}

// Address is a delivery address; the postcode is deterministic, so a
// customer's addresses can be matched by postcode.
type Address struct {
	ID          uint
	CustomerID  uint
	CustomerRef string `gorm:"size:64;index" fieldcrypt:"subject"`
	Street      string `gorm:"serializer:encrypt"`
	City        string `gorm:"serializer:encrypt"`
	Postcode    string `gorm:"serializer:encrypt_det"`
}

// Order keeps what accounting needs in clear and the shipping address
// encrypted.
type Order struct {
	ID          uint
	CustomerID  uint
	CustomerRef string `gorm:"size:64;index" fieldcrypt:"subject"`
	Number      string `gorm:"size:32;uniqueIndex"`
	TotalCents  int64
	PlacedAt    time.Time
	ShipTo      string `gorm:"serializer:encrypt"`
}

// PaymentCard holds a card number as a format-preserving token: the column
// keeps a 16-digit, Luhn-invalid number with the real last four digits, so
// a legacy schema and a "card ending in 1111" display keep working.
type PaymentCard struct {
	ID          uint
	CustomerID  uint
	CustomerRef string    `gorm:"size:64;index" fieldcrypt:"subject"`
	Number      string    `gorm:"serializer:token;size:32" fieldcrypt:"token:card"`
	Expiry      time.Time `gorm:"serializer:encrypt"`
}

func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "fieldcrypt-gorm")
	}
	return filepath.Join(os.TempDir(), "fieldcrypt-gorm")
}

func main() {
	dataDir := flag.String("data", defaultDataDir(), "directory for the root key file (and, without -dsn, the SQLite shop and keystore)")
	dsn := flag.String("dsn", os.Getenv("FIELDCRYPT_GORM_DSN"), "PostgreSQL DSN for the shop and the keystore (default: $FIELDCRYPT_GORM_DSN, else SQLite)")
	flag.Parse()
	if err := run(context.Background(), *dataDir, *dsn); err != nil {
		fmt.Fprintln(os.Stderr, "gorm example:", err)
		os.Exit(1)
	}
}

func open(ctx context.Context, dataDir, dsn string) (*gorm.DB, *sqlstore.Store, string, error) {
	cfg := &gorm.Config{Logger: logger.Discard}
	if dsn != "" {
		store, err := pgstore.Open(ctx, dsn)
		if err != nil {
			return nil, nil, "", err
		}
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			store.Close()
			return nil, nil, "", err
		}
		return db, store, "PostgreSQL (shop tables and keystore in the same database)", nil
	}
	store, err := sqlitestore.Open(ctx, filepath.Join(dataDir, "keys.db"))
	if err != nil {
		return nil, nil, "", err
	}
	shop := filepath.Join(dataDir, "shop.db")
	db, err := gorm.Open(sqlite.Open(shop+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), cfg)
	if err != nil {
		store.Close()
		return nil, nil, "", err
	}
	return db, store, "SQLite: shop " + shop + ", keystore " + filepath.Join(dataDir, "keys.db"), nil
}

func run(ctx context.Context, dataDir, dsn string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	root, err := localkms.OpenFile(filepath.Join(dataDir, "root.key"))
	if err != nil {
		return err
	}
	db, store, where, err := open(ctx, dataDir, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		return err
	}
	models := []any{&Customer{}, &Address{}, &Order{}, &PaymentCard{}}
	plugin, err := gormcrypt.New(kr, gormcrypt.WithModels(models...), gormcrypt.WithStrict()) // Strict: step 4 shows the refusal
	if err != nil {
		return err
	}
	if err := db.Use(plugin); err != nil {
		return err
	}
	if err := db.AutoMigrate(models...); err != nil {
		return err
	}
	fmt.Printf("database: %s\nroot key: %s\n\n", where, filepath.Join(dataDir, "root.key"))

	// Each run uses new customers, since a forgotten one stays forgotten.
	var id [4]byte
	rand.Read(id[:])
	run := hex.EncodeToString(id[:])
	ada, grace := newCustomer(run, "ada", "Ada Lovelace", "Ada.Lovelace@example.com"), newCustomer(run, "grace", "Grace Hopper", "grace.hopper@example.com")

	// 1. Create: one transaction, associations included.
	fmt.Println("1. create two customers with an address, an order and a card each")
	if err := db.Transaction(func(tx *gorm.DB) error { return tx.Create([]*Customer{ada, grace}).Error }); err != nil {
		return err
	}
	var raw struct{ Ref, Name, Email, EmailIndex string }
	if err := db.Raw("SELECT ref, name, email, email_index FROM customers WHERE id = ?", ada.ID).Scan(&raw).Error; err != nil {
		return err
	}
	fmt.Printf("   what the database holds for %s:\n", raw.Ref)
	fmt.Printf("     name        %s…\n     email       %s…\n     email_index %s (blind index)\n\n", raw.Name[:40], raw.Email[:40], raw.EmailIndex)

	// 2. Query by blind index: no decryption of the table, across customers.
	lookup := "  ADA.LOVELACE@example.com "
	fmt.Printf("2. find the customer whose email is %q (normalised: trimmed, lower-cased)\n", lookup)
	var found Customer
	err = db.WithContext(ctx).Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", lookup)).
		Preload("Addresses").Preload("Orders").Preload("Cards").First(&found).Error
	if err != nil {
		return err
	}
	fmt.Printf("   %s: %s <%s>, phone %s\n", found.Ref, found.Name, found.Email, *found.Phone)
	fmt.Printf("   address: %s, %s %s\n", found.Addresses[0].Street, found.Addresses[0].Postcode, found.Addresses[0].City)
	fmt.Printf("   order %s: %.2f PLN, ship to %s\n", found.Orders[0].Number, float64(found.Orders[0].TotalCents)/100, found.Orders[0].ShipTo)
	var storedCard string
	if err := db.Raw("SELECT number FROM payment_cards WHERE id = ?", found.Cards[0].ID).Scan(&storedCard).Error; err != nil {
		return err
	}
	fmt.Printf("   card: %s, expires %s (stored as the token %s)\n\n", found.Cards[0].Number,
		found.Cards[0].Expiry.Format("01/06"), storedCard)

	// 3. The erasure request.
	t, err := gormcrypt.Forget(ctx, db, ada.Ref, "erasure request GORM-1")
	if err != nil {
		return err
	}
	fmt.Printf("3. erasure request for %s: %d key version(s) destroyed, blind index values cleared (reason %q)\n\n",
		ada.Ref, t.Destroyed, t.Reason)

	// 4. Reads refused; the other customer intact.
	fmt.Println("4. read again")
	err = db.First(&Customer{}, ada.ID).Error
	if !errors.Is(err, keys.ErrKeyDestroyed) {
		return fmt.Errorf("reading %s after Forget: got %v, want keys.ErrKeyDestroyed", ada.Ref, err)
	}
	fmt.Printf("   %s's customer row: refused (%v)\n", ada.Ref, keys.ErrKeyDestroyed)
	if err := db.Where("customer_ref = ?", ada.Ref).Find(&[]PaymentCard{}).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
		return fmt.Errorf("reading %s's cards after Forget: got %v, want keys.ErrKeyDestroyed", ada.Ref, err)
	}
	fmt.Printf("   %s's payment cards: refused\n", ada.Ref)
	var n int64
	if err := db.WithContext(ctx).Model(&Customer{}).Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", lookup)).Count(&n).Error; err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("lookup by the forgotten email found %d rows", n)
	}
	fmt.Printf("   lookup by %q: %d rows\n", lookup, n)
	var totals []struct {
		Number     string
		TotalCents int64
	}
	db.Model(&Order{}).Where("customer_ref = ?", ada.Ref).Select("number, total_cents").Scan(&totals)
	fmt.Printf("   %s's order totals (kept in clear for accounting): %d order(s), %.2f PLN\n",
		ada.Ref, len(totals), float64(totals[0].TotalCents)/100)
	var other Customer
	if err := db.WithContext(ctx).Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", grace.Email)).First(&other).Error; err != nil {
		return fmt.Errorf("reading the other customer: %w", err)
	}
	fmt.Printf("   %s is intact: %s <%s>\n", other.Ref, other.Name, other.Email)
	fmt.Println("\ndone: create -> query by blind index -> erasure request -> reads refused")
	return nil
}

func newCustomer(run, who, name, email string) *Customer {
	ref := who + "-" + run
	phone := "+48 600 100 200"
	return &Customer{
		Ref: ref, Name: name, Email: email, Phone: &phone,
		Addresses: []Address{{CustomerRef: ref, Street: "ul. Marszałkowska 84/92", City: "Warszawa", Postcode: "00-514"}},
		Orders: []Order{{CustomerRef: ref, Number: "ORD-" + ref, TotalCents: 12999,
			PlacedAt: time.Now().UTC().Truncate(time.Second), ShipTo: "ul. Marszałkowska 84/92, 00-514 Warszawa"}},
		Cards: []PaymentCard{{CustomerRef: ref, Number: "4111 1111 1111 1111",
			Expiry: time.Date(2029, 8, 1, 0, 0, 0, 0, time.UTC)}},
	}
}
