package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// Leaked is a table whose subject column is not unique: one customer has
// many rows.
type Leaked struct {
	ID         uint
	Ref        string     `gorm:"size:64;index" fieldcrypt:"subject"`
	Email      string     `gorm:"serializer:encrypt"`
	EmailIndex *string    `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Phone      string     `gorm:"serializer:encrypt_det"`
	Seen       *time.Time `gorm:"serializer:encrypt"`
	Tier       string
}

// TestReEncryptAfterRotate: after Rotate of one customer's key, ReEncrypt
// (stopped half-way, then resumed) rewrites every value under the new
// version while the application keeps writing; until it has finished,
// DestroyVersionsBelow is refused; afterwards it destroys the old version
// and every row still reads, is found by WhereEqual and holds the
// application's last writes. On SQLite, PostgreSQL and MariaDB.
func TestReEncryptAfterRotate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testReEncryptAfterRotate(t, b) })
	}
}

func testReEncryptAfterRotate(t *testing.T, b backend) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	// A short cache age: DestroyVersionsBelow waits that long after the new
	// version was made, so that no process still writes under the old one.
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), CacheMaxAge: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db := openGorm(t, b.open(t))
	p, err := install(db, kr, gormcrypt.WithModels(&Leaked{}), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Leaked{}); err != nil {
		t.Fatal(err)
	}
	const target, n = "c-leaked", 150
	seen := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range n {
		ref := target
		if i%3 == 0 {
			ref = fmt.Sprintf("c-other-%d", i)
		}
		row := Leaked{Ref: ref, Email: fmt.Sprintf("user%03d@example.com", i), Phone: fmt.Sprintf("+48 600 000 %03d", i), Seen: &seen}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	v, err := kr.Rotate(ctx, target, keys.DefaultPurpose)
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v", v, err)
	}
	inUse := keys.WhenUnused(func(ctx context.Context) (int64, error) {
		return gormcrypt.ValuesBelow(ctx, db, &Leaked{}, target, v)
	})
	below, err := gormcrypt.ValuesBelow(ctx, db, &Leaked{}, target, v)
	if err != nil || below != 3*100 { // 100 rows, 3 encrypted columns each
		t.Fatalf("ValuesBelow before ReEncrypt = %d, %v; want 300", below, err)
	}

	// The application keeps writing the customer's rows meanwhile: its
	// writes are made under version 2 and must survive.
	var mu sync.Mutex
	last := map[uint]string{} // id -> email the application wrote last
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := uint(2 + 3*(i%50)) // rows of the target (ids 2, 5, 8, ...)
			email := fmt.Sprintf("app-%d@example.com", i)
			if err := db.Model(&Leaked{ID: id, Ref: target}).Updates(Leaked{Email: email}).Error; err != nil {
				t.Errorf("application write: %v", err)
				return
			}
			mu.Lock()
			last[id] = email
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()

	// A run stopped after its first batch, as a crash or deploy would.
	stopped, cancel := context.WithCancel(ctx)
	_, err = gormcrypt.ReEncrypt(stopped, db, &Leaked{}, gormcrypt.ReEncryptOptions{Subject: target, BatchSize: 20,
		Progress: func(gormcrypt.BackfillProgress) { cancel() }})
	if err == nil {
		t.Fatal("ReEncrypt with a cancelled context returned no error")
	}
	if _, err := kr.DestroyVersionsBelow(ctx, target, keys.DefaultPurpose, v, inUse); !errors.Is(err, keys.ErrVersionsInUse) {
		t.Fatalf("DestroyVersionsBelow before ReEncrypt finished: err = %v, want ErrVersionsInUse", err)
	}
	var progress []gormcrypt.BackfillProgress
	pr, err := gormcrypt.ReEncrypt(ctx, db, &Leaked{}, gormcrypt.ReEncryptOptions{Subject: target, BatchSize: 20,
		Progress: func(p gormcrypt.BackfillProgress) { progress = append(progress, p) }})
	close(stop)
	wg.Wait()
	if err != nil || !pr.Done {
		t.Fatalf("resumed ReEncrypt = %+v, %v", pr, err)
	}
	if pr.Total != 100 || pr.Scanned != 100 {
		t.Fatalf("ReEncrypt of one subject read %d rows of %d, want only its 100", pr.Scanned, pr.Total)
	}
	if len(progress) < 2 || progress[0].Scanned <= 20 {
		t.Fatalf("the resumed run did not continue from the first batch: %+v", progress)
	}
	if below, err := gormcrypt.ValuesBelow(ctx, db, &Leaked{}, target, v); err != nil || below != 0 {
		t.Fatalf("ValuesBelow after ReEncrypt = %d, %v", below, err)
	}
	time.Sleep(250 * time.Millisecond) // CacheMaxAge since the rotation
	got, err := kr.DestroyVersionsBelow(ctx, target, keys.DefaultPurpose, v, inUse)
	if err != nil || got.DestroyedNow != 1 {
		t.Fatalf("DestroyVersionsBelow after ReEncrypt = %+v, %v", got, err)
	}

	// Every row reads; the application's writes survived; search works.
	var all []Leaked
	if err := db.Order("id").Find(&all).Error; err != nil || len(all) != n {
		t.Fatalf("reading every row after destroying version 1: %d rows, %v", len(all), err)
	}
	for _, r := range all {
		want := fmt.Sprintf("user%03d@example.com", r.ID-1)
		mu.Lock()
		if e, ok := last[r.ID]; ok {
			want = e
		}
		mu.Unlock()
		if r.Email != want || r.Seen == nil || !r.Seen.Equal(seen) {
			t.Fatalf("row %d: email %q (want %q), seen %v", r.ID, r.Email, want, r.Seen)
		}
	}
	var found []Leaked
	if err := db.WithContext(gormcrypt.WithSubject(ctx, target)).Scopes(gormcrypt.WhereEqual(&Leaked{}, "Phone", "+48 600 000 004")).
		Find(&found).Error; err != nil || len(found) != 1 || found[0].ID != 5 {
		t.Fatalf("WhereEqual on the deterministic column after re-encryption: %d rows, %v", len(found), err)
	}
	if f := findLeaked(t, db, "user005@example.com"); len(f) != 1 || f[0].ID != 6 { // a row the application did not write
		t.Fatalf("WhereEqual on the blind index: %d rows", len(f))
	}
	// Running it again finds nothing to do.
	again, err := gormcrypt.ReEncrypt(ctx, db, &Leaked{}, gormcrypt.ReEncryptOptions{Subject: target})
	if err != nil || again.Updated != 0 {
		t.Fatalf("second ReEncrypt = %+v, %v", again, err)
	}
}

func findLeaked(t *testing.T, db *gorm.DB, email string) []Leaked {
	t.Helper()
	var out []Leaked
	if err := db.Scopes(gormcrypt.WhereEqual(&Leaked{}, "Email", email)).Find(&out).Error; err != nil {
		t.Fatalf("WhereEqual(%q): %v", email, err)
	}
	return out
}

// TestValuesBelowCountsTokens: tokens are made under version 1 of the key,
// so destroying version 1 would make them undetokenizable; ValuesBelow
// counts them for every version above 1, and ReEncrypt refuses token
// columns.
func TestValuesBelowCountsTokens(t *testing.T) {
	ctx := context.Background()
	e := setup(t, backends[0], gormcrypt.WithModels(&Payment{}))
	if err := e.db.AutoMigrate(&Payment{}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Create(&Payment{Ref: "c-1", Card: "4111 1111 1111 1111", Phone: ptr("+48 601 234 567"), Email: "ada.lovelace@example.com"}).Error; err != nil {
		t.Fatal(err)
	}
	// Card and Phone are subject-scoped; Email is global and keyed apart.
	if n, err := gormcrypt.ValuesBelow(ctx, e.db, &Payment{}, "c-1", 2); err != nil || n != 2 {
		t.Fatalf("ValuesBelow(2) = %d, %v; want the 2 subject-scoped tokens", n, err)
	}
	if n, err := gormcrypt.ValuesBelow(ctx, e.db, &Payment{}, "c-1", 1); err != nil || n != 0 {
		t.Fatalf("ValuesBelow(1) = %d, %v", n, err)
	}
	if _, err := gormcrypt.ReEncrypt(ctx, e.db, &Payment{}, gormcrypt.ReEncryptOptions{Columns: []string{"Card"}}); !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("ReEncrypt of a token column: err = %v, want ErrUnsupported", err)
	}
}
