package gormcrypt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// lockedBuffer is a bytes.Buffer for a slog handler.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAccessSinks(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testAccessSinks(t, b) })
	}
}

func testAccessSinks(t *testing.T, b backend) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{AuditLog: true}})
	if err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	toSlog := gormcrypt.AccessSlog(slog.New(slog.NewJSONHandler(&logged, nil)))
	toLog := gormcrypt.AccessLog(kr)
	db := openGorm(t, b.open(t))
	p, err := install(db, kr, gormcrypt.WithModels(&MaskedPerson{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithReveal("auditor", "masked_people.*"), gormcrypt.WithReveal("support", "masked_people.email"),
		gormcrypt.WithAccessAudit(func(ctx context.Context, a gormcrypt.Access) { toLog(ctx, a); toSlog(ctx, a) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&MaskedPerson{}); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	rows := make([]MaskedPerson, 0, n)
	for i := range n {
		v := maskedValues(i)
		rows = append(rows, MaskedPerson{Ref: fmt.Sprintf("customer-%04d", i), Card: v["card"][0], Email: v["email"][0], Phone: v["phone"][0], Name: v["name"][0]})
	}
	if err := db.WithContext(ctx).CreateInBatches(rows, 200).Error; err != nil {
		t.Fatal(err)
	}
	start, err := kr.VerifyAuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Masked: nothing read in clear, nothing recorded.
	var page []MaskedPerson
	if err := db.WithContext(ctx).Find(&page).Error; err != nil || len(page) != n {
		t.Fatalf("%d rows, %v", len(page), err)
	}
	// Email revealed: one entry. All revealed: one per column.
	staff := gormcrypt.WithActor(ctx, "support:alice")
	if err := db.WithContext(gormcrypt.Reveal(staff, "support")).Find(&page).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(gormcrypt.Reveal(staff, "auditor")).Find(&page).Error; err != nil {
		t.Fatal(err)
	}
	var export bytes.Buffer
	head, err := kr.ExportAuditLog(ctx, &export)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.VerifyAuditExport(bytes.NewReader(export.Bytes())); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(export.String()), "\n") {
		var e keys.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Seq <= start.Seq || e.Event != keys.EventAccessed {
			continue
		}
		if e.Access.Values != n || e.Access.SubjectCount != n || len(e.Access.Subjects) != keys.MaxAccessSubjects || e.Access.Actor != "support:alice" {
			t.Errorf("entry %d: %+v", e.Seq, *e.Access)
		}
		got = append(got, e.Access.Resource)
	}
	want := "masked_people.email masked_people.card masked_people.email masked_people.name masked_people.phone"
	if strings.Join(got, " ") != want || head.Seq != start.Seq+5 {
		t.Fatalf("audit log entries of three 1000-row reads: %v (head %d, from %d), want %s", got, head.Seq, start.Seq, want)
	}
	if lines := strings.Count(logged.String(), `"msg":"fieldcrypt access"`); lines != 5 {
		t.Fatalf("%d slog records, want 5: %s", lines, logged.String())
	}
	for _, v := range maskedValues(7) {
		for _, s := range []string{export.String(), logged.String()} {
			if strings.Contains(s, v[0]) || strings.Contains(s, "customer-0") {
				t.Fatalf("the audit holds a value or subject (%q)", v[0])
			}
		}
	}
}
