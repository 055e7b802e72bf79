package tokenize

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseDateOnlyMatchesTimeParse: the fast reader of the default layout
// accepts exactly what time.ParseInLocation accepts and formats back
// identically, with the same time, over every day of several leap and
// non-leap years, the edges of the four-digit years and malformed input.
func TestParseDateOnlyMatchesTimeParse(t *testing.T) {
	var in []string
	for _, y := range []int{0, 1, 4, 100, 1600, 1900, 1999, 2000, 2023, 2024, 2100, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				in = append(in, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	const chars = "0123456789-+ /:T"
	for range 20000 {
		b := []byte(fmt.Sprintf("%04d-%02d-%02d", r.IntN(10000), r.IntN(14), r.IntN(33)))
		for range r.IntN(3) {
			b[r.IntN(len(b))] = chars[r.IntN(len(chars))]
		}
		in = append(in, string(b))
	}
	in = append(in, "", "1985-3-14", "1985-03-14 ", "1985-03-1", "+985-03-14", "1985/03/14", "19850314", "1985-03-14T00:00:00Z")
	for _, v := range in {
		want, err := parseDate(time.DateOnly, v)
		generic := err == nil && want.Format(time.DateOnly) == v
		got, fast := parseDateOnly(v)
		if fast != generic {
			t.Fatalf("%q: fast path %v, time.Parse and format back %v", v, fast, generic)
		}
		if fast && !got.Equal(want) {
			t.Fatalf("%q: fast path %v, time.Parse %v", v, got, want)
		}
		if fast && string(appendDateOnly(nil, got.Year(), int(got.Month()), got.Day())) != v {
			t.Fatalf("%q: appendDateOnly does not write it back", v)
		}
	}
}
