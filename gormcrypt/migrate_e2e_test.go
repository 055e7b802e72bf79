package gormcrypt_test

// Adopting fieldcrypt on a live table: the backfill runs in a second OS
// process (the test binary again, with TestHelperBackfill selected), is
// killed with SIGKILL at a random point and resumed, while this process
// writes to the table as the application would.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosqlite "github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/internal/testdb"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
)

const (
	backfillEnv = "FIELDCRYPT_BACKFILL_HELPER" // the helper's configuration, JSON
	// MigrateRowsEnv sets the rows of TestBackfillEndToEnd (default 2000).
	migrateRowsEnv = "FIELDCRYPT_MIGRATE_ROWS"
)

// backfillConfig is what the helper process needs: the shop's database and
// the keystore shared with the test.
type backfillConfig struct {
	DB, DSN           string
	Keystore, RootKey string
	Batch             int
	// ReEncrypt makes the helper run ReEncrypt of Buyer instead of the
	// Backfill of Adopter.
	ReEncrypt bool
	// CacheMaxAge of every process's Keyring (0: the default).
	CacheMaxAge time.Duration
}

func (c backfillConfig) dialector() gorm.Dialector {
	switch c.DB {
	case "sqlite":
		return gosqlite.Open(c.DSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	case "postgres":
		return postgres.Open(c.DSN)
	}
	return mysql.Open(c.DSN)
}

func (c backfillConfig) keyring(t testing.TB) *keys.Keyring {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, c.Keystore)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	root, err := localkms.OpenFile(c.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, DisableWatch: true, CacheMaxAge: c.CacheMaxAge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr
}

func (c backfillConfig) open(t testing.TB) *gorm.DB {
	db, _ := c.openWithKeyring(t)
	return db
}

func (c backfillConfig) openWithKeyring(t testing.TB) (*gorm.DB, *keys.Keyring) {
	db := openGorm(t, c.dialector())
	kr := c.keyring(t)
	p, err := install(db, kr, gormcrypt.WithModels(&Adopter{}, &Buyer{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return db, kr
}

// TestHelperBackfill is the backfill process of TestBackfillEndToEnd. It
// prints "P <scanned>" after every batch and "DONE <json>" at the end.
func TestHelperBackfill(t *testing.T) {
	enc := os.Getenv(backfillEnv)
	if enc == "" {
		t.Skip("helper process of TestBackfillEndToEnd")
	}
	var c backfillConfig
	if err := json.Unmarshal([]byte(enc), &c); err != nil {
		t.Fatal(err)
	}
	db := c.open(t)
	progress := func(p gormcrypt.BackfillProgress) { fmt.Printf("P %d\n", p.Scanned) }
	var pr gormcrypt.BackfillProgress
	var err error
	if c.ReEncrypt {
		pr, err = gormcrypt.ReEncrypt(context.Background(), db, &Buyer{}, gormcrypt.ReEncryptOptions{BatchSize: c.Batch, Progress: progress})
	} else {
		pr, err = gormcrypt.Backfill(context.Background(), db, &Adopter{}, gormcrypt.BackfillOptions{BatchSize: c.Batch, Progress: progress})
	}
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(pr)
	fmt.Printf("DONE %s\n", out)
}

// runBackfill starts the helper; killAt > 0 kills it with SIGKILL once
// it reports at least killAt rows scanned. It returns the last progress
// seen and, for a run to the end, the final report.
func runBackfill(t *testing.T, c backfillConfig, killAt int64) (last int64, final *gormcrypt.BackfillProgress) {
	t.Helper()
	enc, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBackfill$", "-test.count=1")
	cmd.Env = append(os.Environ(), backfillEnv+"="+string(enc))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "P "); ok {
			last, _ = strconv.ParseInt(s, 10, 64)
			if killAt > 0 && last >= killAt {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				break
			}
		}
		if s, ok := strings.CutPrefix(line, "DONE "); ok {
			final = new(gormcrypt.BackfillProgress)
			if err := json.Unmarshal([]byte(s), final); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if killAt > 0 {
		if final != nil {
			t.Fatalf("the backfill finished before it could be killed at %d rows", killAt)
		}
		return last, nil
	}
	if err != nil || final == nil {
		t.Fatalf("backfill process: %v", err)
	}
	return last, final
}

// appWrite is one write of the application, in its writer's log.
type appWrite struct {
	ref, email, name, card string
}

// PlainAdopter is the shop's table of the end-to-end test before
// fieldcrypt, Adopter the same table while it is adopted: three migrating
// encrypted columns (one with a blind index) and a migrating token column
// with its marker.
type PlainAdopter struct {
	ID    uint
	Ref   string `gorm:"size:64;uniqueIndex"`
	Email string
	Phone *string
	Name  string
	Card  string `gorm:"size:32"`
}

func (PlainAdopter) TableName() string { return "adopters" }

type Adopter struct {
	ID            uint
	Ref           string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email         string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	EmailIndex    *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone         *string `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	Name          string  `gorm:"serializer:encrypt" fieldcrypt:"migrating"`
	CardTokenized *bool   `fieldcrypt:"tokenized:Card"`
	Card          string  `gorm:"size:32;serializer:token" fieldcrypt:"token:card;migrating"`
}

func (Adopter) TableName() string { return "adopters" }

func seedAdopters(t testing.TB, db *gorm.DB, n int) {
	t.Helper()
	if err := db.AutoMigrate(&PlainAdopter{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]PlainAdopter, 0, n)
	for i := range n {
		b := plainBuyer(i)
		rows = append(rows, PlainAdopter{Ref: b.Ref, Email: b.Email, Phone: b.Phone, Name: b.Name, Card: plainCard(i)})
	}
	if err := db.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
}

func TestBackfillEndToEnd(t *testing.T) {
	rows := migrateRows(t)
	forEachShopDB(t, rows, func(t *testing.T, c backfillConfig) { testBackfillEndToEnd(t, c, rows) })
}

// TestReEncryptEndToEnd: on a table without token columns (whose tokens
// stay under version 1, see ValuesBelow), after Rotate of half the
// customers' keys,
// ReEncrypt of the whole table runs in a child process that is killed with
// SIGKILL and resumed while the application writes; then ValuesBelow is 0
// for every rotated customer, DestroyVersionsBelow destroys their version
// 1, and every row reads with the application's last writes.
func TestReEncryptEndToEnd(t *testing.T) {
	rows := migrateRows(t)
	forEachShopDB(t, rows, func(t *testing.T, c backfillConfig) { testReEncryptEndToEnd(t, c, rows) })
}

// migrateRows is the table size of the end-to-end tests.
func migrateRows(t *testing.T) int {
	rows := 2000
	if s := os.Getenv(migrateRowsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			t.Fatalf("%s=%q: want a number of rows ≥ 100", migrateRowsEnv, s)
		}
		rows = n
	}
	return rows
}

// forEachShopDB runs f on SQLite, PostgreSQL and MariaDB, with a shared
// SQLite keystore and root key file for the test and its helper processes.
func forEachShopDB(t *testing.T, rows int, f func(t *testing.T, c backfillConfig)) {
	for _, b := range []struct {
		name string
		cfg  func(t *testing.T) backfillConfig
	}{
		{"SQLite", func(t *testing.T) backfillConfig {
			return backfillConfig{DB: "sqlite", DSN: filepath.Join(t.TempDir(), "shop.db")}
		}},
		{"Postgres", func(t *testing.T) backfillConfig {
			return backfillConfig{DB: "postgres", DSN: testdb.PostgresDSN(t)}
		}},
		{"MySQL", func(t *testing.T) backfillConfig {
			cfg := testdb.MySQLConfig(t)
			cfg.ParseTime = true
			return backfillConfig{DB: "mysql", DSN: cfg.FormatDSN()}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			c := b.cfg(t)
			dir := t.TempDir()
			c.Keystore, c.RootKey = filepath.Join(dir, "keys.db"), filepath.Join(dir, "root.key")
			c.Batch = max(rows/40, 25)
			if c.DB == "sqlite" {
				// One write lock for the whole database: an application
				// write waits for a whole batch (see Backfill's docs).
				c.Batch = min(c.Batch, 100)
			}
			f(t, c)
		})
	}
}

func testBackfillEndToEnd(t *testing.T, c backfillConfig, rows int) {
	ctx := context.Background()
	plain := openGorm(t, c.dialector())
	seedAdopters(t, plain, rows)
	db := c.open(t)
	if err := db.AutoMigrate(&Adopter{}); err != nil {
		t.Fatal(err)
	}
	db = db.WithContext(ctx)
	// One protected row first, so that the blind index key exists before
	// two processes use it.
	if err := db.Create(&Adopter{Ref: "first", Email: "first@example.com", Name: "First", Card: plainCard(999999)}).Error; err != nil {
		t.Fatal(err)
	}

	// The application: writers updating their own share of the rows (so
	// each writer's log orders the writes of its rows) and inserting new
	// ones, until the backfill is over.
	const writers = 4
	logs := make([][]appWrite, writers)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var werrMu sync.Mutex
	var werr error
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for n := 0; !stop.Load(); n++ {
				var wr appWrite
				var err error
				if n%5 == 4 {
					wr = appWrite{ref: fmt.Sprintf("new-%d-%d", w, n), email: fmt.Sprintf("new-%d-%d@example.com", w, n), name: "New " + strconv.Itoa(n),
						card: plainCard(1_000_000 + w*100_000 + n)}
					err = db.Create(&Adopter{Ref: wr.ref, Email: wr.email, Name: wr.name, Card: wr.card}).Error
				} else {
					i := rng.IntN(rows/writers)*writers + w
					wr = appWrite{ref: fmt.Sprintf("cust-%06d", i), email: fmt.Sprintf("w%d-%d@example.com", w, n), name: fmt.Sprintf("Renamed %d", n)}
					var cur Adopter
					if err = db.Where("ref = ?", wr.ref).Take(&cur).Error; err == nil { // a mixed read
						wr.card = cur.Card
						if n%3 == 0 { // every third update also changes the card (a token column)
							wr.card = plainCard(2_000_000 + w*100_000 + n)
						}
						err = db.Model(&Adopter{ID: cur.ID, Ref: cur.Ref}).Updates(Adopter{Email: wr.email, Name: wr.name, Card: wr.card}).Error
					}
				}
				if err != nil {
					werrMu.Lock()
					werr = err
					werrMu.Unlock()
					return
				}
				logs[w] = append(logs[w], wr)
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}()
	}

	killAt := int64(rows/10 + rand.IntN(rows*7/10))
	start := time.Now()
	killed, _ := runBackfill(t, c, killAt)
	var cur struct{ Scanned int64 }
	if err := db.Raw("SELECT scanned FROM " + gormcrypt.BackfillTable).Scan(&cur).Error; err != nil {
		t.Fatal(err)
	}
	_, final := runBackfill(t, c, 0)
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if werr != nil {
		t.Fatalf("an application write failed: %v", werr)
	}
	if !final.Done || final.Scanned < int64(rows) {
		t.Fatalf("the resumed backfill ended with %+v", final)
	}

	// Every value is protected: the finish check and raw SQL agree.
	counts, err := gormcrypt.CountPlaintext(ctx, db, &Adopter{})
	if err != nil {
		t.Fatal(err)
	}
	for col, n := range counts {
		if n != 0 {
			t.Errorf("%s: %d plaintext values left", col, n)
		}
	}
	var raws []struct {
		Ref               string
		Email, Name, Card string
		Phone, EmailIndex *string
		CardTokenized     *bool
	}
	if err := db.Raw("SELECT ref, email, name, phone, email_index, card, card_tokenized FROM adopters").Scan(&raws).Error; err != nil {
		t.Fatal(err)
	}
	rawCards := map[string]string{}
	for _, r := range raws {
		if r.CardTokenized == nil || !*r.CardTokenized || len(r.Card) != 16 {
			t.Fatalf("row %s: card not tokenized and marked", r.Ref)
		}
		rawCards[r.Ref] = r.Card
		for _, v := range []string{r.Email, r.Name, deref(r.Phone)} {
			if strings.Contains(v, "@") || strings.Contains(v, " ") || (v != "" && !strings.HasPrefix(v, "A")) {
				t.Fatalf("row %s holds plaintext", r.Ref)
			}
		}
		if r.EmailIndex == nil || len(*r.EmailIndex) != 32 {
			t.Fatalf("row %s has no blind index", r.Ref)
		}
	}

	// Every application write survived: the last logged value of each row.
	want := map[string]appWrite{}
	for i := range rows {
		p := plainBuyer(i)
		want[p.Ref] = appWrite{ref: p.Ref, email: p.Email, name: p.Name, card: plainCard(i)}
	}
	want["first"] = appWrite{ref: "first", email: "first@example.com", name: "First", card: plainCard(999999)}
	writes := 0
	for _, l := range logs {
		for _, wr := range l {
			want[wr.ref] = wr
			writes++
		}
	}
	var all []Adopter
	if err := db.Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("%d rows, want %d", len(all), len(want))
	}
	for _, b := range all {
		w, ok := want[b.Ref]
		if !ok || b.Email != w.email || b.Name != w.name || b.Card != w.card || rawCards[b.Ref] == w.card {
			t.Fatalf("row %s: an application write was lost or overwritten", b.Ref)
		}
		var found []Adopter
		if err := db.Scopes(gormcrypt.WhereEqual(&Adopter{}, "Email", w.email)).Find(&found).Error; err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].ID != b.ID {
			t.Fatalf("WhereEqual does not find row %s (%d rows)", b.Ref, len(found))
		}
	}
	if writes == 0 {
		t.Fatal("no application write ran during the backfill")
	}
	t.Logf("%d rows (+%d inserted), batch %d: killed at %d rows scanned (cursor at %d), resumed; "+
		"%.2f s for both runs (%.0f rows/s overall, process starts included; resumed run %.0f rows/s); "+
		"%d application writes checked (%d rows skipped by the backfill as concurrently protected)",
		rows, len(want)-rows-1, c.Batch, killed, cur.Scanned, elapsed.Seconds(), float64(final.Scanned)/elapsed.Seconds(),
		final.RowsPerSecond, writes, final.Skipped)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func testReEncryptEndToEnd(t *testing.T, c backfillConfig, rows int) {
	ctx := context.Background()
	c.CacheMaxAge = time.Second
	plain := openGorm(t, c.dialector())
	seedPlain(t, plain, rows)
	db, kr := c.openWithKeyring(t)
	if err := db.AutoMigrate(&Buyer{}); err != nil {
		t.Fatal(err)
	}
	db = db.WithContext(ctx)
	if _, err := gormcrypt.Backfill(ctx, db, &Buyer{}, gormcrypt.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	// Half the customers' keys rotate (a suspected leak of a backup, say).
	var rotated []string
	rotatedAt := time.Now()
	for i := 0; i < rows; i += 2 {
		ref := fmt.Sprintf("cust-%06d", i)
		if v, err := kr.Rotate(ctx, ref, keys.DefaultPurpose); err != nil || v != 2 {
			t.Fatalf("Rotate(%s) = %d, %v", ref, v, err)
		}
		rotated = append(rotated, ref)
	}

	const writers = 3
	logs := make([][]appWrite, writers)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var werrMu sync.Mutex
	var werr error
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for n := 0; !stop.Load(); n++ {
				i := rng.IntN(rows/writers)*writers + w
				wr := appWrite{ref: fmt.Sprintf("cust-%06d", i), email: fmt.Sprintf("w%d-%d@example.com", w, n), name: fmt.Sprintf("Renamed %d", n)}
				var cur Buyer
				err := db.Where("ref = ?", wr.ref).Take(&cur).Error
				if err == nil {
					err = db.Model(&Buyer{ID: cur.ID, Ref: cur.Ref}).Updates(Buyer{Email: wr.email, Name: wr.name}).Error
				}
				if err != nil {
					werrMu.Lock()
					werr = err
					werrMu.Unlock()
					return
				}
				logs[w] = append(logs[w], wr)
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}()
	}
	c.ReEncrypt = true
	killAt := int64(rows/10 + rand.IntN(rows*7/10))
	start := time.Now()
	killed, _ := runBackfill(t, c, killAt)
	_, final := runBackfill(t, c, 0)
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if werr != nil {
		t.Fatalf("an application write failed: %v", werr)
	}
	if !final.Done || final.Scanned < int64(rows) {
		t.Fatalf("the resumed re-encryption ended with %+v", final)
	}

	// Nothing uses version 1 of a rotated key any more: its destruction
	// is accepted with that evidence, once every process's cache has
	// passed CacheMaxAge since the rotation.
	if d := time.Until(rotatedAt.Add(c.CacheMaxAge + 100*time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	destroyStart := time.Now()
	for _, ref := range rotated {
		got, err := kr.DestroyVersionsBelow(ctx, ref, keys.DefaultPurpose, 2, keys.WhenUnused(func(ctx context.Context) (int64, error) {
			return gormcrypt.ValuesBelow(ctx, db, &Buyer{}, ref, 2)
		}))
		if err != nil || got.DestroyedNow != 1 {
			t.Fatalf("DestroyVersionsBelow(%s) = %+v, %v", ref, got, err)
		}
	}
	destroyed := time.Since(destroyStart)

	want := map[string]appWrite{}
	for i := range rows {
		p := plainBuyer(i)
		want[p.Ref] = appWrite{ref: p.Ref, email: p.Email, name: p.Name}
	}
	writes := 0
	for _, l := range logs {
		for _, wr := range l {
			want[wr.ref] = wr
			writes++
		}
	}
	var all []Buyer
	if err := db.Find(&all).Error; err != nil {
		t.Fatalf("reading every row after destroying the old versions: %v", err)
	}
	if len(all) != len(want) {
		t.Fatalf("%d rows, want %d", len(all), len(want))
	}
	for _, b := range all {
		w := want[b.Ref]
		if b.Email != w.email || b.Name != w.name {
			t.Fatalf("row %s: an application write was lost or a value changed", b.Ref)
		}
	}
	if writes == 0 {
		t.Fatal("no application write ran during the re-encryption")
	}
	t.Logf("%d rows, %d keys rotated, batch %d: killed at %d rows scanned, resumed; %.2f s for both runs "+
		"(resumed run %.0f rows/s, %d rows rewritten, %d skipped as concurrently written); %d application writes checked; "+
		"%d old versions destroyed with ValuesBelow as evidence in %.2f s",
		rows, len(rotated), c.Batch, killed, elapsed.Seconds(), final.RowsPerSecond, final.Updated, final.Skipped, writes,
		len(rotated), destroyed.Seconds())
}
