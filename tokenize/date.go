package tokenize

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// Date tokenizes calendar dates written in a Go time layout, keeping the
// layout: the token is another date of the window [Min, Max] written the
// same way.
//
// The date's day number within the window is FF1-encrypted with cycle
// walking (FF1 over enough decimal digits for the window, repeated until
// the result falls inside it), so the token is a permutation of the
// window's days and the date comes back from the token alone. (A shift by
// an offset derived from the value could not be undone from the token.)
// Clock, zone and any other field of the layout are kept as written.
// Values are read as written, whatever the machine's time zone
// (time.ParseInLocation in UTC, not time.Parse, which would read an offset
// or abbreviation of the local zone into time.Local, whose offset on the
// token's date may differ); a zone abbreviation is kept as text. Input
// outside the window fails with ErrInvalidFormat.
//
// A window needs at least 10^6 days (2,738 years) to meet the minimum
// domain, so the default window is every date with a four-digit year,
// 0001-01-01 to 9999-12-31 (3,652,059 days): tokens are then valid but
// implausible dates. A plausible window, such as 1920 to 2020 for birth
// dates (36,890 days), fails with ErrDomainTooSmall unless
// InsecureSmallDomain is set, and then whoever can tokenize chosen dates
// for the subject and field can tabulate the whole window.
//
// That is format version 1, the default. Version 2 (Version: 2) issues
// other tokens of the same window: the day number is FF1-encrypted as two
// numerals of radix ⌈√days⌉ (1,912 for the default window), so cycle
// walking almost never takes a second step, where version 1 walks over
// seven decimal digits, 2.7 steps on average for the default window.
// Windows under 10^6 days cannot use a radix that small (FF1 needs a
// domain of 10^6) and are walked over six digits in both versions, under
// each version's own tweak. The version is part of the name, and a token
// reads back only under the version that issued it: keep the version with
// the column.
type Date struct {
	// Layout is the time layout of values (default time.DateOnly,
	// "2006-01-02"). It must write the year with four digits, and parse and
	// format values identically.
	Layout string
	// Min and Max bound the window, inclusive, by calendar date; zero means
	// 0001-01-01 and 9999-12-31.
	Min, Max time.Time
	// InsecureSmallDomain allows windows of fewer than 10^6 days.
	InsecureSmallDomain bool
	// Version is the token format: 0 or 1 for version 1, 2 for version 2.
	Version int
}

var _ Format = Date{}

// Name implements Format. Layout, Min and Max change the mapping (another
// window, or another reading of the same digits), so the name spells out
// those that differ from the defaults, as calendar dates and the layout
// itself, the layout last:
//
//	Date{}                                     "date"
//	Date{Layout: "02.01.2006"}                 "date/layout=02.01.2006"
//	Date{Min: 1920-01-01, Max: 2020-12-31}     "date/window=1920-01-01..2020-12-31"
//
// The defaults keep the bare "date" that every Date had before, so tokens
// issued with the default layout and window keep their meaning (FORMATS.md
// tells how to read older tokens of other parameters). Windows are
// compared by calendar date, as Transform uses them: a Min of 1920-01-01
// at any clock time or in any zone is the same window.
// InsecureSmallDomain only permits small windows and is not part of the
// name.
func (f Date) Name() string {
	layout := f.layout()
	lo, hi := f.window()
	v2 := f.Version == 2
	if layout == time.DateOnly && lo == dateMin && hi == dateMax && f.Version <= 1 {
		return "date"
	}
	if layout == time.DateOnly && lo == dateMin && hi == dateMax && v2 {
		return "date/v2"
	}
	// One allocation: Name is called on every Tokenize and Detokenize.
	var buf [80]byte
	name := append(buf[:0], "date"...)
	if f.Version > 1 || f.Version < 0 {
		name = fmt.Appendf(name, "/v%d", f.Version) // refused by Transform unless 2
	}
	if lo != dateMin || hi != dateMax {
		name = append(name, "/window="...)
		name = appendCivilDate(name, lo)
		name = append(name, ".."...)
		name = appendCivilDate(name, hi)
	}
	if layout != time.DateOnly {
		name = append(name, "/layout="...)
		name = append(name, layout...)
	}
	return string(name)
}

func (f Date) layout() string {
	if f.Layout == "" {
		return time.DateOnly
	}
	return f.Layout
}

// window returns the day numbers of the first and last day of the window.
func (f Date) window() (lo, hi int64) {
	lo, hi = dateMin, dateMax
	if !f.Min.IsZero() {
		lo = dayNumber(f.Min)
	}
	if !f.Max.IsZero() {
		hi = dayNumber(f.Max)
	}
	return lo, hi
}

// appendCivilDate appends day number d as YYYY-MM-DD.
func appendCivilDate(b []byte, d int64) []byte {
	return time.Unix(d*86400, 0).UTC().AppendFormat(b, time.DateOnly)
}

var (
	dateMin = dayNumber(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	dateMax = dayNumber(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
)

// dayNumber returns the civil day number of t's calendar date (in t's own
// location), days since 1970-01-01.
func dayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Transform implements Format.
func (f Date) Transform(e *Engine, v string, decrypt bool) (string, error) {
	if f.Version < 0 || f.Version > 2 {
		return "", fmt.Errorf("tokenize: Date.Version %d is not 1 or 2", f.Version)
	}
	layout := f.layout()
	if !strings.Contains(layout, "2006") {
		return "", invalid("date", "layout must write the year with four digits (2006)")
	}
	lo, hi := f.window()
	if lo < dateMin || hi > dateMax || hi <= lo {
		return "", invalid("date", "window must lie within years 1 to 9999 and hold at least two days")
	}
	n := uint64(hi - lo + 1)
	if n < minDomain && !f.InsecureSmallDomain {
		return "", tooSmall("date", "window of %d days, need 10^6 (see Date.InsecureSmallDomain)", n)
	}
	dateOnly := layout == time.DateOnly // writes the day: no need to check
	if first := time.Unix(lo*86400, 0).UTC(); !dateOnly && first.Format(layout) == first.AddDate(0, 0, 1).Format(layout) {
		return "", invalid("date", "layout must write the day of the month")
	}
	if v == "" {
		return "", invalid("date", "empty value")
	}
	t, fast := time.Time{}, false
	if dateOnly {
		t, fast = parseDateOnly(v)
	}
	if !fast {
		var err error
		if t, err = parseDate(layout, v); err != nil {
			return "", invalid("date", "does not match the layout")
		}
		if t.Format(layout) != v {
			return "", invalid("date", "does not format back identically under the layout")
		}
	}
	day := dayNumber(t)
	if day < lo || day > hi {
		return "", invalid("date", "outside the window")
	}
	var x uint64
	var err error
	if f.Version == 2 && n >= minDomain {
		x, err = e.cryptIndexSquare(uint64(day-lo), n, decrypt)
	} else {
		x, err = e.cryptIndex("", uint64(day-lo), n, decrypt)
	}
	if err != nil {
		return "", err
	}
	nd := time.Unix((lo+int64(x))*86400, 0).UTC()
	y, m, d := nd.Date()
	// t's location is UTC or a fixed zone (see parseDate), so the token
	// keeps the clock and zone exactly.
	if fast {
		// YYYY-MM-DD of a date of years 1 to 9999: it parses back.
		return string(appendDateOnly(make([]byte, 0, len(time.DateOnly)), y, int(m), d)), nil
	}
	tt := time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	out := tt.Format(layout)
	// The layout must represent every date of the window (a two-digit
	// year does not): check that the token parses back to the same day.
	if back, err := parseDate(layout, out); err != nil || dayNumber(back) != dayNumber(tt) {
		return "", invalid("date", "layout cannot represent every date of the window (use a four-digit year)")
	}
	return out, nil
}

// cryptIndexSquare is cryptIndex for 10^6 ≤ n ≤ 2^32 as Date version 2
// does it: FF1 over the two numerals of x in radix r = ⌈√n⌉, walking
// until the result is below n again (r² < n + 2r + 1, so nearly always
// at once).
func (e *Engine) cryptIndexSquare(x, n uint64, decrypt bool) (uint64, error) {
	r := uint64(math.Sqrt(float64(n)))
	for r*r < n { // exact ⌈√n⌉ whatever the float rounding
		r++
	}
	for r > 1 && (r-1)*(r-1) >= n {
		r--
	}
	c, err := e.cipher(radixAlphabet(int(r)))
	if err != nil {
		return 0, err
	}
	tw := e.partTweak("")
	v := [2]uint16{uint16(x / r), uint16(x % r)}
	for range maxWalk {
		if decrypt {
			err = c.DecryptNumerals(v[:], v[:], tw)
		} else {
			err = c.EncryptNumerals(v[:], v[:], tw)
		}
		if err != nil {
			return 0, mapErr(err)
		}
		if x = uint64(v[0])*r + uint64(v[1]); x < n {
			return x, nil
		}
	}
	return 0, errWalk
}

var radixAlphabets sync.Map // int -> *fpe.Alphabet

// radixAlphabet returns an alphabet of r characters for the numeral API,
// made once per radix: only numerals are used, so its characters are any
// r distinct code points (from U+0100, below the surrogates for r ≤ 55,040).
func radixAlphabet(r int) *fpe.Alphabet {
	if a, ok := radixAlphabets.Load(r); ok {
		return a.(*fpe.Alphabet)
	}
	runes := make([]rune, r)
	for j := range runes {
		runes[j] = rune(0x100 + j)
	}
	a, _ := radixAlphabets.LoadOrStore(r, mustAlphabet(string(runes)))
	return a.(*fpe.Alphabet)
}

// parseDateOnly reads a value of the default layout, time.DateOnly, without
// time.Parse: exactly four, two and two ASCII digits between dashes, a
// month of 1 to 12 and a day of that month. It returns false for anything
// else, which the general path then parses (and refuses) as before; what
// it accepts is exactly what parseDate accepts and formats back
// identically, at midnight UTC.
func parseDateOnly(v string) (time.Time, bool) {
	if len(v) != len(time.DateOnly) || v[4] != '-' || v[7] != '-' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(v[0:4])
	m, ok2 := num(v[5:7])
	d, ok3 := num(v[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

// appendDateOnly appends y-m-d in time.DateOnly for 0 ≤ y ≤ 9999.
func appendDateOnly(b []byte, y, m, d int) []byte {
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// parseDate reads v in layout independently of the machine's time zone:
// the result is in UTC or in a fixed zone. time.Parse would put a value
// whose offset or abbreviation belongs to the local zone in time.Local,
// where another date can have another offset (summer time) or lack the
// clock time (a DST gap), and whose abbreviations would then not format
// back: tokens would depend on TZ and some would not detokenize.
func parseDate(layout, v string) (time.Time, error) {
	return time.ParseInLocation(layout, v, time.UTC)
}
