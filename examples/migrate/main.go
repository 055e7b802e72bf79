// Command migrate adopts fieldcrypt on a shop table that already holds
// customers in clear, the way a live service would: the encrypted model is
// deployed with its columns marked migrating (reads accept plaintext and
// ciphertext, writes always encrypt; the card column becomes a token column
// with a token marker beside it), a backfill protects the old rows in
// batches with progress, the finish check counts what is left in clear,
// and the model without the flag is deployed, with its CHECK constraints.
//
//	go run ./examples/migrate [-data DIR] [-rows N]
//
// By default the SQLite shop, keystore and root key live in a new
// temporary directory, removed at the end; with -data they stay in DIR.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// LegacyCustomer is the shop's table before fieldcrypt.
type LegacyCustomer struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex"`
	Name  string
	Email string
	Phone *string
	Card  string `gorm:"size:19"`
}

// MigratingCustomer is the first deployment: the encrypted model with its
// columns marked migrating, a new blind index column for email lookups, and
// the card number becoming a token column: a token looks like a card
// number, so a new marker column, declared before it, says per row whether
// it holds a token yet.
type MigratingCustomer struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Name       string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	Email      string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      *string `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	// CardTokenized is the token marker, added NULL by AutoMigrate.
	CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
	Card          string `gorm:"size:19;serializer:token" fieldcrypt:"token:card;migrating"`
}

// Customer is the final deployment, once no plaintext is left: the flag is
// gone, so a plaintext value is an error and AutoMigrate adds the CHECK
// constraints.
type Customer struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Name       string  `gorm:"serializer:encrypt"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      *string `gorm:"serializer:encrypt"`
	Card       string  `gorm:"size:19;serializer:token" fieldcrypt:"token:card"`
}

func (LegacyCustomer) TableName() string    { return "customers" }
func (MigratingCustomer) TableName() string { return "customers" }
func (Customer) TableName() string          { return "customers" }

func main() {
	dataDir := flag.String("data", "", "directory for the shop, keystore and root key (default: a new temporary directory, removed at the end)")
	rows := flag.Int("rows", 5000, "plaintext customers to start with")
	flag.Parse()
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fieldcrypt-migrate-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "migrate:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := run(context.Background(), dir, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func openShop(dir string) (*gorm.DB, error) {
	dsn := filepath.Join(dir, "shop.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	return gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
}

func run(ctx context.Context, dir string, rows int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fmt.Printf("data directory: %s\n\n", dir)

	// 0. The shop as it is: customers in clear.
	legacy, err := openShop(dir)
	if err != nil {
		return err
	}
	if err := legacy.AutoMigrate(&LegacyCustomer{}); err != nil {
		return err
	}
	var have int64
	if err := legacy.Model(&LegacyCustomer{}).Count(&have).Error; err != nil {
		return err
	}
	if have == 0 {
		batch := make([]LegacyCustomer, 0, rows)
		for i := range rows {
			phone := fmt.Sprintf("+48 600 %06d", i)
			batch = append(batch, LegacyCustomer{Ref: fmt.Sprintf("customer-%d", i), Name: fmt.Sprintf("Customer %d", i),
				Email: fmt.Sprintf("customer%d@example.com", i), Phone: &phone, Card: cardNumber(i)})
		}
		if err := legacy.CreateInBatches(batch, 500).Error; err != nil {
			return err
		}
	}
	var sample struct{ Email string }
	legacy.Raw("SELECT email FROM customers ORDER BY id LIMIT 1").Scan(&sample)
	if have == 0 {
		fmt.Printf("0. the shop holds %d customers in clear; the first email column reads %q\n", rows, sample.Email)
	} else {
		fmt.Printf("0. the shop holds %d customers from an earlier run (the steps are idempotent)\n", have)
	}

	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "keys.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	root, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		return err
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		return err
	}
	defer kr.Close()

	// 1. Deploy the encrypted model with the migrating flag.
	db, err := openShop(dir)
	if err != nil {
		return err
	}
	p, err := gormcrypt.New(kr, gormcrypt.WithModels(&MigratingCustomer{}))
	if err != nil {
		return err
	}
	defer p.Close()
	if err := db.Use(p); err != nil {
		return err
	}
	if err := db.AutoMigrate(&MigratingCustomer{}); err != nil {
		return err
	}
	db = db.WithContext(ctx)
	var c MigratingCustomer
	if err := db.Where("ref = ?", "customer-1").Take(&c).Error; err != nil {
		return err
	}
	c.Email = "new-address@example.com"
	if err := db.Save(&c).Error; err != nil { // written encrypted, with its blind index
		return err
	}
	fmt.Printf("1. migrating flag on: customer-1 read from plaintext (%s, card %s), saved with a new email: now encrypted and its card tokenized\n",
		c.Name, c.Card)

	// 2. Backfill, with progress.
	pr, err := gormcrypt.Backfill(ctx, db, &MigratingCustomer{}, gormcrypt.BackfillOptions{BatchSize: 1000,
		Progress: func(p gormcrypt.BackfillProgress) {
			fmt.Printf("   backfill: %d/%d rows, %d protected, %.0f rows/s, ETA %s\n",
				p.Scanned, p.Total, p.Updated, p.RowsPerSecond, p.ETA.Round(1e6))
		}})
	if err != nil {
		return err
	}
	fmt.Printf("2. backfill done: %d rows read, %d protected, %d left to concurrent writers\n", pr.Scanned, pr.Updated, pr.Skipped)

	// 3. The finish check: the evidence for removing the flag.
	left, err := gormcrypt.CountPlaintext(ctx, db, &MigratingCustomer{})
	if err != nil {
		return err
	}
	var cols []string
	for col, n := range left {
		if n != 0 {
			return fmt.Errorf("%d plaintext values left in %s", n, col)
		}
		cols = append(cols, col)
	}
	fmt.Printf("3. finish check: no plaintext left in %s\n", strings.Join(sortStrings(cols), ", "))

	// 4. Deploy the model without the flag: CHECK constraints, and
	//    plaintext is an error.
	final, err := openShop(dir)
	if err != nil {
		return err
	}
	p2, err := gormcrypt.New(kr, gormcrypt.WithModels(&Customer{}))
	if err != nil {
		return err
	}
	defer p2.Close()
	if err := final.Use(p2); err != nil {
		return err
	}
	if err := final.AutoMigrate(&Customer{}); err != nil {
		return err
	}
	final = final.WithContext(ctx)
	var found Customer
	if err := final.Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", "Customer7@Example.com")).Take(&found).Error; err != nil {
		return err
	}
	var card struct{ Card string }
	legacy.Raw("SELECT card FROM customers WHERE ref = ?", "customer-7").Scan(&card)
	fmt.Printf("4. flag removed: customer-7's card reads %s; the table holds the token %s\n", found.Card, card.Card)
	legacy.Raw("SELECT email FROM customers ORDER BY id LIMIT 1").Scan(&sample)
	fmt.Printf("   flag removed: found %s by email through its blind index; the first email column now reads %q…\n",
		found.Ref, sample.Email[:24])
	err = legacy.Exec("UPDATE customers SET email = ? WHERE ref = ?", "written-around@example.com", "customer-2").Error
	fmt.Printf("   a plaintext written around the plugin is refused by the database: %t\n", err != nil)
	if err == nil {
		return errors.New("the CHECK constraint did not refuse plaintext")
	}
	return nil
}

// cardNumber makes a test card number (prefix 4111, Luhn-valid) for
// customer i.
func cardNumber(i int) string {
	s := fmt.Sprintf("4111%011d", i)
	sum := 0
	for j := len(s) - 1; j >= 0; j-- {
		d := int(s[j] - '0')
		if (len(s)-1-j)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + string(rune('0'+(10-sum%10)%10))
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
