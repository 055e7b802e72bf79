package gormcrypt_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// Subscriber masks its encrypted email and phone: the masks are kept beside
// them, in EmailMask and PhoneMask, declared before the values.
type Subscriber struct {
	ID        uint
	Ref       string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
	EmailMask *string `gorm:"size:320"`
	Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
	PhoneMask *string `gorm:"size:32"`
	Phone     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:phone"`
}

func openExampleDB(opts ...gormcrypt.Option) (*gorm.DB, *keys.Keyring, func()) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{AuditLog: true}})
	db, _ := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{Logger: logger.Discard})
	p, err := gormcrypt.New(kr, append([]gormcrypt.Option{gormcrypt.WithModels(&Subscriber{}), gormcrypt.WithSweepEvery(-1)}, opts...)...)
	if err != nil {
		panic(err)
	}
	if err := db.Use(p); err != nil {
		panic(err)
	}
	db.AutoMigrate(&Subscriber{})
	return db, kr, func() { p.Close() }
}

// Reads are masked unless a role with a grant is revealed; a masked read
// decrypts nothing, and a masked row is never written back.
func ExampleReveal() {
	ctx := context.Background()
	db, _, done := openExampleDB(gormcrypt.WithReveal("support", "subscribers.email"))
	defer done()
	db.Create(&Subscriber{Ref: "customer-1", Email: "jan.kowalski@example.com", Phone: "+48 601 234 567"})

	var m Subscriber
	db.WithContext(ctx).First(&m)
	fmt.Println("masked:", m.Email, m.Phone)
	db.WithContext(gormcrypt.Reveal(ctx, "support")).First(&m)
	fmt.Println("support:", m.Email, m.Phone)
	db.WithContext(gormcrypt.Reveal(ctx, "intern")).First(&m)
	fmt.Println("unknown role:", m.Email)
	err := db.Save(&m).Error
	fmt.Println("save masked:", errors.Is(err, gormcrypt.ErrMasked))
	// Output:
	// masked: j***@example.com +** *** *** 567
	// support: jan.kowalski@example.com +** *** *** 567
	// unknown role: j***@example.com
	// save masked: true
}

// A mask added to a table that holds values: AutoMigrate adds the mask
// column, BackfillMasks fills it.
func ExampleBackfillMasks() {
	ctx := context.Background()
	db, _, done := openExampleDB()
	defer done()
	db.Create(&Subscriber{Ref: "customer-1", Email: "ada@example.com", Phone: "+48 601 234 567"})
	db.Exec("UPDATE subscribers SET email_mask = NULL, phone_mask = NULL") // as before the mask columns

	var m Subscriber
	db.First(&m)
	fmt.Println("before:", m.Email)
	n, err := gormcrypt.BackfillMasks(ctx, db, &Subscriber{}, 0)
	fmt.Println("filled:", n, err)
	db.First(&m)
	fmt.Println("after:", m.Email)
	// Output:
	// before: ****
	// filled: 2 <nil>
	// after: a***@example.com
}

// Reads in clear go to the keystore's tamper-evident audit log, one entry
// per statement and column.
func ExampleAccessLog() {
	ctx := context.Background()
	var kr *keys.Keyring
	db, kr, done := openExampleDB(gormcrypt.WithReveal("support", "subscribers.*"),
		gormcrypt.WithAccessAudit(func(ctx context.Context, a gormcrypt.Access) { gormcrypt.AccessLog(kr)(ctx, a) }))
	defer done()
	for i := range 3 {
		db.Create(&Subscriber{Ref: fmt.Sprintf("customer-%d", i), Email: "ada@example.com", Phone: "+48 601 234 567"})
	}
	before, _ := kr.VerifyAuditLog(ctx) // 3 keys created
	var all []Subscriber
	db.WithContext(ctx).Find(&all) // masked: nothing read in clear
	db.WithContext(gormcrypt.Reveal(gormcrypt.WithActor(ctx, "support:alice"), "support")).Find(&all)
	head, err := kr.VerifyAuditLog(ctx)
	fmt.Println("access entries:", head.Seq-before.Seq, err)
	// Output:
	// access entries: 2 <nil>
}

// AccessSlog writes each access record to a slog.Logger.
func ExampleAccessSlog() {
	ctx := context.Background()
	l := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	db, _, done := openExampleDB(gormcrypt.WithReveal("support", "subscribers.email"), gormcrypt.WithAccessAudit(gormcrypt.AccessSlog(l)))
	defer done()
	db.Create(&Subscriber{Ref: "customer-1", Email: "ada@example.com", Phone: "+48 601 234 567"})
	var m Subscriber
	db.WithContext(gormcrypt.Reveal(gormcrypt.WithActor(ctx, "support:alice"), "support")).First(&m)
	// Output:
	// level=INFO msg="fieldcrypt access" actor=support:alice roles=[support] table=subscribers column=email purpose=default values=1 subjects=1
}

func ExampleMaskNameInitial() {
	fmt.Println(gormcrypt.MaskNameInitial("jan Kowalski"), gormcrypt.MaskNameInitial("Żaneta"), gormcrypt.MaskNameInitial(" 42"))
	// Output: J. Ż. *.
}
