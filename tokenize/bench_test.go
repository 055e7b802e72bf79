package tokenize_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

var sink string

// BenchmarkPAN measures a 16-digit PAN end to end with a warm key cache,
// beside the raw FF1 call on the same 16 digits. Card{} encrypts 11 of
// them (KeepLast4, one digit for the Luhn constraint), LuhnAny 12; the
// raw call is the upper bound of the FF1 work in either.
func BenchmarkPAN(b *testing.B) {
	_, tk := newTokenizer(b)
	const pan = "4111111111111111"
	for _, bc := range []struct {
		name string
		f    tokenize.Card
	}{{"default", tokenize.Card{}}, {"bin-last4-any", tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}}} {
		tok, err := tk.Tokenize(ctx, "cust-1", "orders.pan", bc.f, pan)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/tokenize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pan)))
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "orders.pan", bc.f, pan)
			}
		})
		b.Run(bc.name+"/detokenize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pan)))
			for b.Loop() {
				sink, _ = tk.Detokenize(ctx, "cust-1", "orders.pan", bc.f, tok)
			}
		})
	}
	b.Run("raw-ff1/numerals", func(b *testing.B) {
		c, err := fpe.NewFF1(bytes.Repeat([]byte{0x2B}, 32), "0123456789")
		if err != nil {
			b.Fatal(err)
		}
		a := c.Alphabet()
		src, _ := a.AppendNumerals(nil, pan)
		dst := make([]uint16, len(src))
		tweak := []byte("fieldcrypt/tok/v1\x0aorders.pan\x17card/last4/luhn-invalid")
		b.ReportAllocs()
		b.SetBytes(int64(len(pan)))
		for b.Loop() {
			if err := c.EncryptNumerals(dst, src, tweak); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEmail(b *testing.B) {
	_, tk := newTokenizer(b)
	const email = "jan.kowalski+shop@example.com"
	for _, f := range []tokenize.Email{{}, {TokenizeDomain: true}} {
		b.Run(f.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(email)))
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "customers.email", f, email)
			}
		})
	}
}

// BenchmarkFormats measures the formats whose validation or name changed
// with their limits and tweaks: Text (length in characters), Date (window
// and layout in the name) and Phone (spelling, region in the tweak). Date
// and Phone walk a random number of FF1 steps per value and key, so each
// cycles through 64 values to measure the average walk.
func BenchmarkFormats(b *testing.B) {
	_, tk := newTokenizer(b)
	window := tokenize.Date{Layout: "02.01.2006", Min: time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC), Max: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC), InsecureSmallDomain: true}
	var dates, windowDates, phones, national []string
	for i := range 64 {
		d := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 331*i)
		dates = append(dates, d.Format(time.DateOnly))
		windowDates = append(windowDates, d.Format(window.Layout))
		phones = append(phones, fmt.Sprintf("+48 601 %03d %03d", 7*i, 13*i))
		national = append(national, fmt.Sprintf("030 %08d", 1234567*i+10000000))
	}
	for _, bc := range []struct {
		name   string
		f      tokenize.Format
		values []string
	}{
		{"text", tokenize.Text{}, []string{"Zażółć Gęślą-Jaźń"}},
		{"date", tokenize.Date{}, dates},
		{"date-window", window, windowDates},
		{"phone", tokenize.Phone{DefaultRegion: "PL"}, phones},
		{"phone-national-DE", tokenize.Phone{DefaultRegion: "DE"}, national},
	} {
		for _, v := range bc.values {
			if _, err := tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, v); err != nil {
				b.Fatalf("%s %q: %v", bc.name, v, err)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.values[0])))
			i := 0
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, bc.values[i%len(bc.values)])
				i++
			}
		})
	}
}

// BenchmarkTokenizeVsCard measures the formats of issue 16 beside the card
// in the same run, so that their ratios to the card are meaningful on a
// noisy machine. Card, PESEL and Date walk a number of FF1 steps that
// depends on the value, so each cycles through 64 values (phone and IBAN
// through one) to measure the average walk.
func BenchmarkTokenizeVsCard(b *testing.B) {
	_, tk := newTokenizer(b)
	var cards, pesels, dates []string
	for i := range 64 {
		body := fmt.Sprintf("411111%09d", 7919*i)
		cards = append(cards, body+luhnCheckDigit(body))
		d := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 331*i)
		dates = append(dates, d.Format(time.DateOnly))
		mm := int(d.Month())
		if d.Year() >= 2000 {
			mm += 20
		}
		pesels = append(pesels, peselWithCheck(fmt.Sprintf("%02d%02d%02d%04d", d.Year()%100, mm, d.Day(), 37*i)))
	}
	for _, bc := range []struct {
		name   string
		f      tokenize.Format
		values []string
	}{
		{"card", tokenize.Card{}, cards},
		{"phone", tokenize.Phone{}, []string{"+48 601 234 567"}},
		{"phone-v2", tokenize.Phone{Version: 2}, []string{"+48 601 234 567"}},
		{"pesel", tokenize.PESEL{}, pesels},
		{"pesel-v2", tokenize.PESEL{Version: 2}, pesels},
		{"date", tokenize.Date{}, dates},
		{"date-v2", tokenize.Date{Version: 2}, dates},
		{"iban", tokenize.IBAN{}, []string{"PL61 1090 1014 0000 0712 1981 2874"}},
	} {
		for _, v := range bc.values {
			if _, err := tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, v); err != nil {
				b.Fatalf("%s %q: %v", bc.name, v, err)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.values[0])))
			i := 0
			for b.Loop() {
				sink, _ = tk.Tokenize(ctx, "cust-1", "customers.col", bc.f, bc.values[i%len(bc.values)])
				i++
			}
		})
	}
}

// luhnCheckDigit returns the digit that makes body+digit Luhn-valid.
func luhnCheckDigit(body string) string {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return fmt.Sprint((10 - sum%10) % 10)
}
