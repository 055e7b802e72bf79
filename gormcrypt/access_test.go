package gormcrypt_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

type accessLog struct {
	mu  sync.Mutex
	got []gormcrypt.Access
}

func (l *accessLog) record(_ context.Context, a gormcrypt.Access) {
	l.mu.Lock()
	l.got = append(l.got, a)
	l.mu.Unlock()
}

func (l *accessLog) take() []gormcrypt.Access {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.got
	l.got = nil
	return out
}

func TestAccessAudit(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testAccessAudit(t, b) })
	}
}

func testAccessAudit(t *testing.T, b backend) {
	ctx := context.Background()
	db := openGorm(t, b.open(t))
	kr := newKeyring(t)
	log := &accessLog{}
	p, err := install(db, kr, gormcrypt.WithModels(&Cardholder{}), gormcrypt.WithSweepEvery(-1),
		gormcrypt.WithReveal("billing", "cardholders.card"), gormcrypt.WithAccessAudit(log.record))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := db.AutoMigrate(&Cardholder{}); err != nil {
		t.Fatal(err)
	}
	rows := make([]Cardholder, 0, 1000)
	for i := range 1000 {
		rows = append(rows, Cardholder{Ref: fmt.Sprintf("customer-%04d", i), Card: "4111111111111111", Name: fmt.Sprintf("Name %d", i)})
	}
	if err := db.WithContext(ctx).CreateInBatches(rows, 200).Error; err != nil {
		t.Fatal(err)
	}
	log.take() // writes are not reads

	// A list page of 1000 rows, card masked: one record (the names), none
	// for the masked cards.
	staff := gormcrypt.WithActor(ctx, "support:alice")
	var page []Cardholder
	if err := db.WithContext(staff).Find(&page).Error; err != nil || len(page) != 1000 {
		t.Fatalf("Find: %d rows, %v", len(page), err)
	}
	got := log.take()
	if len(got) != 1 || got[0].Column != "name" || got[0].Values != 1000 || got[0].SubjectCount != 1000 ||
		len(got[0].Subjects) != gormcrypt.MaxAccessSubjects || got[0].Actor != "support:alice" || got[0].Table != "cardholders" {
		t.Fatalf("records of a masked 1000-row read: %+v", summary(got))
	}
	// Revealed: one record per column.
	if err := db.WithContext(gormcrypt.Reveal(gormcrypt.WithActor(ctx, "billing:bob"), "billing")).Limit(10).Find(&page).Error; err != nil {
		t.Fatal(err)
	}
	got = log.take()
	if len(got) != 2 || got[0].Column != "card" || got[0].Values != 10 || got[0].Purpose != "tokens" || got[1].Column != "name" ||
		got[0].Roles[0] != "billing" {
		t.Fatalf("records of a revealed read: %+v", summary(got))
	}
	// ScanRows: one record per call and column.
	r, err := db.WithContext(ctx).Model(&Cardholder{}).Limit(3).Rows()
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c Cardholder
		if err := gormcrypt.ScanRows(db, r, &c); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if got = log.take(); len(got) != 3 || got[0].Values != 1 {
		t.Fatalf("records of 3 ScanRows calls: %+v", summary(got))
	}
	// GORM's Scan runs no callback after scanning: one record per value.
	var scanned []Cardholder
	if err := db.WithContext(ctx).Model(&Cardholder{}).Limit(2).Scan(&scanned).Error; err != nil || len(scanned) != 2 {
		t.Fatalf("Scan: %d rows, %v", len(scanned), err)
	}
	if got2 := log.take(); len(got2) != 2 || got2[0].Values != 1 || got2[0].Column != "name" {
		t.Fatalf("records of a 2-row Scan: %+v", summary(got2))
	}
	// No record holds a value.
	for _, a := range got {
		if s := fmt.Sprintf("%+v", a); strings.Contains(s, "Name ") || strings.Contains(s, "4111") || strings.Contains(s, "customer-") {
			t.Fatalf("an access record holds a value: %s", s)
		}
	}
}

func summary(as []gormcrypt.Access) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s.%s values=%d subjects=%d/%d actor=%q roles=%v", a.Table, a.Column, a.Values, len(a.Subjects), a.SubjectCount, a.Actor, a.Roles))
	}
	return out
}
