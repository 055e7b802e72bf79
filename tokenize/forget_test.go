package tokenize_test

import (
	"errors"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// samples holds one valid value per format.
var samples = []struct {
	f tokenize.Format
	v string
}{
	{tokenize.Card{}, "4111 1111 1111 1111"},
	{tokenize.Email{}, "jan.kowalski@example.com"},
	{tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567"},
	{tokenize.PESEL{}, "44051401359"},
	{tokenize.NIP{}, "123-456-32-18"},
	{tokenize.SSN{}, "123-45-6789"},
	{tokenize.IBAN{}, "PL61 1090 1014 0000 0712 1981 2874"},
	{tokenize.Postcode{Country: "US"}, "94105-1804"},
	{tokenize.Date{}, "1985-03-14"},
	{tokenize.Date{Min: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Max: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), InsecureSmallDomain: true}, "1985-03-14"},
	{tokenize.Text{}, "Zażółć Gęślą"},
	{tokenize.Pattern{Mask: "AA-9999-99"}, "KR-2024-07"},
}

func TestForgetAcrossFormats(t *testing.T) {
	kr, tk := newTokenizer(t)
	type toks struct{ a, b, g string }
	all := make([]toks, len(samples))
	for i, s := range samples {
		var err error
		if all[i].a, err = tk.Tokenize(ctx, "cust-a", "shop.f", s.f, s.v); err != nil {
			t.Fatalf("%s: %v", s.f.Name(), err)
		}
		if all[i].b, err = tk.Tokenize(ctx, "cust-b", "shop.f", s.f, s.v); err != nil {
			t.Fatal(err)
		}
		if all[i].g, err = tk.TokenizeGlobal(ctx, "shop.f", s.f, s.v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kr.Forget(ctx, "cust-a", "GDPR-123"); err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		if _, err := tk.Detokenize(ctx, "cust-a", "shop.f", s.f, all[i].a); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("%s: Detokenize after Forget: %v, want keys.ErrKeyDestroyed", s.f.Name(), err)
		}
		if _, err := tk.Tokenize(ctx, "cust-a", "shop.f", s.f, s.v); !errors.Is(err, keys.ErrKeyDestroyed) {
			t.Errorf("%s: Tokenize after Forget: %v, want keys.ErrKeyDestroyed", s.f.Name(), err)
		}
		if v, err := tk.Detokenize(ctx, "cust-b", "shop.f", s.f, all[i].b); err != nil || v != s.v {
			t.Errorf("%s: other subject after Forget: %q, %v", s.f.Name(), v, err)
		}
		if v, err := tk.DetokenizeGlobal(ctx, "shop.f", s.f, all[i].g); err != nil || v != s.v {
			t.Errorf("%s: global token after Forget: %q, %v", s.f.Name(), v, err)
		}
	}
}

// TestConcurrent runs every format from several goroutines, for -race.
func TestConcurrent(t *testing.T) {
	_, tk := newTokenizer(t)
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 20 {
				s := samples[(g+i)%len(samples)]
				tok, err := tk.Tokenize(ctx, "cust-1", "f", s.f, s.v)
				if err == nil {
					var back string
					back, err = tk.Detokenize(ctx, "cust-1", "f", s.f, tok)
					if err == nil && back != s.v {
						err = errors.New("round trip mismatch for " + s.f.Name())
					}
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
