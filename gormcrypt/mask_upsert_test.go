package gormcrypt_test

import (
	"context"
	"testing"

	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// Upserts and Updates from a struct carry the mask column with the value.
func TestMaskWrites(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := openGorm(t, b.open(t))
			p, err := install(db, newKeyring(t), gormcrypt.WithModels(&ContactV2{}), gormcrypt.WithSweepEvery(-1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			if err := db.AutoMigrate(&ContactV2{}); err != nil {
				t.Fatal(err)
			}
			c := ContactV2{Ref: "customer-1", Email: "ada@example.com"}
			if err := db.WithContext(ctx).Create(&c).Error; err != nil {
				t.Fatal(err)
			}
			mask := func(want string) {
				t.Helper()
				var got ContactV2
				if err := db.WithContext(ctx).Take(&got, c.ID).Error; err != nil || got.Email != want {
					t.Fatalf("mask %q, %v; want %q", got.Email, err, want)
				}
			}
			up := ContactV2{Ref: "customer-1", Email: "bea@example.org"}
			if err := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "ref"}},
				DoUpdates: clause.AssignmentColumns([]string{"email"})}).Create(&up).Error; err != nil {
				t.Fatal(err)
			}
			mask("b***@example.org")
			if err := db.WithContext(ctx).Model(&ContactV2{ID: c.ID, Ref: "customer-1"}).Updates(ContactV2{Email: "cyd@example.net"}).Error; err != nil {
				t.Fatal(err)
			}
			mask("c***@example.net")
		})
	}
}
