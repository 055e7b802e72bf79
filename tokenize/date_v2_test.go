package tokenize_test

import (
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestDateV2: version 2 maps every 97th day of the default window (and
// its edges) to a day of the window and back, in the default and another
// layout, its tokens are not version 1's, small windows still round-trip,
// and unknown versions are refused.
func TestDateV2(t *testing.T) {
	_, tk := newTokenizer(t)
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	var days []time.Time
	for d := first; !d.After(last); d = d.AddDate(0, 0, 97) {
		days = append(days, d)
	}
	days = append(days, last)
	same := 0
	for i, d := range days {
		for _, f := range []tokenize.Date{{Version: 2}, {Version: 2, Layout: "02.01.2006"}} {
			if f.Layout != "" && i%10 != 0 {
				continue
			}
			v := d.Format(f.Layout)
			if f.Layout == "" {
				v = d.Format(time.DateOnly)
			}
			tok, err := tk.Tokenize(ctx, "cust-1", "customers.born", f, v)
			if err != nil {
				t.Fatalf("%s %s: %v", f.Name(), v, err)
			}
			layout := f.Layout
			if layout == "" {
				layout = time.DateOnly
			}
			if _, err := time.Parse(layout, tok); err != nil {
				t.Fatalf("%s: token %q is not a date: %v", f.Name(), tok, err)
			}
			back, err := tk.Detokenize(ctx, "cust-1", "customers.born", f, tok)
			if err != nil || back != v {
				t.Fatalf("%s: Detokenize(%q) = %q, %v; want %q", f.Name(), tok, back, err, v)
			}
			if f.Layout == "" && i < 300 {
				old, _ := tk.Tokenize(ctx, "cust-1", "customers.born", tokenize.Date{}, v)
				if old == tok {
					same++
				}
			}
		}
	}
	if same > 2 {
		t.Fatalf("%d of 300 version 2 tokens equal version 1's", same)
	}
	small := tokenize.Date{Version: 2, Min: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), Max: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), InsecureSmallDomain: true}
	tok, err := tk.Tokenize(ctx, "cust-1", "customers.born", small, "1994-07-01")
	if err != nil {
		t.Fatal(err)
	}
	if back, err := tk.Detokenize(ctx, "cust-1", "customers.born", small, tok); err != nil || back != "1994-07-01" {
		t.Fatalf("small window: %q, %v", back, err)
	}
	if _, err := tk.Tokenize(ctx, "cust-1", "customers.born", tokenize.Date{Version: 3}, "1994-07-01"); err == nil {
		t.Fatal("Date.Version 3 accepted")
	}
}
