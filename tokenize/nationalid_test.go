package tokenize_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

var peselW = []int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}

// peselOK checks a PESEL independently of the package: date (with the
// century in the month) and check digit.
func peselOK(s string) bool {
	if len(s) != 11 || onlyDigits(s) != s {
		return false
	}
	sum := 0
	for i, w := range peselW {
		sum += w * int(s[i]-'0')
	}
	if (10-sum%10)%10 != int(s[10]-'0') {
		return false
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	dd := int(s[4]-'0')*10 + int(s[5]-'0')
	base := map[int]int{0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}
	y, ok := base[(mm-1)/20*20]
	m := mm - (mm-1)/20*20
	if !ok || m < 1 || m > 12 {
		return false
	}
	d := time.Date(y+yy, time.Month(m), dd, 0, 0, 0, 0, time.UTC)
	return d.Day() == dd && d.Month() == time.Month(m)
}

func randomPESEL(r *rand.Rand) string {
	day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(125*365))
	mm := int(day.Month())
	if day.Year() >= 2000 {
		mm += 20
	}
	s := fmt.Sprintf("%02d%02d%02d%04d", day.Year()%100, mm, day.Day(), r.IntN(10000))
	sum := 0
	for i, w := range peselW {
		sum += w * int(s[i]-'0')
	}
	return s + fmt.Sprint((10-sum%10)%10)
}

func TestPESEL(t *testing.T) {
	_, tk := newTokenizer(t)
	fixed := []string{"44051401359", "02070803628", "90090515836", "00322900002"}
	for _, f := range []tokenize.PESEL{{}, {KeepSex: true}, {Version: 2}, {Version: 2, KeepSex: true}} {
		t.Run(f.Name(), func(t *testing.T) {
			runFormat(t, tk, formatCase{
				name: f.Name(), f: f, gen: randomPESEL, fixed: fixed,
				check: func(t *testing.T, v, tok string) {
					if !peselOK(tok) {
						t.Fatalf("token %q is not a valid PESEL", tok)
					}
					if f.KeepSex && (v[9]-'0')%2 != (tok[9]-'0')%2 {
						t.Fatalf("sex not kept: %q -> %q", v, tok)
					}
				},
			})
		})
	}
}

func nipOK(s string) bool {
	d := onlyDigits(s)
	if len(d) != 10 {
		return false
	}
	w := []int{6, 5, 7, 2, 3, 4, 5, 6, 7}
	sum := 0
	for i := range w {
		sum += w[i] * int(d[i]-'0')
	}
	return sum%11 != 10 && sum%11 == int(d[9]-'0')
}

func TestNIP(t *testing.T) {
	_, tk := newTokenizer(t)
	runFormat(t, tk, formatCase{
		name:  "nip",
		f:     tokenize.NIP{},
		fixed: []string{"1234563218", "123-456-32-18", "PL5261040828", "526-10-40-828"},
		gen: func(r *rand.Rand) string {
			for {
				s := digitString(r, 10)
				if nipOK(s) {
					if r.IntN(2) == 0 {
						return s[:3] + "-" + s[3:6] + "-" + s[6:8] + "-" + s[8:]
					}
					return s
				}
			}
		},
		check: func(t *testing.T, v, tok string) {
			if !nipOK(tok) {
				t.Fatalf("token %q is not a valid NIP", tok)
			}
		},
	})
}

func ssnOK(s string) bool {
	d := onlyDigits(s)
	return len(d) == 9 && d[:3] != "000" && d[:3] != "666" && d[0] != '9' && d[3:5] != "00" && d[5:] != "0000"
}

func TestSSN(t *testing.T) {
	_, tk := newTokenizer(t)
	runFormat(t, tk, formatCase{
		name:  "ssn",
		f:     tokenize.SSN{},
		fixed: []string{"123-45-6789", "001010001", "899 99 9999", "665-01-0001"},
		gen: func(r *rand.Rand) string {
			for {
				s := digitString(r, 9)
				if ssnOK(s) {
					if r.IntN(2) == 0 {
						return s[:3] + "-" + s[3:5] + "-" + s[5:]
					}
					return s
				}
			}
		},
		check: func(t *testing.T, v, tok string) {
			if !ssnOK(tok) {
				t.Fatalf("token %q is not a valid SSN", tok)
			}
		},
	})
}

func TestNationalIDBadInput(t *testing.T) {
	_, tk := newTokenizer(t)
	expectInvalid(t, tk, tokenize.PESEL{}, "", "4405140135", "440514013599", "44051401358", "44133101353", "4405140135x",
		"44 05140135 9", "44023001350", "１１１１１１１１１１１")
	expectInvalid(t, tk, tokenize.NIP{}, "", "123456321", "1234563219", "12345632181", "123--456-32-18", "PL", "pl1234563218",
		"1234567890" /* sum mod 11 = 10 */, "-1234563218")
	expectInvalid(t, tk, tokenize.SSN{}, "", "000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",
		"12-345-6789", "123-45-678", "123456789a", "123-45 6789", "123 456 789")
}

// TestPESELv2EveryDay: version 2 maps every day of 1800-01-01 to
// 2299-12-31 (each 7th day, and the edges and leap days) with serials at
// both ends to valid PESELs and back, keeps the parity with KeepSex, and
// its tokens are not version 1's.
func TestPESELv2EveryDay(t *testing.T) {
	_, tk := newTokenizer(t)
	first := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2299, 12, 31, 0, 0, 0, 0, time.UTC)
	var days []time.Time
	for d := first; !d.After(last); d = d.AddDate(0, 0, 7) {
		days = append(days, d)
	}
	days = append(days, last, time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2296, 2, 29, 0, 0, 0, 0, time.UTC))
	code := map[int]int{18: 80, 19: 0, 20: 20, 21: 40, 22: 60}
	centuries := map[int]int{}
	same := 0
	for i, d := range days {
		serial := []int{0, 9999, 1, 1234}[i%4]
		v := peselWithCheck(fmt.Sprintf("%02d%02d%02d%04d", d.Year()%100, int(d.Month())+code[d.Year()/100], d.Day(), serial))
		for _, f := range []tokenize.PESEL{{Version: 2}, {Version: 2, KeepSex: true}} {
			tok, err := tk.Tokenize(ctx, "cust-1", "customers.pesel", f, v)
			if err != nil {
				t.Fatalf("%s %s: %v", f.Name(), v, err)
			}
			if !peselOK(tok) {
				t.Fatalf("%s: token %q of %q is not a valid PESEL", f.Name(), tok, v)
			}
			if f.KeepSex && tok[9]%2 != v[9]%2 {
				t.Fatalf("%s: sex not kept: %q -> %q", f.Name(), v, tok)
			}
			back, err := tk.Detokenize(ctx, "cust-1", "customers.pesel", f, tok)
			if err != nil || back != v {
				t.Fatalf("%s: Detokenize(%q) = %q, %v; want %q", f.Name(), tok, back, err, v)
			}
			mm := int(tok[2]-'0')*10 + int(tok[3]-'0')
			centuries[mm/20]++
			if !f.KeepSex && i < 200 {
				old, err := tk.Tokenize(ctx, "cust-1", "customers.pesel", tokenize.PESEL{}, v)
				if err != nil {
					t.Fatal(err)
				}
				if old == tok {
					same++
				}
			}
		}
	}
	if len(centuries) != 5 {
		t.Fatalf("tokens fall in %d of the 5 centuries: %v", len(centuries), centuries)
	}
	if same > 2 {
		t.Fatalf("%d of 200 version 2 tokens equal version 1's", same)
	}
	if _, err := tk.Tokenize(ctx, "cust-1", "customers.pesel", tokenize.PESEL{Version: 3}, "44051401359"); err == nil {
		t.Fatal("PESEL.Version 3 accepted")
	}
}
