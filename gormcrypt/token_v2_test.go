package gormcrypt_test

import (
	"context"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// PersonV2 uses the version 2 token formats by their default names.
type PersonV2 struct {
	ID    uint
	Ref   string `gorm:"size:64;index" fieldcrypt:"subject"`
	Phone string `gorm:"serializer:token;size:32" fieldcrypt:"token:phone_v2"`
	PESEL string `gorm:"serializer:token;size:11" fieldcrypt:"token:pesel_v2"`
	Born  string `gorm:"serializer:token;size:10" fieldcrypt:"token:date_v2"`
}

// TestTokenFormatsV2: phone_v2, pesel_v2 and date_v2 are known by name, and
// store tokens of tokenize's version 2 formats.
func TestTokenFormatsV2(t *testing.T) {
	ctx := context.Background()
	e := setup(t, backends[0], gormcrypt.WithModels(&PersonV2{}))
	if err := e.db.AutoMigrate(&PersonV2{}); err != nil {
		t.Fatal(err)
	}
	p := PersonV2{Ref: "c-1", Phone: "+48 601 234 567", PESEL: "44051401359", Born: "1985-03-14"}
	if err := e.db.Create(&p).Error; err != nil {
		t.Fatal(err)
	}
	var raw struct{ Phone, Pesel, Born string }
	e.db.Raw("SELECT phone, pesel, born FROM person_v2").Scan(&raw)
	tk, err := tokenize.New(e.kr)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f        tokenize.Format
		col, tok string
		value    string
	}{
		{tokenize.Phone{DefaultRegion: "PL", Version: 2}, "phone", raw.Phone, p.Phone},
		{tokenize.PESEL{Version: 2}, "pesel", raw.Pesel, p.PESEL},
		{tokenize.Date{Version: 2}, "born", raw.Born, p.Born},
	} {
		want, err := tk.Tokenize(ctx, "c-1", "person_v2."+c.col, c.f, c.value)
		if err != nil || c.tok != want {
			t.Errorf("%s: stored %q, want the version 2 token %q (%v)", c.col, c.tok, want, err)
		}
	}
	var got PersonV2
	if err := e.db.First(&got).Error; err != nil || got.Phone != p.Phone || got.PESEL != p.PESEL || got.Born != p.Born {
		t.Fatalf("read back %+v, %v", got, err)
	}
}
