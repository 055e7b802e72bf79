package coldread_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/testdb"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5/stdlib"
	gormpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// Customer is a list page's row: three encrypted columns under the
// customer's key.
type Customer struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt"`
	Phone string `gorm:"serializer:encrypt_det"`
	Score int64  `gorm:"serializer:encrypt"`
	Tier  string
}

// PlainCustomer is the peer without the plugin: the same rows in a table
// whose text columns hold values as long as Customer's ciphertexts.
type PlainCustomer struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex"`
	Email string
	Phone string
	Score string
	Tier  string
}

const pageRows = 1000

// counter counts calls: keystore SQL statements, Vault HTTP requests.
type counter struct{ n atomic.Int64 }

// countingConnector counts every statement sent on its connections (pgx's
// stdlib connections, whose optional interfaces it forwards).
type countingConnector struct {
	driver.Connector
	c *counter
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{conn.(*stdlib.Conn), cc.c}, nil
}

type countingConn struct {
	*stdlib.Conn
	c *counter
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.n.Add(1)
	return c.Conn.QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.n.Add(1)
	return c.Conn.ExecContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.c.n.Add(1) // a prepared statement would run uncounted; sqlstore prepares none
	return c.Conn.PrepareContext(ctx, q)
}

// countingTransport counts the HTTP requests sent to Vault.
type countingTransport struct {
	base http.RoundTripper
	c    *counter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.n.Add(1)
	return t.base.RoundTrip(r)
}

// countingKMS counts the calls the Keyring makes on its KMS.
type countingKMS struct {
	*vaultkms.KMS
	c *counter
}

func (k countingKMS) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	k.c.n.Add(1)
	return k.KMS.Unwrap(ctx, w, ad)
}

func (k countingKMS) UnwrapBatch(ctx context.Context, reqs []keystore.UnwrapRequest) ([]keystore.UnwrapResult, error) {
	k.c.n.Add(1)
	return k.KMS.UnwrapBatch(ctx, reqs)
}

// fixture is a PostgreSQL database with pageRows customers written
// through the plugin (and their plain peers), its keystore in the same
// database and the root key in Vault.
type fixture struct {
	dsn                   string
	root                  *vaultkms.KMS
	store                 keystore.Store
	statements, vaultHTTP *counter
	want                  []Customer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN not set; start the harness: eval \"$(bash internal/vaultharness/start.sh)\"")
	}
	dsn := testdb.PostgresDSN(t) // skips when FIELDCRYPT_TEST_POSTGRES_DSN is unset
	ctx := context.Background()
	f := &fixture{dsn: dsn, statements: &counter{}, vaultHTTP: &counter{}}

	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.HttpClient.Transport = countingTransport{cfg.HttpClient.Transport, f.vaultHTTP}
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(token)
	name := make([]byte, 8)
	rand.Read(name)
	// MaxBatch 500, as keys.Keyring.Warm batches: the default, 250, would
	// send two requests per Warm batch.
	f.root, err = vaultkms.New(vaultkms.Config{Client: client, Key: "fieldcrypt-coldread-" + hex.EncodeToString(name), MaxBatch: 500})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.root.CreateKey(ctx); err != nil {
		t.Fatal(err)
	}

	connector, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	storeDB := sql.OpenDB(countingConnector{connector, f.statements})
	t.Cleanup(func() { storeDB.Close() })
	store, err := postgres.New(ctx, storeDB)
	if err != nil {
		t.Fatal(err)
	}
	f.store = store

	kr, err := keys.Open(ctx, keys.Config{KMS: f.root, Store: store, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	db := f.open(t, kr)
	if err := db.AutoMigrate(&Customer{}, &PlainCustomer{}); err != nil {
		t.Fatal(err)
	}
	f.want = make([]Customer, pageRows)
	for i := range f.want {
		f.want[i] = Customer{Ref: fmt.Sprint("cust-", i), Email: fmt.Sprintf("c%d@example.com", i),
			Phone: fmt.Sprintf("+48600%06d", i), Score: int64(i), Tier: "gold"}
	}
	if err := db.CreateInBatches(f.want, 200).Error; err != nil {
		t.Fatal(err)
	}
	// The plain peer stores the ciphertexts' text as its values: same sizes.
	if err := db.Exec(`INSERT INTO plain_customers (ref, email, phone, score, tier)
		SELECT ref, email, phone, score, tier FROM customers ORDER BY id`).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

// open returns the shop database with the plugin on kr, or without it.
func (f *fixture) open(t testing.TB, kr *keys.Keyring) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(gormpostgres.Open(f.dsn), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	if kr != nil {
		p, err := gormcrypt.New(kr, gormcrypt.WithModels(&Customer{}), gormcrypt.WithSweepEvery(-1))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// reader is a process with a cold key cache, its KMS calls counted.
func (f *fixture) reader(t testing.TB) (*gorm.DB, *keys.Keyring, *counter) {
	t.Helper()
	kmsCalls := &counter{}
	kr, err := keys.Open(context.Background(), keys.Config{KMS: countingKMS{f.root, kmsCalls}, Store: f.store, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	return f.open(t, kr), kr, kmsCalls
}

func (f *fixture) check(t testing.TB, got []Customer) {
	t.Helper()
	if len(got) != len(f.want) {
		t.Fatalf("found %d customers, want %d", len(got), len(f.want))
	}
	for i, c := range got {
		if w := f.want[i]; c.Ref != w.Ref || c.Email != w.Email || c.Phone != w.Phone || c.Score != w.Score {
			t.Fatalf("row %d: read %+v, wrote %+v", i, c, w)
		}
	}
}

// TestFindWarmsKeysPostgresVault is the list page of the issue: a 1000-row
// Find over 1000 customers by a process whose key cache is cold, with the
// keystore in PostgreSQL and the root key in Vault, sends at most 3
// statements to the keystore and makes at most 3 KMS calls (and 3 Vault
// requests): the plugin loads the page's keys in batches of 500.
func TestFindWarmsKeysPostgresVault(t *testing.T) {
	f := newFixture(t)
	db, _, kmsCalls := f.reader(t)
	// Count from here: Open checks the root key with a KMS call of its own.
	s0, k0, h0 := f.statements.n.Load(), kmsCalls.n.Load(), f.vaultHTTP.n.Load()
	start := time.Now()
	var got []Customer
	if err := db.Order("id").Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	f.check(t, got)
	s, k, h := f.statements.n.Load()-s0, kmsCalls.n.Load()-k0, f.vaultHTTP.n.Load()-h0
	t.Logf("cold %d-row Find: %d keystore statements, %d KMS calls, %d Vault requests, %v", pageRows, s, k, h, cold)
	if s > 3 || k > 3 || h > 3 {
		t.Errorf("cold Find: %d keystore statements, %d KMS calls and %d Vault requests, want at most 3 each", s, k, h)
	}

	// The same Find again is served from the cache.
	s0, h0 = f.statements.n.Load(), f.vaultHTTP.n.Load()
	if err := db.Order("id").Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	f.check(t, got)
	if s, h := f.statements.n.Load()-s0, f.vaultHTTP.n.Load()-h0; s != 0 || h != 0 {
		t.Errorf("warm Find: %d keystore statements and %d Vault requests, want none", s, h)
	}
}

// BenchmarkFind1000 times the 1000-row Find: with a cold key
// cache (emptied with EvictAll outside the timer), warm, and with plain
// GORM on the plain peer table.
func BenchmarkFind1000(b *testing.B) {
	f := newFixture(b)
	b.Run("cold", func(b *testing.B) {
		db, kr, _ := f.reader(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			kr.EvictAll() // a cold cache, on connections already open
			b.StartTimer()
			var got []Customer
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != pageRows {
				b.Fatal(err, len(got))
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		db, _, _ := f.reader(b)
		var got []Customer
		if err := db.Order("id").Find(&got).Error; err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != pageRows {
				b.Fatal(err, len(got))
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		db := f.open(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			var got []PlainCustomer
			if err := db.Order("id").Find(&got).Error; err != nil || len(got) != pageRows {
				b.Fatal(err, len(got))
			}
		}
	})
}
