package gormcrypt_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// The benchmark models: the same shop customer with its columns in clear
// (the lower-cased email in an indexed column for lookups) and with three
// encrypted columns, one token column (the card number) and one blind index.
type benchPlain struct {
	ID         uint
	Batch      int    `gorm:"index"`
	Ref        string `gorm:"size:64"`
	Email      string
	EmailLower string `gorm:"size:128;index"` // what the blind index replaces
	Name       string
	Phone      string
	Card       string `gorm:"size:32"`
	Tier       string
}

type benchEncrypted struct {
	ID         uint
	Batch      int     `gorm:"index"`
	Ref        string  `gorm:"size:64" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Name       string  `gorm:"serializer:encrypt"`
	Phone      string  `gorm:"serializer:encrypt"`
	Card       string  `gorm:"serializer:token;size:32" fieldcrypt:"token:card"`
	Tier       string
}

const benchRows = 1000

// BenchmarkShop creates 1000 customers in one transaction and reads them
// back, with plain GORM and with gormcrypt, on SQLite in the same run.
// Rows belong to 10 customers whose keys are already in the Keyring cache.
// Compare with: go test -run '^$' -bench Shop -count 5 ./gormcrypt/
func BenchmarkShop(b *testing.B) {
	// padded gives a plaintext value the length of its ciphertext column.
	padded := func(v string) string {
		return v + strings.Repeat("x", base64.RawURLEncoding.EncodedLen(len(v)+gormcrypt.HeaderOverhead)-len(v))
	}
	for _, mode := range []string{"OneByOne", "Batches100"} {
		b.Run(mode+"/plain", func(b *testing.B) {
			db := openGorm(b, freshSQLite(b))
			if err := db.AutoMigrate(&benchPlain{}); err != nil {
				b.Fatal(err)
			}
			runShop(b, db, mode, func(batch, i int) any {
				email := fmt.Sprintf("user%d@example.com", i)
				return &benchPlain{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: email, EmailLower: strings.ToLower(email),
					Name: fmt.Sprintf("Customer %d", i), Phone: "+48 600 100 200", Card: "4111 1111 1111 1111", Tier: "gold"}
			}, func() any { return &[]benchPlain{} })
		})
		// The control: plain GORM storing values as long as the ciphertexts,
		// to separate the cost of bigger rows from the cost of the crypto.
		b.Run(mode+"/plain-samesize", func(b *testing.B) {
			db := openGorm(b, freshSQLite(b))
			if err := db.AutoMigrate(&benchPlain{}); err != nil {
				b.Fatal(err)
			}
			runShop(b, db, mode, func(batch, i int) any {
				email := fmt.Sprintf("user%d@example.com", i)
				return &benchPlain{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: padded(email),
					EmailLower: hex.EncodeToString([]byte(email))[:32], Name: padded(fmt.Sprintf("Customer %d", i)),
					Phone: padded("+48 600 100 200"), Card: "4111 1111 1111 1111", Tier: "gold"}
			}, func() any { return &[]benchPlain{} })
		})
		for _, variant := range []struct {
			name string
			opts []gormcrypt.Option
		}{
			{"gormcrypt", nil},
			// The price of the CHECK constraints, which SQLite compiles into
			// every statement GORM does not prepare.
			{"gormcrypt-nochecks", []gormcrypt.Option{gormcrypt.WithoutCheckConstraints()}},
		} {
			b.Run(mode+"/"+variant.name, func(b *testing.B) {
				benchGormcrypt(b, mode, append(variant.opts, gormcrypt.WithModels(&benchEncrypted{})))
			})
		}
	}
}

func benchGormcrypt(b *testing.B, mode string, opts []gormcrypt.Option) {
	db := openGorm(b, freshSQLite(b))
	p, err := install(db, newKeyring(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := db.AutoMigrate(&benchEncrypted{}); err != nil {
		b.Fatal(err)
	}
	runShop(b, db, mode, func(batch, i int) any {
		return &benchEncrypted{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: fmt.Sprintf("user%d@example.com", i),
			Name: fmt.Sprintf("Customer %d", i), Phone: "+48 600 100 200", Card: "4111 1111 1111 1111", Tier: "gold"}
	}, func() any { return &[]benchEncrypted{} })
}

func runShop(b *testing.B, db *gorm.DB, mode string, row func(batch, i int) any, dest func() any) {
	ctx := context.Background()
	// Warm up: create the subjects' keys and GORM's schema cache.
	if err := db.Create(row(-1, 0)).Error; err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if err := db.Create(row(-1, i)).Error; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	// CPU time (user+system, all threads) is reported beside wall time: on a
	// shared machine it is the steadier of the two.
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	batch := 0
	for b.Loop() {
		batch++
		rows := make([]any, benchRows)
		for i := range rows {
			rows[i] = row(batch, i)
		}
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if mode == "Batches100" {
				// CreateInBatches needs a typed slice: build it from the rows.
				return createBatches(tx, rows)
			}
			for _, r := range rows {
				if err := tx.Create(r).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		out := dest()
		if err := db.Where("batch = ?", batch).Find(out).Error; err != nil {
			b.Fatal(err)
		}
	}
}

func createBatches(tx *gorm.DB, rows []any) error {
	switch rows[0].(type) {
	case *benchPlain:
		s := make([]benchPlain, len(rows))
		for i, r := range rows {
			s[i] = *r.(*benchPlain)
		}
		return tx.CreateInBatches(&s, 100).Error
	default:
		s := make([]benchEncrypted, len(rows))
		for i, r := range rows {
			s[i] = *r.(*benchEncrypted)
		}
		return tx.CreateInBatches(&s, 100).Error
	}
}

// BenchmarkBackfill protects 2000 plaintext customers (3 migrating
// columns, one with a blind index) with Backfill on PostgreSQL, beside a
// plain loop that rewrites the same three columns of the same rows in the
// same batches (read 500 rows in primary-key order, one UPDATE per row in
// one transaction). Each customer's key is in the Keyring cache (the run
// before the timed ones creates them). Compare rows/s:
//
//	go test -run '^$' -bench Backfill -count 6 ./gormcrypt/
func BenchmarkBackfill(b *testing.B) {
	const rows = 2000
	d := freshPostgres(b)
	db := openGorm(b, d)
	kr := newKeyring(b)
	p, err := install(db, kr, gormcrypt.WithModels(&Buyer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	ctx := context.Background()
	reset := func(b *testing.B) {
		b.Helper()
		if err := db.Migrator().DropTable(&PlainBuyer{}, gormcrypt.BackfillTable); err != nil {
			b.Fatal(err)
		}
		seedPlain(b, db, rows)
		if err := db.AutoMigrate(&Buyer{}); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B, elapsed time.Duration) {
		b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
	}
	b.Run("Backfill", func(b *testing.B) {
		reset(b)
		if _, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{}); err != nil { // creates the keys
			b.Fatal(err)
		}
		b.ReportAllocs()
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			reset(b)
			b.StartTimer()
			start := time.Now()
			pr, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{})
			elapsed += time.Since(start)
			if err != nil || pr.Updated != rows {
				b.Fatalf("Backfill = %+v, %v", pr, err)
			}
		}
		report(b, elapsed)
	})
	b.Run("PlainUpdate", func(b *testing.B) {
		b.ReportAllocs()
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			reset(b)
			b.StartTimer()
			start := time.Now()
			plainUpdateLoop(b, db, gormcrypt.DefaultBackfillBatch)
			elapsed += time.Since(start)
		}
		report(b, elapsed)
	})
}

// plainUpdateLoop is Backfill without fieldcrypt: the same reads and one
// UPDATE ... SET col = ? per row, with values of the same length.
func plainUpdateLoop(b *testing.B, db *gorm.DB, batch int) {
	var last uint
	for {
		rs, err := db.Raw("SELECT id, ref, email, phone, name FROM buyers WHERE id > ? ORDER BY id LIMIT ?", last, batch).Rows()
		if err != nil {
			b.Fatal(err)
		}
		type row struct {
			id               uint
			ref, email, name string
			phone            *string
		}
		var got []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.id, &r.ref, &r.email, &r.phone, &r.name); err != nil {
				b.Fatal(err)
			}
			got = append(got, r)
		}
		rs.Close()
		err = db.Transaction(func(tx *gorm.DB) error {
			for _, r := range got {
				phone := r.phone
				if phone != nil {
					phone = ptr(*phone + "x")
				}
				if err := tx.Exec("UPDATE buyers SET email = ?, phone = ?, name = ? WHERE id = ? AND email = ? AND name = ?",
					r.email+"x", phone, r.name+"x", r.id, r.email, r.name).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) < batch {
			return
		}
		last = got[len(got)-1].id
	}
}
