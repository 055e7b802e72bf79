package gormcrypt_test

// Erasure across services: two services with databases of their own share
// one keystore; a Forget in one must clear the other's blind indexes.
// Service A runs in a second OS process (the test binary again, with
// TestHelperServiceA selected), so that its Forget reaches service B only
// through the keystore's watcher, as between two deployments.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosqlite "github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/internal/testdb"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore"
	mysqlstore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/mysql"
	pgstore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

// Member is a service's own record of a customer, found by email.
type Member struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
}

const serviceEnv = "FIELDCRYPT_GORMCRYPT_SERVICE"

// trialsEnv raises the number of propagation trials per backend, and
// rowsEnv the number of other customers B holds (each pass reads them all).
const (
	trialsEnv = "FIELDCRYPT_ERASURE_TRIALS"
	rowsEnv   = "FIELDCRYPT_ERASURE_ROWS"
)

func envCount(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// erasureBound is what the two-service test allows from A's Forget
// returning to B's lookup no longer finding the customer: the watcher's
// latency (250 ms polling) plus one pass over B's indexed subjects, with
// generous slack for a loaded CI machine.
const erasureBound = 5 * time.Second

// serviceConfig names a service's database and the shared keystore.
type serviceConfig struct {
	Keystore, KeystoreDSN string // dialect and DSN (a file path for SQLite)
	RootKey               string // root key file
	DB, DBDSN             string // the service's own database
}

func (c serviceConfig) openStore(ctx context.Context) (*sqlstore.Store, error) {
	switch c.Keystore {
	case "sqlite":
		return sqlitestore.Open(ctx, c.KeystoreDSN)
	case "postgres":
		return pgstore.Open(ctx, c.KeystoreDSN)
	case "mysql":
		return mysqlstore.Open(ctx, c.KeystoreDSN)
	}
	return nil, fmt.Errorf("unknown keystore %q", c.Keystore)
}

func (c serviceConfig) dialector() gorm.Dialector {
	switch c.DB {
	case "sqlite":
		return gosqlite.Open(c.DBDSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	case "postgres":
		return postgres.Open(c.DBDSN)
	}
	return mysql.Open(c.DBDSN)
}

// start opens the service: its keyring on the shared keystore and its
// database with gormcrypt installed and Member migrated.
func (c serviceConfig) start(t testing.TB, opts ...gormcrypt.Option) (*gorm.DB, *keys.Keyring, *gormcrypt.Plugin) {
	t.Helper()
	ctx := context.Background()
	store, err := c.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	root, err := localkms.OpenFile(c.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	if !kr.Watching() {
		t.Fatal("the keyring does not watch the keystore")
	}
	db := openGorm(t, c.dialector())
	p, err := install(db, kr, append([]gormcrypt.Option{gormcrypt.WithModels(&Member{})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Member{}); err != nil {
		t.Fatal(err)
	}
	return db, kr, p
}

// twoServices prepares a shared keystore and root key and a database for
// each of two services on backend b.
func twoServices(t *testing.T, b backend) (a, bsvc serviceConfig) {
	dir := t.TempDir()
	base := serviceConfig{RootKey: filepath.Join(dir, "root.key")}
	if _, err := localkms.OpenFile(base.RootKey); err != nil { // before two processes race to create it
		t.Fatal(err)
	}
	a, bsvc = base, base
	switch b.name {
	case "SQLite":
		base.Keystore, base.KeystoreDSN = "sqlite", filepath.Join(dir, "keys.db")
		a, bsvc = base, base
		a.DB, a.DBDSN = "sqlite", filepath.Join(dir, "a.db")
		bsvc.DB, bsvc.DBDSN = "sqlite", filepath.Join(dir, "b.db")
	case "Postgres":
		base.Keystore, base.KeystoreDSN = "postgres", testdb.PostgresDSN(t)
		a, bsvc = base, base
		a.DB, a.DBDSN = "postgres", testdb.PostgresDSN(t)
		bsvc.DB, bsvc.DBDSN = "postgres", testdb.PostgresDSN(t)
	case "MySQL":
		base.Keystore, base.KeystoreDSN = "mysql", testdb.MySQLDSN(t)
		a, bsvc = base, base
		mysqlDSN := func() string {
			cfg := testdb.MySQLConfig(t)
			cfg.ParseTime = true
			return cfg.FormatDSN()
		}
		a.DB, a.DBDSN = "mysql", mysqlDSN()
		bsvc.DB, bsvc.DBDSN = "mysql", mysqlDSN()
	default:
		t.Fatalf("unknown backend %s", b.name)
	}
	return a, bsvc
}

// serviceA drives service A, running in a helper process.
type serviceA struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
}

func startServiceA(t *testing.T, c serviceConfig) *serviceA {
	t.Helper()
	enc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServiceA$", "-test.count=1")
	cmd.Env = append(os.Environ(), serviceEnv+"="+string(enc))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serviceA{t: t, in: in, lines: make(chan string, 16)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "R "); ok {
				s.lines <- r
			}
		}
	}()
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if got := s.await(); got != "ready" {
		t.Fatalf("service A did not start: %q", got)
	}
	return s
}

func (s *serviceA) await() string {
	s.t.Helper()
	select {
	case r, ok := <-s.lines:
		if !ok {
			s.t.Fatal("service A exited")
		}
		return r
	case <-time.After(60 * time.Second):
		s.t.Fatal("service A did not answer within 60 s")
	}
	return ""
}

func (s *serviceA) do(format string, args ...any) string {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.in, format+"\n", args...); err != nil {
		s.t.Fatalf("writing to service A: %v", err)
	}
	return s.await()
}

// TestHelperServiceA is not a test: TestTwoServices runs the test binary
// again with this test selected, as service A. It reads commands from
// stdin ("create <ref> <email>", "forget <ref>") and answers each on
// stdout with a line starting "R ".
func TestHelperServiceA(t *testing.T) {
	enc := os.Getenv(serviceEnv)
	if enc == "" {
		t.Skip("service A of TestTwoServices; runs only when started by it")
	}
	var c serviceConfig
	if err := json.Unmarshal([]byte(enc), &c); err != nil {
		t.Fatal(err)
	}
	db, _, _ := c.start(t)
	ctx := context.Background()
	fmt.Println("R ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var err error
		switch {
		case len(f) == 3 && f[0] == "create":
			err = db.Create(&Member{Ref: f[1], Email: f[2]}).Error
		case len(f) == 2 && f[0] == "forget":
			_, err = gormcrypt.Forget(ctx, db, f[1], "erasure ticket T-2S")
			if err == nil {
				fmt.Printf("R done %d\n", time.Now().UnixNano())
				continue
			}
		default:
			err = fmt.Errorf("unknown command %q", sc.Text())
		}
		if err != nil {
			fmt.Printf("R error %v\n", err)
			continue
		}
		fmt.Println("R ok")
	}
}

func countByEmail(t testing.TB, db *gorm.DB, email string) int64 {
	t.Helper()
	var n int64
	err := db.Model(&Member{}).Scopes(gormcrypt.WhereEqual(&Member{}, "Email", email)).Count(&n).Error
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTwoServices: a Forget through service A stops service B's blind
// index from finding the customer, in B's own database, within the stated
// bound (the watcher's latency plus one pass over B's indexed subjects).
// It reports the delay from A's Forget returning until B's lookup finds
// nothing, over repeated trials (FIELDCRYPT_ERASURE_TRIALS, default 10;
// FIELDCRYPT_ERASURE_ROWS other customers in B, default 20).
func TestTwoServices(t *testing.T) {
	trials, rows := envCount(t, trialsEnv, 10), envCount(t, rowsEnv, 20)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ca, cb := twoServices(t, b)
			a := startServiceA(t, ca)
			db, _, _ := cb.start(t)
			// Customers B keeps that nobody forgets: their index survives.
			kept := make([]Member, rows)
			for i := range kept {
				kept[i] = Member{Ref: fmt.Sprintf("kept-%d", i), Email: fmt.Sprintf("kept-%d@example.com", i)}
			}
			if err := db.CreateInBatches(kept, 200).Error; err != nil {
				t.Fatal(err)
			}
			var delays []time.Duration
			for i := range trials {
				ref, email := fmt.Sprintf("c-%d", i), fmt.Sprintf("ada-%d@example.com", i)
				if r := a.do("create %s %s", ref, email); r != "ok" {
					t.Fatalf("service A: %s", r)
				}
				if err := db.Create(&Member{Ref: ref, Email: email}).Error; err != nil {
					t.Fatal(err)
				}
				if n := countByEmail(t, db, email); n != 1 {
					t.Fatalf("B finds %d members by email before the Forget, want 1", n)
				}
				r := a.do("forget %s", ref)
				at, ok := strings.CutPrefix(r, "done ")
				if !ok {
					t.Fatalf("service A: %s", r)
				}
				ns, err := strconv.ParseInt(at, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				forgotten := time.Unix(0, ns)
				for countByEmail(t, db, email) != 0 {
					if time.Since(forgotten) > erasureBound {
						t.Fatalf("trial %d: B still finds the forgotten customer %v after A's Forget (bound %v)",
							i, time.Since(forgotten).Round(time.Millisecond), erasureBound)
					}
					time.Sleep(time.Millisecond)
				}
				delays = append(delays, time.Since(forgotten))
			}
			for i := range min(rows, 20) {
				if n := countByEmail(t, db, fmt.Sprintf("kept-%d@example.com", i)); n != 1 {
					t.Fatalf("kept-%d: B finds %d, want 1 (the erasure cleared the wrong subject)", i, n)
				}
			}
			slices.Sort(delays)
			q := func(p float64) time.Duration {
				return delays[int(p*float64(len(delays)-1)+0.5)].Round(time.Millisecond)
			}
			t.Logf("%s: A's Forget → B's blind index no longer finds the customer: p50 %v, p99 %v, max %v over %d trials, %d other indexed customers in B",
				b.name, q(0.5), q(0.99), delays[len(delays)-1].Round(time.Millisecond), len(delays), rows)
		})
	}
}

// sharedKeystore is one keystore in memory opened by several Keyrings of
// this process; store is there to forget a subject behind every Keyring's
// back, as a process that this one never hears from would.
type sharedKeystore struct {
	root  keystore.KMS
	store *memstore.Store
}

func newSharedKeystore(t testing.TB) sharedKeystore {
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	return sharedKeystore{root, memstore.New()}
}

func (s sharedKeystore) open(t testing.TB) *keys.Keyring {
	kr, err := keys.Open(context.Background(), keys.Config{KMS: s.root, Store: s.store})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// forgetUnheard records a tombstone straight in the store: no Keyring of
// this process is told, as when the Forget happened while B was down.
func (s sharedKeystore) forgetUnheard(t testing.TB, kr *keys.Keyring, subject string) {
	ref, err := kr.SubjectRef(subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Forget(context.Background(), keys.Tombstone{Subject: ref, ForgottenAt: time.Now().UTC(), Reason: "T-unheard"}); err != nil {
		t.Fatal(err)
	}
}

func waitGone(t *testing.T, db *gorm.DB, email string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for countByEmail(t, db, email) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still found after %v", email, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestErasureCatchUp: Forgets that B never heard of — made while B was
// down, or lost — are found by the sweep at install and by the periodic
// one, over several pages of subjects, and Close ends the background work.
func TestErasureCatchUp(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ks := newSharedKeystore(t)
			d := b.open(t)
			base := runtime.NumGoroutine()
			db := openGorm(t, d)
			krB := ks.open(t)
			p, err := install(db, krB, gormcrypt.WithModels(&Member{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.AutoMigrate(&Member{}); err != nil {
				t.Fatal(err)
			}
			const n = 1100 // more than two pages of the sweep
			members := make([]Member, n)
			for i := range members {
				members[i] = Member{Ref: fmt.Sprintf("m-%04d", i), Email: fmt.Sprintf("m-%04d@example.com", i)}
			}
			if err := db.CreateInBatches(members, 100).Error; err != nil {
				t.Fatal(err)
			}
			// B goes down; meanwhile some of its members are forgotten.
			p.Close()
			p.Close() // idempotent
			down := []int{0, 499, 500, 501, 1099}
			for _, i := range down {
				ks.forgetUnheard(t, krB, members[i].Ref)
			}
			time.Sleep(50 * time.Millisecond)
			if countByEmail(t, db, members[500].Email) != 1 {
				t.Fatal("the index was cleared while B's erasure was stopped")
			}
			// B comes back: a new Plugin on the same database.
			db2 := openGorm(t, d)
			var errs sync.Map
			p2, err := install(db2, ks.open(t), gormcrypt.WithModels(&Member{}), gormcrypt.WithSweepEvery(20*time.Millisecond),
				gormcrypt.WithErasureErrorHandler(func(err error) { errs.Store(err.Error(), err) }))
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range down {
				waitGone(t, db2, members[i].Email, 10*time.Second)
			}
			// A Forget whose report is lost: the periodic sweep finds it.
			ks.forgetUnheard(t, krB, members[777].Ref)
			waitGone(t, db2, members[777].Email, 10*time.Second)
			var left int64
			if err := db2.Model(&Member{}).Where("email_index IS NOT NULL").Count(&left).Error; err != nil {
				t.Fatal(err)
			}
			if left != n-int64(len(down))-1 {
				t.Fatalf("%d members still indexed, want %d", left, n-len(down)-1)
			}
			errs.Range(func(k, _ any) bool { t.Errorf("background erasure error: %v", k); return true })
			p2.Close()
			// Every goroutine of the erasure has ended (the database
			// drivers' own may take a moment to go too).
			for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > base+8; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d goroutines after Close, %d before install", runtime.NumGoroutine(), base)
				}
			}
		})
	}
}

// TestErasureInProcess: B's Plugin hears of a Forget through another
// Keyring of the same process at once, without a watcher.
func TestErasureInProcess(t *testing.T) {
	ks := newSharedKeystore(t)
	dbA, dbB := openGorm(t, freshSQLite(t)), openGorm(t, freshSQLite(t))
	for _, db := range []*gorm.DB{dbA, dbB} {
		p, err := install(db, ks.open(t), gormcrypt.WithModels(&Member{}), gormcrypt.WithSweepEvery(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := db.AutoMigrate(&Member{}); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"c-gone", "c-kept"} {
			if err := db.Create(&Member{Ref: ref, Email: ref + "@example.com"}).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	if _, err := gormcrypt.Forget(context.Background(), dbA, "c-gone", "T-3"); err != nil {
		t.Fatal(err)
	}
	if countByEmail(t, dbA, "c-gone@example.com") != 0 {
		t.Fatal("A's own index still finds the customer after Forget returned")
	}
	waitGone(t, dbB, "c-gone@example.com", 5*time.Second)
	t.Logf("in-process propagation: %v", time.Since(start).Round(time.Microsecond))
	if countByEmail(t, dbB, "c-kept@example.com") != 1 {
		t.Fatal("the other customer's index was cleared")
	}
}

// TestErasureErrorsReported: a failing pass is reported, matches
// ErrErasure and is retried until it succeeds.
func TestErasureErrorsReported(t *testing.T) {
	ks := newSharedKeystore(t)
	db := openGorm(t, freshSQLite(t))
	errc := make(chan error, 100)
	p, err := install(db, ks.open(t), gormcrypt.WithModels(&Member{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithErasureErrorHandler(func(err error) {
			select {
			case errc <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// No table yet: the pass fails until AutoMigrate creates it.
	if _, err := gormcrypt.Forget(context.Background(), db, "c-1", "T-4"); err == nil {
		t.Fatal("Forget without the table succeeded")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, gormcrypt.ErrErasure) || strings.Contains(err.Error(), "c-1") {
			t.Fatalf("reported error %q: want ErrErasure, without the subject", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
	}
	if err := db.AutoMigrate(&Member{}); err != nil {
		t.Fatal(err)
	}
	// A retry succeeds: errors stop coming.
	time.Sleep(200 * time.Millisecond)
	for len(errc) > 0 {
		<-errc
	}
	time.Sleep(retryWindow)
	if len(errc) != 0 {
		t.Fatalf("still failing after the table exists: %v", <-errc)
	}
}

// retryWindow outlasts the erasure's retry delay after a few failures.
const retryWindow = 2 * time.Second

// Account marks rows whose values were redacted because their subject was
// forgotten; Card is a token column, Nick an encrypted one.
type Account struct {
	ID        uint
	Ref       string  `gorm:"size:64;index" fieldcrypt:"subject"`
	Nick      *string `gorm:"serializer:encrypt"`
	Card      string  `gorm:"serializer:token;size:32" fieldcrypt:"token:card"`
	Plan      string
	Forgotten bool `gorm:"-" fieldcrypt:"forgotten"`
}

// TestForgottenRedacted: by default a list that includes a forgotten
// customer reads, with their values zero and their rows marked; WithStrict
// fails instead; other failures fail either way.
func TestForgottenRedacted(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			e := setup(t, b, gormcrypt.WithModels(&Account{}))
			if err := e.db.AutoMigrate(&Account{}); err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{"a-gone", "a-kept", "a-null"} {
				acc := Account{Ref: ref, Nick: ptr("nick " + ref), Card: "4111 1111 1111 1111", Plan: "pro"}
				if ref == "a-null" {
					acc.Nick, acc.Card = nil, ""
				}
				if err := e.db.Create(&acc).Error; err != nil {
					t.Fatal(err)
				}
			}
			for _, ref := range []string{"a-gone", "a-null"} {
				if _, err := gormcrypt.Forget(ctx, e.db, ref, "T-5"); err != nil {
					t.Fatal(err)
				}
			}
			var all []Account
			if err := e.db.Order("ref").Find(&all).Error; err != nil {
				t.Fatalf("Find over a forgotten customer: %v", err)
			}
			gone, kept, null := all[0], all[1], all[2]
			if !gone.Forgotten || gone.Nick != nil || gone.Card != "" || gone.Plan != "pro" {
				t.Fatalf("forgotten row: %+v", gone)
			}
			if kept.Forgotten || *kept.Nick != "nick a-kept" || kept.Card != "4111 1111 1111 1111" {
				t.Fatalf("kept row: %+v", kept)
			}
			// Nothing was decrypted, so nothing marks the row: the marker
			// says a value was redacted, not that the subject is forgotten.
			if null.Forgotten {
				t.Fatalf("row without values marked forgotten: %+v", null)
			}
			var one Account
			if err := e.db.Select("id", "ref", "card").First(&one, gone.ID).Error; err != nil || !one.Forgotten {
				t.Fatalf("token column alone: %+v, %v; want it redacted and marked", one, err)
			}
			// WithStrict: the same read fails, for token columns too.
			stDB, err := gorm.Open(e.db.Dialector, &gorm.Config{Logger: e.db.Logger})
			if err != nil {
				t.Fatal(err)
			}
			p2, err := install(stDB, e.kr, gormcrypt.WithStrict(), gormcrypt.WithSweepEvery(-1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p2.Close() })
			var strict []Account
			if err := stDB.Order("ref").Find(&strict).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
				t.Fatalf("Strict Find: err = %v, want keys.ErrKeyDestroyed", err)
			}
			if err := stDB.Select("id", "ref", "card").First(&one, gone.ID).Error; !errors.Is(err, keys.ErrKeyDestroyed) {
				t.Fatalf("Strict token read: err = %v, want keys.ErrKeyDestroyed", err)
			}
			// Tampering fails by default too: only ErrKeyDestroyed is redacted.
			// A live customer's ciphertext copied into the forgotten row
			// decrypts under a live key and fails its associated data.
			var raw string
			if err := e.db.Raw("SELECT nick FROM accounts WHERE ref = ?", "a-kept").Scan(&raw).Error; err != nil {
				t.Fatal(err)
			}
			if err := e.db.Exec("UPDATE accounts SET nick = ? WHERE ref = ?", raw, "a-gone").Error; err != nil {
				t.Fatal(err)
			}
			if err := e.db.Order("ref").Find(&all).Error; !errors.Is(err, envelope.ErrDecrypt) {
				t.Fatalf("another customer's ciphertext: err = %v, want a decryption failure", err)
			}
		})
	}
}

type (
	badForgottenType struct {
		ID        uint
		Ref       string `fieldcrypt:"subject"`
		Forgotten string `gorm:"-" fieldcrypt:"forgotten"`
	}
	badForgottenColumn struct {
		ID        uint
		Ref       string `fieldcrypt:"subject"`
		Forgotten bool   `fieldcrypt:"forgotten"`
	}
)

func TestForgottenTagRefused(t *testing.T) {
	e := setup(t, backends[0])
	for _, m := range []any{&badForgottenType{}, &badForgottenColumn{}} {
		_, err := install(openGorm(t, freshSQLite(t)), e.kr, gormcrypt.WithModels(m))
		if !errors.Is(err, gormcrypt.ErrInvalidModel) || !strings.Contains(err.Error(), "forgotten") {
			t.Errorf("%T: err = %v, want ErrInvalidModel naming the forgotten tag", m, err)
		}
	}
}

// sweepRowsEnv sets the number of indexed subjects TestSweepDuration
// sweeps (default 5000).
const sweepRowsEnv = "FIELDCRYPT_ERASURE_SWEEP_ROWS"

// TestSweepDuration measures one catch-up sweep: the time from install
// until the subject the sweep reaches last is cleared, over subjects
// inserted directly (the sweep reads only subjects and index columns) and
// a SQLite keystore file.
func TestSweepDuration(t *testing.T) {
	n := envCount(t, sweepRowsEnv, 5000)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			c := serviceConfig{Keystore: "sqlite", KeystoreDSN: filepath.Join(dir, "keys.db"), RootKey: filepath.Join(dir, "root.key")}
			store, err := c.openStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			root, err := localkms.OpenFile(c.RootKey)
			if err != nil {
				t.Fatal(err)
			}
			kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, DisableWatch: true})
			if err != nil {
				t.Fatal(err)
			}
			d := b.open(t)
			setupDB := openGorm(t, d)
			p0, err := install(setupDB, kr, gormcrypt.WithSweepEvery(-1))
			if err != nil {
				t.Fatal(err)
			}
			if err := setupDB.AutoMigrate(&Member{}); err != nil {
				t.Fatal(err)
			}
			p0.Close()
			db := openGorm(t, d)
			const batch = 500
			for start := 0; start < n; start += batch {
				var sql strings.Builder
				var args []any
				sql.WriteString("INSERT INTO members (ref, email_index) VALUES ")
				for i := start; i < min(start+batch, n); i++ {
					if i > start {
						sql.WriteString(", ")
					}
					sql.WriteString("(?, ?)")
					args = append(args, fmt.Sprintf("s-%07d", i), fmt.Sprintf("%032x", i))
				}
				if err := db.Exec(sql.String(), args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			// Forgotten while B was down: the first, one in the middle, the last.
			gone := []int{0, n / 2, n - 1}
			for _, i := range gone {
				ref, _ := kr.SubjectRef(fmt.Sprintf("s-%07d", i))
				if _, err := store.Forget(ctx, keys.Tombstone{Subject: ref, ForgottenAt: time.Now().UTC(), Reason: "T-sweep"}); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			p, err := install(db, kr, gormcrypt.WithModels(&Member{}), gormcrypt.WithSweepEvery(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			last := fmt.Sprintf("s-%07d", n-1)
			for {
				var idx *string
				if err := db.Raw("SELECT email_index FROM members WHERE ref = ?", last).Scan(&idx).Error; err != nil {
					t.Fatal(err)
				}
				if idx == nil {
					break
				}
				if time.Since(start) > time.Minute {
					t.Fatal("the sweep did not reach the last subject within a minute")
				}
				time.Sleep(time.Millisecond)
			}
			took := time.Since(start)
			var left int64
			db.Raw("SELECT COUNT(*) FROM members WHERE email_index IS NOT NULL").Scan(&left)
			if left != int64(n-len(gone)) {
				t.Fatalf("%d subjects still indexed, want %d", left, n-len(gone))
			}
			t.Logf("%s: one sweep over %d indexed subjects (SQLite keystore): %v (%.1f µs per subject)",
				b.name, n, took.Round(time.Millisecond), float64(took.Microseconds())/float64(n))
		})
	}
}
