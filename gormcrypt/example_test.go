package gormcrypt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// Shopper is a model with an encrypted, blind-indexed email.
type Shopper struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      *string `gorm:"serializer:encrypt"`
	Forgotten  bool    `gorm:"-" fieldcrypt:"forgotten"` // set on read when values were redacted
}

// Example shows the whole life of a customer on the embedded default: a
// root key file and a SQLite keystore next to a SQLite shop database.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gormcrypt-example")
	defer os.RemoveAll(dir)

	root, _ := localkms.OpenFile(filepath.Join(dir, "root.key"))
	store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "keys.db"))
	defer store.Close()
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})

	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "shop.db")), &gorm.Config{Logger: logger.Discard})
	plugin, err := gormcrypt.New(kr, gormcrypt.WithModels(&Shopper{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := db.Use(plugin); err != nil {
		fmt.Println(err)
		return
	}
	defer plugin.Close() // stops the background erasure (see Plugin)
	db.AutoMigrate(&Shopper{})

	phone := "+48 600 100 200"
	db.Create(&Shopper{Ref: "customer-42", Email: "ada@example.com", Phone: &phone})

	var raw string
	db.Raw("SELECT email FROM shoppers").Scan(&raw)
	fmt.Println("plaintext in the database:", raw == "ada@example.com")

	var s Shopper
	db.Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", " Ada@Example.com")).First(&s)
	fmt.Println("found by email:", s.Ref, s.Email, *s.Phone)

	gormcrypt.Forget(ctx, db, "customer-42", "erasure ticket 1001")
	var gone Shopper
	db.First(&gone, s.ID)
	fmt.Printf("read after Forget: %q forgotten=%v\n", gone.Email, gone.Forgotten)
	var n int64
	db.Model(&Shopper{}).Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", "ada@example.com")).Count(&n)
	fmt.Println("found by email after Forget:", n)
	// Output:
	// plaintext in the database: false
	// found by email: customer-42 ada@example.com +48 600 100 200
	// read after Forget: "" forgotten=true
	// found by email after Forget: 0
}

// ExampleWithSubject encrypts a model that has no subject field: the
// context names the customer.
func ExampleWithSubject() {
	type Note struct {
		ID   uint
		Text string `gorm:"serializer:encrypt"`
	}
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gormcrypt-example")
	defer os.RemoveAll(dir)
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "keys.db"))
	defer store.Close()
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "shop.db")), &gorm.Config{Logger: logger.Discard})
	plugin, _ := gormcrypt.New(kr, gormcrypt.WithModels(&Note{}))
	db.Use(plugin)
	db.AutoMigrate(&Note{})

	as42 := db.WithContext(gormcrypt.WithSubject(ctx, "customer-42"))
	as42.Create(&Note{Text: "call back on Monday"})
	var n Note
	as42.First(&n)
	fmt.Println(n.Text)

	err := db.First(&Note{}).Error
	fmt.Println("without a subject:", errors.Is(err, gormcrypt.ErrNoSubject))
	// Output:
	// call back on Monday
	// without a subject: true
}

// openShop opens a temporary shop database with gormcrypt registered; the
// returned function removes it.
func openShop(opts ...gormcrypt.Option) (*gorm.DB, func()) {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gormcrypt-example")
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "keys.db"))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "shop.db")), &gorm.Config{Logger: logger.Discard})
	plugin, err := gormcrypt.New(kr, append(opts, gormcrypt.WithModels(&Shopper{}))...)
	if err != nil {
		panic(err)
	}
	if err := db.Use(plugin); err != nil {
		panic(err)
	}
	db.AutoMigrate(&Shopper{})
	return db, func() {
		plugin.Close()
		if s, err := db.DB(); err == nil {
			s.Close()
		}
		store.Close()
		os.RemoveAll(dir)
	}
}

// ExampleBlindIndex computes the value to compare with the blind index
// column, for queries WhereEqual cannot express.
func ExampleBlindIndex() {
	ctx := context.Background()
	db, done := openShop()
	defer done()
	db.Create(&Shopper{Ref: "customer-1", Email: "ada@example.com"})
	db.Create(&Shopper{Ref: "customer-2", Email: "grace@example.com"})

	col, idx, _ := gormcrypt.BlindIndex(ctx, db, &Shopper{}, "Email", "ADA@example.com")
	var refs []string
	db.Model(&Shopper{}).Where(col+" = ? OR ref = ?", idx, "customer-2").Order("ref").Pluck("ref", &refs)
	fmt.Println(col, len(idx), refs)
	// Output:
	// email_index 32 [customer-1 customer-2]
}

// Example_forgotten reads a list that includes a forgotten customer:
// their encrypted columns read as zero values, the row is marked, and the
// others read as usual.
func Example_forgotten() {
	ctx := context.Background()
	db, done := openShop()
	defer done()
	phone := "+48 600 100 200"
	db.Create(&Shopper{Ref: "customer-1", Email: "ada@example.com", Phone: &phone})
	db.Create(&Shopper{Ref: "customer-2", Email: "grace@example.com"})
	gormcrypt.Forget(ctx, db, "customer-1", "erasure ticket 7")

	var all []Shopper
	err := db.Order("ref").Find(&all).Error
	fmt.Println("error:", err)
	for _, s := range all {
		fmt.Printf("%s %q phone=%v index=%v forgotten=%v\n", s.Ref, s.Email, s.Phone != nil, s.EmailIndex != nil, s.Forgotten)
	}
	// Output:
	// error: <nil>
	// customer-1 "" phone=false index=false forgotten=true
	// customer-2 "grace@example.com" phone=false index=true forgotten=false
}

// ExampleStrict makes reads of a forgotten customer fail instead.
func ExampleWithStrict() {
	ctx := context.Background()
	db, done := openShop(gormcrypt.WithStrict())
	defer done()
	db.Create(&Shopper{Ref: "customer-1", Email: "ada@example.com"})
	db.Create(&Shopper{Ref: "customer-2", Email: "grace@example.com"})
	gormcrypt.Forget(ctx, db, "customer-1", "erasure ticket 8")

	var all []Shopper
	err := db.Find(&all).Error
	fmt.Println("list refused:", errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// list refused: true
}

// ExampleScanRows reads encrypted rows one at a time.
func ExampleScanRows() {
	db, done := openShop()
	defer done()
	db.Create(&Shopper{Ref: "customer-1", Email: "ada@example.com"})
	db.Create(&Shopper{Ref: "customer-2", Email: "grace@example.com"})

	rows, err := db.Model(&Shopper{}).Order("ref").Rows()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var s Shopper
		if err := gormcrypt.ScanRows(db, rows, &s); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(s.Ref, s.Email)
	}
	// Output:
	// customer-1 ada@example.com
	// customer-2 grace@example.com
}

// Example_otherService shows two services with databases of their own on
// one keystore: a Forget through one clears the other's blind index in
// the background, so its lookups stop finding the customer too.
func Example_otherService() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gormcrypt-example")
	defer os.RemoveAll(dir)
	root, _ := localkms.OpenFile(filepath.Join(dir, "root.key"))

	var stop []func()
	defer func() {
		for _, f := range stop {
			f()
		}
	}()
	service := func(name string) *gorm.DB {
		store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "keys.db")) // the shared keystore
		kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: store})
		db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, name+".db")), &gorm.Config{Logger: logger.Discard})
		plugin, _ := gormcrypt.New(kr, gormcrypt.WithModels(&Shopper{}), gormcrypt.WithSweepEvery(time.Hour))
		db.Use(plugin)
		db.AutoMigrate(&Shopper{})
		stop = append(stop, func() { plugin.Close(); kr.Close(); store.Close() })
		return db
	}
	billing, support := service("billing"), service("support")
	billing.Create(&Shopper{Ref: "customer-7", Email: "ada@example.com"})
	support.Create(&Shopper{Ref: "customer-7", Email: "ada@example.com"})

	found := func() (n int64) {
		support.Model(&Shopper{}).Scopes(gormcrypt.WhereEqual(&Shopper{}, "Email", "ada@example.com")).Count(&n)
		return n
	}
	fmt.Println("support finds her:", found())
	gormcrypt.Forget(ctx, billing, "customer-7", "erasure ticket 9")
	for deadline := time.Now().Add(5 * time.Second); found() != 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("after billing's Forget, support finds her:", found())
	// Output:
	// support finds her: 1
	// after billing's Forget, support finds her: 0
}

// LegacyShopper and MigratingShopper are one table before and during
// the adoption of fieldcrypt.
type LegacyShopper struct {
	ID    uint
	Ref   string
	Email string
}

type MigratingShopper struct {
	ID         uint
	Ref        string  `fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
}

func (LegacyShopper) TableName() string    { return "adopted_shoppers" }
func (MigratingShopper) TableName() string { return "adopted_shoppers" }

// ExampleBackfill adopts fieldcrypt on a table that holds plaintext: the
// migrating tag lets reads accept it, Backfill protects it, and
// CountPlaintext shows that nothing is left before the tag is removed.
func ExampleBackfill() {
	ctx := context.Background()
	db, done := openShop()
	defer done()
	db.AutoMigrate(&LegacyShopper{})
	db.Create(&[]LegacyShopper{{Ref: "customer-1", Email: "ada@example.com"}, {Ref: "customer-2", Email: "grace@example.com"}})

	db.AutoMigrate(&MigratingShopper{}) // adds email_index
	var s MigratingShopper
	db.Where("ref = ?", "customer-2").Take(&s)
	fmt.Println("read from plaintext:", s.Email)

	pr, err := gormcrypt.Backfill(ctx, db, &MigratingShopper{}, gormcrypt.BackfillOptions{})
	fmt.Println("protected:", pr.Updated, err)
	left, _ := gormcrypt.CountPlaintext(ctx, db, &MigratingShopper{})
	fmt.Println("plaintext left:", left)
	// Output:
	// read from plaintext: grace@example.com
	// protected: 2 <nil>
	// plaintext left: map[email:0]
}

// AdoptedShopper is adopted_shoppers with the final tags; WithMigrating
// marks its fields migrating until the backfill is done.
type AdoptedShopper struct {
	ID    uint
	Ref   string `fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt"`
}

func (AdoptedShopper) TableName() string { return "adopted_shoppers" }

// ExampleWithMigrating marks a model's encrypted fields migrating from the
// configuration rather than its tags, so the final model can be deployed
// at once and the option removed once CountPlaintext reports zero.
func ExampleWithMigrating() {
	ctx := context.Background()
	db, done := openShop(gormcrypt.WithMigrating(&AdoptedShopper{}, "Email"))
	defer done()
	db.AutoMigrate(&LegacyShopper{})
	db.Create(&LegacyShopper{Ref: "customer-1", Email: "ada@example.com"})
	db.Create(&AdoptedShopper{Ref: "customer-2", Email: "grace@example.com"}) // written encrypted

	var all []AdoptedShopper
	db.Order("id").Find(&all)
	left, _ := gormcrypt.CountPlaintext(ctx, db, &AdoptedShopper{})
	fmt.Println(all[0].Email, all[1].Email, left)
	// Output:
	// ada@example.com grace@example.com map[email:1]
}

// ExampleExport answers a subject access request: everything the
// registered models hold about one customer, decrypted, as JSON.
func ExampleExport() {
	ctx := context.Background()
	db, done := openShop()
	defer done()
	db.Create(&Shopper{Ref: "customer-1", Email: "ada@example.com"})
	db.Create(&Shopper{Ref: "customer-2", Email: "grace@example.com"})

	ex, err := gormcrypt.Export(ctx, db, "customer-1")
	if err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(ex.Tables, "", "  ") // ex also holds the subject and the time
	fmt.Println(string(out))
	// Output:
	// [
	//   {
	//     "table": "shoppers",
	//     "rows": [
	//       {
	//         "email": "ada@example.com",
	//         "id": 1,
	//         "phone": null,
	//         "ref": "customer-1"
	//       }
	//     ]
	//   }
	// ]
}
