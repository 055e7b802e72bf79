package tokenize_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func TestPostcode(t *testing.T) {
	_, tk := newTokenizer(t)
	runFormat(t, tk, formatCase{
		name:  "postcode/US",
		f:     tokenize.Postcode{Country: "US"},
		fixed: []string{"94105-1804", "00501-0001", "99950-9999"},
		gen:   func(r *rand.Rand) string { d := digitString(r, 9); return d[:5] + "-" + d[5:] },
	})
	runFormat(t, tk, formatCase{
		name:  "postcode/PL-insecure",
		f:     tokenize.Postcode{Country: "PL", InsecureSmallDomain: true},
		fixed: []string{"00-950", "31-042", "99-999", "00-000"},
		gen:   func(r *rand.Rand) string { d := digitString(r, 5); return d[:2] + "-" + d[2:] },
		weak:  true,
	})
	runFormat(t, tk, formatCase{
		name:  "postcode/US-insecure",
		f:     tokenize.Postcode{Country: "US", InsecureSmallDomain: true},
		fixed: []string{"94105", "00501", "94105-1804"},
		gen:   func(r *rand.Rand) string { return digitString(r, 5) },
		weak:  true,
	})
	for _, tc := range []struct {
		f tokenize.Postcode
		v string
	}{{tokenize.Postcode{Country: "PL"}, "00-950"}, {tokenize.Postcode{Country: "US"}, "94105"}} {
		if _, err := tk.Tokenize(ctx, "c", "f", tc.f, tc.v); !errors.Is(err, tokenize.ErrDomainTooSmall) {
			t.Errorf("%s %q: got %v, want ErrDomainTooSmall", tc.f.Name(), tc.v, err)
		}
	}
	expectInvalid(t, tk, tokenize.Postcode{Country: "PL"}, "", "00950", "00-95", "00-9500", "0-0950", "00 950", "ab-cde", "00-95x")
	expectInvalid(t, tk, tokenize.Postcode{Country: "US"}, "", "9410", "941051", "94105-180", "94105 1804", "9410x-1804", "94105-18045")
	expectInvalid(t, tk, tokenize.Postcode{}, "94105-1804")
	expectInvalid(t, tk, tokenize.Postcode{Country: "DE"}, "10115")
}

func TestDate(t *testing.T) {
	_, tk := newTokenizer(t)
	day := func(r *rand.Rand) time.Time {
		return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(200*365))
	}
	runFormat(t, tk, formatCase{
		name:  "date",
		f:     tokenize.Date{},
		fixed: []string{"1985-03-14", "0001-01-01", "9999-12-31", "2000-02-29"},
		gen:   func(r *rand.Rand) string { return day(r).Format(time.DateOnly) },
		check: func(t *testing.T, v, tok string) {
			if _, err := time.Parse(time.DateOnly, tok); err != nil {
				t.Fatalf("token %q is not a date: %v", tok, err)
			}
		},
	})
	layout := "02.01.2006 15:04"
	lo, hi := time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	runFormat(t, tk, formatCase{
		name:  "date/window",
		f:     tokenize.Date{Layout: layout, Min: lo, Max: hi, InsecureSmallDomain: true},
		fixed: []string{"14.03.1985 10:30", "01.01.1920 00:00", "31.12.2025 23:59"},
		gen: func(r *rand.Rand) string {
			return lo.AddDate(0, 0, r.IntN(38000)).Add(time.Duration(r.IntN(1440)) * time.Minute).Format(layout)
		},
		check: func(t *testing.T, v, tok string) {
			tv, _ := time.Parse(layout, v)
			tt, err := time.Parse(layout, tok)
			if err != nil || tt.Before(lo) || tt.After(hi.Add(24*time.Hour)) {
				t.Fatalf("token %q outside the window (%v)", tok, err)
			}
			if tt.Hour() != tv.Hour() || tt.Minute() != tv.Minute() {
				t.Fatalf("clock not kept: %q -> %q", v, tok)
			}
		},
		weak: true,
	})
	if _, err := tk.Tokenize(ctx, "c", "f", tokenize.Date{Min: lo, Max: hi}, "1985-03-14"); !errors.Is(err, tokenize.ErrDomainTooSmall) {
		t.Errorf("100-year window: got %v, want ErrDomainTooSmall", err)
	}
	expectInvalid(t, tk, tokenize.Date{}, "", "1985-3-14", "1985-02-30", "85-03-14", "1985-03-14T00:00", "14.03.1985", "1985-13-01")
	expectInvalid(t, tk, tokenize.Date{Layout: "02.01.06"}, "14.03.85")
	expectInvalid(t, tk, tokenize.Date{Layout: "2006-01"}, "1985-03")
	expectInvalid(t, tk, tokenize.Date{Min: hi, Max: lo}, "1985-03-14")
	expectInvalid(t, tk, tokenize.Date{Min: lo, Max: hi, InsecureSmallDomain: true}, "1919-12-31", "2026-01-01")
}
