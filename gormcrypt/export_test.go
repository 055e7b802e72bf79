package gormcrypt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// Three related models of a shop, each with its own subject field, and
// one without (its rows name subjects through the context only).
type ExMember struct {
	ID         uint
	Ref        string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Tier       string
	Orders     []ExOrder `gorm:"foreignKey:MemberID"`
}

type ExOrder struct {
	ID        uint
	MemberID  uint
	MemberRef string     `gorm:"size:64;index" fieldcrypt:"subject"`
	Address   string     `gorm:"serializer:encrypt"`
	Card      string     `gorm:"size:32;serializer:token" fieldcrypt:"token:card"`
	Placed    *time.Time `gorm:"serializer:encrypt"`
	Total     int
}

type ExNote struct {
	ID        uint
	MemberRef string `gorm:"size:64;index" fieldcrypt:"subject"`
	Text      string `gorm:"serializer:encrypt_det"`
}

type ExLog struct {
	ID   uint
	Line string `gorm:"serializer:encrypt"`
}

type recordingAuditor struct {
	mu     sync.Mutex
	events []keys.Event
}

func (a *recordingAuditor) Audit(_ context.Context, e keys.Event) {
	a.mu.Lock()
	a.events = append(a.events, e)
	a.mu.Unlock()
}

func TestExport(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testExport(t, b) })
	}
}

func testExport(t *testing.T, b backend) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	audit := &recordingAuditor{}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	db := openGorm(t, b.open(t))
	models := []any{&ExMember{}, &ExOrder{}, &ExNote{}, &ExLog{}}
	p, err := install(db, kr, gormcrypt.WithModels(models...), gormcrypt.WithSweepEvery(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(models...); err != nil {
		t.Fatal(err)
	}
	db = db.WithContext(ctx)
	placed := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for i, ref := range []string{"member-a", "member-b", "member-c"} {
		m := ExMember{Ref: ref, Email: ref + "@example.com", Tier: "gold",
			Orders: []ExOrder{
				{MemberRef: ref, Address: fmt.Sprintf("ul. Długa %d, Gdańsk", i), Card: luhn(fmt.Sprintf("411100000000%03d", i)), Placed: &placed, Total: 100 + i},
				{MemberRef: ref, Address: fmt.Sprintf("ul. Krótka %d, Kraków", i), Card: luhn(fmt.Sprintf("555500000000%03d", i)), Total: 200 + i},
			}}
		if err := db.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&ExNote{MemberRef: ref, Text: "prefers evening delivery, " + ref}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.WithContext(gormcrypt.WithSubject(ctx, ref)).Create(&ExLog{Line: "login " + ref}).Error; err != nil {
			t.Fatal(err)
		}
	}

	ex, err := gormcrypt.Export(ctx, db, "member-b")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Subject != "member-b" || len(ex.Tables) != 3 || len(ex.Skipped) != 1 || ex.Skipped[0] != "ex_logs" {
		t.Fatalf("export: subject %q, %d tables, skipped %v", ex.Subject, len(ex.Tables), ex.Skipped)
	}
	got := map[string][]map[string]any{}
	for _, te := range ex.Tables {
		got[te.Table] = te.Rows
	}
	if m := got["ex_members"]; len(m) != 1 || m[0]["email"] != "member-b@example.com" || m[0]["tier"] != "gold" {
		t.Fatalf("members: %v", m)
	}
	if _, ok := got["ex_members"][0]["email_index"]; ok {
		t.Fatal("the blind index column was exported")
	}
	orders := got["ex_orders"]
	if len(orders) != 2 || orders[0]["address"] != "ul. Długa 1, Gdańsk" || orders[0]["card"] != luhn("411100000000001") ||
		orders[1]["card"] != luhn("555500000000001") || orders[1]["placed"] != nil {
		t.Fatalf("orders: %v", orders)
	}
	if p, ok := orders[0]["placed"].(time.Time); !ok || !p.Equal(placed) {
		t.Fatalf("orders[0].placed = %v", orders[0]["placed"])
	}
	if n := got["ex_notes"]; len(n) != 1 || n[0]["text"] != "prefers evening delivery, member-b" {
		t.Fatalf("notes: %v", n)
	}
	js, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"member-a", "member-c", "Długa 0", "Długa 2", luhn("411100000000000")} {
		if strings.Contains(string(js), other) {
			t.Fatalf("the export of member-b holds %q, another customer's", other)
		}
	}
	var exported int
	for _, e := range audit.events {
		if e.Type == keys.EventExported {
			exported++
			ref, _ := kr.SubjectRef("member-b")
			if e.Subject != ref || e.Reason != "" {
				t.Fatalf("export audit event %+v", e)
			}
		}
	}
	if exported != 1 {
		t.Fatalf("%d export audit events, want 1", exported)
	}

	// A forgotten subject has nothing to export.
	if _, err := gormcrypt.Forget(ctx, db, "member-b", "ticket 9"); err != nil {
		t.Fatal(err)
	}
	if _, err := gormcrypt.Export(ctx, db, "member-b"); !errors.Is(err, keys.ErrKeyDestroyed) {
		t.Fatalf("export of a forgotten subject: %v, want ErrKeyDestroyed", err)
	}
	if _, err := gormcrypt.Export(ctx, db, ""); !errors.Is(err, keys.ErrInvalidSubject) {
		t.Fatalf("export of an empty subject: %v, want ErrInvalidSubject", err)
	}
}
