package gormcrypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestSafety checks, on every database, the edges where a transparent
// plugin can fail silently: writers without the plugin, values in errors
// and logs, conditions on encrypted columns, subject changes, blind indexes
// under Omit/Select/upsert, FirstOrCreate with Assign, and model tags that
// cannot work.
func TestSafety(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend)
	}{
		{"EveryWriteAPI", testEveryWriteAPI},
		{"UnregisteredWriters", testUnregisteredWriters},
		{"NoValuesInErrorsOrLogs", testNoValuesInErrorsOrLogs},
		{"Conditions", testConditions},
		{"SubjectChange", testSubjectChange},
		{"IndexesInStep", testIndexesInStep},
		{"Upsert", testUpsert},
		{"FirstOrCreateAssign", testFirstOrCreateAssign},
		{"ModelTags", testModelTags},
		{"SizeLimit", testSizeLimit},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
			}
		})
	}
}

// rawRows returns every stored value of table, as text, read without the
// plugin.
func rawRows(t *testing.T, db *gorm.DB, table string) []string {
	t.Helper()
	var rows []map[string]any
	if err := db.Session(&gorm.Session{NewDB: true}).Table(table).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		for k, v := range r {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return out
}

func assertNoSecret(t *testing.T, db *gorm.DB, table, secret string) {
	t.Helper()
	for _, v := range rawRows(t, db, table) {
		if strings.Contains(v, secret) {
			t.Fatalf("%s holds the plaintext: %s", table, v)
		}
	}
}

func testUnregisteredWriters(t *testing.T, b backend) {
	d := b.open(t)
	svc := openGorm(t, d) // the service, with the plugin; it made the tables
	kr := newKeyring(t)
	if _, err := install(svc, kr, gormcrypt.WithModels(allModels...)); err != nil {
		t.Fatal(err)
	}
	if err := svc.AutoMigrate(allModels...); err != nil {
		t.Fatal(err)
	}
	c := sample("c-1")
	if err := svc.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	// A second *gorm.DB on the same database without db.Use: an admin
	// tool, a worker, a forgotten call. gormcrypt's serializers are
	// registered in this process, so GORM parses the model.
	plain := openGorm(t, d)
	const secret = "Secretvalue4711"
	id := c.ID
	model := func() *gorm.DB { return plain.Model(&Customer{}).Where("id = ?", id) }
	writes := []struct {
		name string
		run  func() error
	}{
		{"Updates(map)", func() error { return model().Updates(map[string]any{"email": secret}).Error }},
		{"Update", func() error { return model().Update("email", secret).Error }},
		{"UpdateColumn", func() error { return model().UpdateColumn("name", secret).Error }},
		{"UpdateColumns", func() error { return model().UpdateColumns(map[string]any{"phone": secret}).Error }},
		{"Update blind index", func() error { return model().Update("email_index", secret).Error }},
		{"Update time column", func() error { return model().Update("born", "2026-01-01").Error }},
		{"Model.Create(map)", func() error {
			return plain.Model(&Customer{}).Create(map[string]any{"ref": "c-map", "email": secret}).Error
		}},
		{"Table.Create(map)", func() error {
			return plain.Table("customers").Create(map[string]any{"ref": "c-table", "email": secret}).Error
		}},
		{"Table.Updates(map)", func() error {
			return plain.Table("customers").Where("id = ?", id).Updates(map[string]any{"email": secret}).Error
		}},
		{"Create(struct)", func() error { return plain.Create(&Customer{Ref: "c-struct", Email: secret}).Error }},
		{"Save", func() error {
			cc := c
			cc.Email = secret
			return plain.Save(&cc).Error
		}},
		{"Updates(struct)", func() error { return plain.Model(&Customer{ID: id}).Updates(Customer{Email: secret}).Error }},
		{"Exec", func() error { return plain.Exec("UPDATE customers SET email = ? WHERE id = ?", secret, id).Error }},
	}
	for _, w := range writes {
		err := w.run()
		if err == nil {
			t.Errorf("%s without the plugin: no error", w.name)
		}
		assertNoSecret(t, plain, "customers", secret)
		if err != nil && strings.Contains(err.Error(), secret) && b.name != "Postgres" {
			t.Errorf("%s: the error holds the plaintext: %v", w.name, err)
		}
	}
	// The service still reads its row.
	var got Customer
	if err := svc.First(&got, id).Error; err != nil || got.Email != c.Email {
		t.Fatalf("after the refused writes: %v, email %q", err, got.Email)
	}
}

// capture is a GORM logger at Info level (every statement, with its
// values) writing into a buffer.
func capture(buf *bytes.Buffer) logger.Interface {
	return logger.New(log.New(buf, "", 0), logger.Config{LogLevel: logger.Info, Colorful: false})
}

func testNoValuesInErrorsOrLogs(t *testing.T, b backend) {
	ctx := context.Background()
	e := setup(t, b, gormcrypt.WithModels(&Payment{}))
	if err := e.db.AutoMigrate(&Payment{}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db := e.db.Session(&gorm.Session{Logger: capture(&logs)})
	gone := sample("c-gone")
	if err := db.Create(&gone).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := gormcrypt.Forget(ctx, e.db, "c-gone", "ticket-1"); err != nil {
		t.Fatal(err)
	}
	const secret = "Secretvalue4711"
	cases := []struct {
		name string
		want error
		run  func() error
	}{
		{"no subject", gormcrypt.ErrNoSubject, func() error { return db.Create(&Customer{Email: secret}).Error }},
		{"no subject, slice", gormcrypt.ErrNoSubject, func() error {
			return db.Create(&[]Customer{{Ref: "c-ok", Email: "ok"}, {Email: secret}}).Error
		}},
		{"key destroyed", keys.ErrKeyDestroyed, func() error {
			return db.Create(&Customer{Ref: "c-gone", Email: secret, Name: ptr(secret)}).Error
		}},
		{"key destroyed, Updates", keys.ErrKeyDestroyed, func() error {
			return db.Model(&Customer{ID: gone.ID, Ref: "c-gone"}).Updates(Customer{Email: secret}).Error
		}},
		{"key destroyed, Save", keys.ErrKeyDestroyed, func() error {
			g := gone
			g.Email = secret
			return db.Save(&g).Error
		}},
		{"key destroyed, map", keys.ErrKeyDestroyed, func() error {
			return db.Model(&Customer{ID: gone.ID, Ref: "c-gone"}).Updates(map[string]any{"email": secret}).Error
		}},
		{"invalid token format", tokenize.ErrInvalidFormat, func() error {
			return db.Create(&Payment{Ref: "c-pay", Card: "card " + secret}).Error
		}},
		{"invalid token format, Updates", tokenize.ErrInvalidFormat, func() error {
			return db.Model(&Payment{ID: 1, Ref: "c-pay"}).Updates(Payment{Card: "card " + secret}).Error
		}},
	}
	for _, c := range cases {
		err := c.run()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error holds the value: %v", c.name, err)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the GORM log holds the value:\n%s", logs.String())
	}
	assertNoSecret(t, e.db, "customers", secret)
	assertNoSecret(t, e.db, "payments", secret)
}

func testConditions(t *testing.T, b backend) {
	e := setup(t, b)
	a, other := sample("c-1"), sample("c-2")
	other.Name = nil // NULL: what a swallowed condition compared with
	for _, c := range []*Customer{&a, &other} {
		if err := e.db.Create(c).Error; err != nil {
			t.Fatal(err)
		}
	}
	name := *a.Name
	var found []Customer
	refused := []struct {
		name string
		run  func() *gorm.DB
	}{
		{"Where(struct)", func() *gorm.DB { return e.db.Where(&Customer{Name: &name}).Find(&found) }},
		{"First(dest, struct)", func() *gorm.DB { var c Customer; return e.db.First(&c, Customer{Name: &name}) }},
		{"Find(dest, struct)", func() *gorm.DB { return e.db.Find(&found, &Customer{Email: a.Email}) }},
		{"Where(map)", func() *gorm.DB { return e.db.Where(map[string]any{"email": a.Email}).Find(&found) }},
		{"Not(struct)", func() *gorm.DB { return e.db.Not(&Customer{Name: &name}).Find(&found) }},
		{"Or(map)", func() *gorm.DB {
			return e.db.Where("tier = ?", "none").Or(map[string]any{"phone": a.Phone}).Find(&found)
		}},
		{"Count(struct)", func() *gorm.DB { var n int64; return e.db.Model(&Customer{}).Where(&Customer{Name: &name}).Count(&n) }},
		{"Delete(struct)", func() *gorm.DB { return e.db.Where(&Customer{Name: &name}).Delete(&Customer{}) }},
		{"Delete(conds)", func() *gorm.DB { return e.db.Delete(&Customer{}, Customer{Name: &name}) }},
		{"Joins with a struct condition", func() *gorm.DB {
			var addrs []AddressWithCustomer
			return e.db.Joins("Customer", e.db.Where(&Customer{Name: &name})).Find(&addrs)
		}},
		{"Preload with a struct condition", func() *gorm.DB {
			return e.db.Preload("Addresses", &Address{Street: "Main St 1"}).Find(&found)
		}},
		{"Updates where struct", func() *gorm.DB {
			return e.db.Model(&Customer{}).Where(&Customer{Name: &name}).Update("tier", "silver")
		}},
	}
	for _, r := range refused {
		found = nil
		res := r.run()
		if !errors.Is(res.Error, gormcrypt.ErrUnsupported) || !strings.Contains(res.Error.Error(), "WhereEqual") {
			t.Errorf("%s: err = %v, want ErrUnsupported pointing to WhereEqual", r.name, res.Error)
		}
		if strings.HasPrefix(r.name, "Preload") {
			continue // the customers are read before the preload query fails
		}
		if len(found) != 0 || res.RowsAffected != 0 {
			t.Errorf("%s: %d rows found, %d affected", r.name, len(found), res.RowsAffected)
		}
	}
	var n int64
	e.db.Model(&Customer{}).Count(&n)
	if n != 2 {
		t.Fatalf("%d customers left, want 2", n)
	}
	var tiers []Customer
	if err := e.db.Where(&Customer{Ref: "c-2", Tier: "gold"}).Find(&tiers).Error; err != nil || len(tiers) != 1 || tiers[0].Ref != "c-2" {
		t.Fatalf("conditions on plain columns: %v, %d rows", err, len(tiers))
	}
	if got := findByEmail(t, e.db, a.Email); len(got) != 1 || got[0].Ref != "c-1" {
		t.Fatalf("WhereEqual: %d rows", len(got))
	}
}

func testSubjectChange(t *testing.T, b backend) {
	e := setup(t, b)
	c := sample("c-1")
	if err := e.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	// By id, writing only the subject.
	err := e.db.Model(&Customer{ID: c.ID}).Updates(Customer{Ref: "c-new"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("Updates(Customer{Ref}) by id: err = %v, want ErrUnsupported", err)
	}
	err = e.db.Model(&Customer{ID: c.ID}).Updates(map[string]any{"ref": "c-new"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("Updates(map{ref}) by id: err = %v, want ErrUnsupported", err)
	}
	err = e.db.Model(&Customer{ID: c.ID}).Updates(Customer{Ref: "c-new", Email: "new@example.com"}).Error
	if !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("Updates(Customer{Ref, Email}) by id: err = %v, want ErrUnsupported", err)
	}
	var got Customer
	if err := e.db.First(&got, c.ID).Error; err != nil || got.Ref != "c-1" || got.Email != c.Email {
		t.Fatalf("after refused subject changes: %v, ref %q email %q", err, got.Ref, got.Email)
	}
	// The loaded row, its subject unchanged, with some fields zero: allowed.
	got.Tier, got.Name = "platinum", nil
	if err := e.db.Model(&got).Updates(&got).Error; err != nil {
		t.Fatalf("Updates(&loaded): %v", err)
	}
	// Save writes every column: the row is re-encrypted for the new subject.
	got.Ref = "c-moved"
	if err := e.db.Save(&got).Error; err != nil {
		t.Fatalf("Save with a new subject: %v", err)
	}
	var moved Customer
	if err := e.db.First(&moved, c.ID).Error; err != nil || moved.Ref != "c-moved" || moved.Email != c.Email || moved.Tier != "platinum" {
		t.Fatalf("after Save: %v, %+v", err, moved)
	}
	if found := findByEmail(t, e.db, c.Email); len(found) != 1 || found[0].Ref != "c-moved" {
		t.Fatalf("index after Save: %d rows", len(found))
	}
}

func testIndexesInStep(t *testing.T, b backend) {
	e := setup(t, b)
	c := sample("c-1")
	if err := e.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	check := func(step, want string, gone ...string) {
		t.Helper()
		var got Customer
		if err := e.db.First(&got, c.ID).Error; err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got.Email != want {
			t.Fatalf("%s: email %q, want %q", step, got.Email, want)
		}
		if f := findByEmail(t, e.db, want); len(f) != 1 {
			t.Fatalf("%s: the index finds %d rows for the stored email", step, len(f))
		}
		for _, g := range gone {
			if f := findByEmail(t, e.db, g); len(f) != 0 {
				t.Fatalf("%s: the index still finds %q", step, g)
			}
		}
	}
	m := func() *gorm.DB { return e.db.Model(&Customer{ID: c.ID, Ref: "c-1"}) }
	if err := m().Omit("Email").Updates(Customer{Email: "omitted@example.com", Tier: "silver"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Omit(Email)", c.Email, "omitted@example.com")
	if err := m().Select("Tier").Updates(Customer{Email: "unselected@example.com", Tier: "bronze"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Select(Tier)", c.Email, "unselected@example.com")
	if err := m().Select("Email").Updates(Customer{Email: "selected@example.com"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Select(Email)", "selected@example.com", c.Email)
	if err := m().Select("email").Updates(&Customer{Email: "lower@example.com"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Select(email) pointer", "lower@example.com", "selected@example.com")
	if err := m().Omit("EmailIndex").Updates(Customer{Email: "omit-index@example.com"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Omit(EmailIndex)", "omit-index@example.com", "lower@example.com")
	if err := m().Select("EmailIndex").Updates(Customer{Email: "x@example.com"}).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
		t.Fatalf("Select(EmailIndex) alone: err = %v, want ErrUnsupported", err)
	}
	var got Customer
	e.db.First(&got, c.ID)
	got.Email = "saved@example.com"
	if err := e.db.Save(&got).Error; err != nil {
		t.Fatal(err)
	}
	check("Save", "saved@example.com", "omit-index@example.com")
	if err := e.db.Select("*").Omit("Email").Save(&Customer{ID: c.ID, Ref: "c-1", Email: "save-omit@example.com", Tier: "x"}).Error; err != nil {
		t.Fatal(err)
	}
	check("Save with Omit(Email)", "saved@example.com", "save-omit@example.com")
}

func testUpsert(t *testing.T, b backend) {
	e := setup(t, b)
	c := sample("c-1")
	if err := e.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	stored := func() Customer {
		t.Helper()
		var got Customer
		if err := e.db.Where("ref = ?", "c-1").First(&got).Error; err != nil {
			t.Fatal(err)
		}
		return got
	}
	next := func(email string) *Customer {
		n := sample("c-1")
		n.Email = email
		return &n
	}
	onRef := []clause.Column{{Name: "ref"}}
	// AssignmentColumns on the subject's conflict target: the index follows.
	err := e.db.Clauses(clause.OnConflict{Columns: onRef, DoUpdates: clause.AssignmentColumns([]string{"email"})}).
		Create(next("upsert@example.com")).Error
	if err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Email != "upsert@example.com" {
		t.Fatalf("AssignmentColumns(email): email %q", got.Email)
	}
	if f := findByEmail(t, e.db, "upsert@example.com"); len(f) != 1 {
		t.Fatalf("AssignmentColumns(email): the index finds %d rows", len(f))
	}
	if f := findByEmail(t, e.db, c.Email); len(f) != 0 {
		t.Fatal("AssignmentColumns(email): the index still finds the old email")
	}
	// UpdateAll.
	if err := e.db.Clauses(clause.OnConflict{Columns: onRef, UpdateAll: true}).Create(next("all@example.com")).Error; err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Email != "all@example.com" || len(findByEmail(t, e.db, "all@example.com")) != 1 {
		t.Fatalf("UpdateAll: email %q", got.Email)
	}
	// DoNothing.
	if err := e.db.Clauses(clause.OnConflict{DoNothing: true}).Create(next("nothing@example.com")).Error; err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Email != "all@example.com" {
		t.Fatalf("DoNothing: email %q", got.Email)
	}
	// Refused: a value of its own for an encrypted column, an index
	// without its source, a conflict target that is not the subject.
	for name, oc := range map[string]clause.OnConflict{
		"Assignments(email)":     {Columns: onRef, DoUpdates: clause.Assignments(map[string]any{"email": "Secretvalue4711"})},
		"AssignmentColumns(idx)": {Columns: onRef, DoUpdates: clause.AssignmentColumns([]string{"email_index"})},
		"conflict on id":         {Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns([]string{"email"})},
	} {
		n := next("refused@example.com")
		n.ID = c.ID
		if err := e.db.Clauses(oc).Create(n).Error; !errors.Is(err, gormcrypt.ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", name, err)
		}
	}
	if got := stored(); got.Email != "all@example.com" {
		t.Fatalf("after refused upserts: email %q", got.Email)
	}
	assertNoSecret(t, e.db, "customers", "Secretvalue4711")
}

func testFirstOrCreateAssign(t *testing.T, b backend) {
	e := setup(t, b)
	c := sample("c-1")
	if err := e.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	var got Customer
	err := e.db.Where(Customer{Ref: "c-1"}).Assign(Customer{Email: "assigned@example.com", Tier: "silver"}).FirstOrCreate(&got).Error
	if err != nil {
		t.Fatalf("FirstOrCreate+Assign on an existing row: %v", err)
	}
	var back Customer
	if err := e.db.First(&back, c.ID).Error; err != nil || back.Email != "assigned@example.com" || back.Tier != "silver" {
		t.Fatalf("after FirstOrCreate+Assign: %v, %q %q", err, back.Email, back.Tier)
	}
	if f := findByEmail(t, e.db, "assigned@example.com"); len(f) != 1 {
		t.Fatalf("the index finds %d rows for the assigned email", len(f))
	}
	var fresh Customer
	err = e.db.Where(Customer{Ref: "c-9"}).Assign(Customer{Email: "nine@example.com"}).FirstOrCreate(&fresh).Error
	if err != nil || fresh.ID == 0 {
		t.Fatalf("FirstOrCreate+Assign creating: %v", err)
	}
	if f := findByEmail(t, e.db, "nine@example.com"); len(f) != 1 || f[0].Ref != "c-9" {
		t.Fatalf("the created row is found %d times", len(f))
	}
	var attrs Customer
	err = e.db.Where(Customer{Ref: "c-10"}).Attrs(Customer{Email: "ten@example.com"}).FirstOrInit(&attrs).Error
	if err != nil || attrs.Email != "ten@example.com" {
		t.Fatalf("FirstOrInit+Attrs: %v, %q", err, attrs.Email)
	}
}

// Models with gorm tags that cannot work on an encrypted column.
type (
	tagDefault struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:encrypt;default:nobody"`
	}
	tagUnique struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:encrypt_det;uniqueIndex"`
	}
	tagUniqueNamed struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:encrypt;index:idx_email,unique"`
	}
	tagSize struct {
		ID    uint
		Ref   string `fieldcrypt:"subject"`
		Email string `gorm:"serializer:encrypt;size:64"`
	}
	tagIndexSize struct {
		ID         uint
		Ref        string  `fieldcrypt:"subject"`
		Email      string  `gorm:"serializer:encrypt"`
		EmailIndex *string `gorm:"size:16" fieldcrypt:"blind_index:Email"`
	}
	tagChild struct {
		ID    uint
		Ref   string         `fieldcrypt:"subject"`
		Notes []tagChildNote `gorm:"foreignKey:OwnerID"`
	}
	tagChildNote struct {
		ID      uint
		OwnerID uint
		Text    string `gorm:"serializer:encrypt"`
	}
	// Allowed: a unique blind index, a global token with a unique index,
	// a size that fits.
	tagGood struct {
		ID         uint
		Ref        string  `fieldcrypt:"subject"`
		Email      string  `gorm:"serializer:encrypt;size:200"`
		EmailIndex *string `gorm:"size:32;uniqueIndex" fieldcrypt:"blind_index:Email"`
		Card       string  `gorm:"serializer:token;size:32;uniqueIndex" fieldcrypt:"token:card;scope:global"`
	}
)

func testModelTags(t *testing.T, b backend) {
	e := setup(t, b)
	for _, m := range []struct {
		model any
		want  string
	}{
		{&tagDefault{}, "default:nobody on an encrypted column would be stored by the database in clear"},
		{&tagUnique{}, "Put the uniqueIndex on a blind index"},
		{&tagUniqueNamed{}, "Put the uniqueIndex on a blind index"},
		{&tagSize{}, "size:64 is too small for a ciphertext: this column needs at least size:110"},
		{&tagIndexSize{}, "size:16 cannot hold a blind index"},
		{&tagChild{}, "tagChild.Notes: the related model tagChildNote has encrypted field Text but no fieldcrypt:\"subject\" field"},
	} {
		_, err := install(openGorm(t, b.open(t)), e.kr, gormcrypt.WithModels(m.model))
		if !errors.Is(err, gormcrypt.ErrInvalidModel) || !strings.Contains(err.Error(), m.want) {
			t.Errorf("db.Use(New(WithModels(%T))): err = %v, want ErrInvalidModel mentioning %q", m.model, err, m.want)
		}
	}
	db := openGorm(t, b.open(t))
	if _, err := install(db, e.kr, gormcrypt.WithModels(&tagGood{})); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&tagGood{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&tagGood{Ref: "c-1", Email: "a@example.com", Card: "4111 1111 1111 1111"}).Error; err != nil {
		t.Fatal(err)
	}
	// The unique blind index enforces uniqueness of the (normalised) value.
	if err := db.Create(&tagGood{Ref: "c-2", Email: "A@example.com ", Card: "5500 0000 0000 0004"}).Error; err == nil {
		t.Error("a second row with an equal email passed the unique blind index")
	}
}

type sized struct {
	ID    uint
	Ref   string `gorm:"size:64" fieldcrypt:"subject"`
	Email string `gorm:"serializer:encrypt;size:200"`
	Code  string `gorm:"serializer:encrypt_det;size:120"`
}

func testSizeLimit(t *testing.T, b backend) {
	e := setup(t, b, gormcrypt.WithModels(&sized{}))
	if err := e.db.AutoMigrate(&sized{}); err != nil {
		t.Fatal(err)
	}
	// size:200 holds 3·200/4 − 82 = 68 bytes; size:120 deterministic 90 − 70 = 20.
	fits := sized{Ref: "c-1", Email: strings.Repeat("e", 68), Code: strings.Repeat("c", 20)}
	if err := e.db.Create(&fits).Error; err != nil {
		t.Fatalf("values at the limit: %v", err)
	}
	var got sized
	if err := e.db.First(&got, fits.ID).Error; err != nil || got.Email != fits.Email || got.Code != fits.Code {
		t.Fatalf("read back: %v", err)
	}
	for _, s := range []sized{
		{Ref: "c-2", Email: strings.Repeat("e", 69)},
		{Ref: "c-3", Code: strings.Repeat("c", 21)},
	} {
		if err := e.db.Create(&s).Error; !errors.Is(err, gormcrypt.ErrValueTooLong) {
			t.Errorf("too long: err = %v, want ErrValueTooLong", err)
		}
	}
	if err := e.db.Model(&sized{ID: fits.ID, Ref: "c-1"}).Updates(map[string]any{"email": strings.Repeat("e", 69)}).Error; !errors.Is(err, gormcrypt.ErrValueTooLong) {
		t.Errorf("too long in a map update: err = %v, want ErrValueTooLong", err)
	}
	var n int64
	e.db.Model(&sized{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// testEveryWriteAPI writes a distinct value through each GORM write API of
// a registered DB and checks the raw rows never hold it, that it reads
// back, and that the blind index finds it.
func testEveryWriteAPI(t *testing.T, b backend) {
	e := setup(t, b)
	db := e.db
	base := sample("c-1")
	if err := db.Create(&base).Error; err != nil {
		t.Fatal(err)
	}
	id := base.ID
	byID := func() *gorm.DB { return db.Model(&Customer{ID: id, Ref: "c-1"}) }
	apis := []struct {
		name string
		run  func(v string) error
		ref  string // whose row holds v afterwards
	}{
		{"Create", func(v string) error { c := sample("c-2"); c.Email = v; return db.Create(&c).Error }, "c-2"},
		{"CreateInBatches", func(v string) error {
			cs := []Customer{sample("c-3"), sample("c-4")}
			cs[1].Email = v
			return db.CreateInBatches(&cs, 1).Error
		}, "c-4"},
		{"Save", func(v string) error { var c Customer; db.First(&c, id); c.Email = v; return db.Save(&c).Error }, "c-1"},
		{"Updates(struct)", func(v string) error { return byID().Updates(Customer{Email: v}).Error }, "c-1"},
		{"Updates(&struct)", func(v string) error { return byID().Updates(&Customer{Email: v}).Error }, "c-1"},
		{"Updates(map)", func(v string) error { return byID().Updates(map[string]any{"email": v}).Error }, "c-1"},
		{"Updates(map, field name)", func(v string) error { return byID().Updates(map[string]any{"Email": v}).Error }, "c-1"},
		{"Update", func(v string) error { return byID().Update("email", v).Error }, "c-1"},
		{"UpdateColumn", func(v string) error { return byID().UpdateColumn("email", v).Error }, "c-1"},
		{"UpdateColumns(map)", func(v string) error { return byID().UpdateColumns(map[string]any{"email": v}).Error }, "c-1"},
		{"UpdateColumns(struct)", func(v string) error { return byID().UpdateColumns(Customer{Email: v}).Error }, "c-1"},
		{"Select.Updates", func(v string) error { return byID().Select("Email").Updates(Customer{Email: v}).Error }, "c-1"},
		{"FirstOrCreate", func(v string) error {
			var c Customer
			return db.Where(Customer{Ref: "c-5"}).Attrs(Customer{Email: v}).FirstOrCreate(&c).Error
		}, "c-5"},
		{"FirstOrCreate+Assign", func(v string) error {
			var c Customer
			return db.Where(Customer{Ref: "c-5"}).Assign(Customer{Email: v}).FirstOrCreate(&c).Error
		}, "c-5"},
		{"Upsert", func(v string) error {
			c := sample("c-1")
			c.Email = v
			return db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "ref"}},
				DoUpdates: clause.AssignmentColumns([]string{"email"})}).Create(&c).Error
		}, "c-1"},
		{"Transaction", func(v string) error {
			return db.Transaction(func(tx *gorm.DB) error {
				return tx.Model(&Customer{ID: id, Ref: "c-1"}).Updates(Customer{Email: v}).Error
			})
		}, "c-1"},
	}
	for i, api := range apis {
		v := fmt.Sprintf("write-api-%d@example.com", i)
		if err := api.run(v); err != nil {
			t.Errorf("%s: %v", api.name, err)
			continue
		}
		assertNoSecret(t, db, "customers", v)
		found := findByEmail(t, db, v)
		if len(found) != 1 || found[0].Ref != api.ref || found[0].Email != v {
			t.Errorf("%s: the blind index finds %d rows (want %s's)", api.name, len(found), api.ref)
		}
	}
}
