package tokenize

import (
	"fmt"
	"sync"
	"time"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// PESEL tokenizes Polish personal identification numbers: 11 digits
// YYMMDDZZZXQ with the birth date (the month carries the century: +80 for
// 1800s, +0 for 1900s, +20, +40, +60 for 2000s to 2200s), a serial whose
// last digit X is even for women and odd for men, and a check digit Q.
//
// The first ten digits are FF1-encrypted with cycle walking until they
// encode a valid date (any date 1800-01-01 to 2299-12-31), and the check
// digit is recomputed, so every token is a valid PESEL. Nothing else is
// kept by default: about 1.8·10^9 tokens are possible. With KeepSex the
// walk also keeps the parity of X (about 9·10^8 tokens). Keeping the birth
// date is not offered: it would leave 10^4 tokens. Input must be a valid
// PESEL (date and check digit); no separators.
//
// That is format version 1, the default. Version 2 (Version: 2) issues
// other tokens of the same values, from the same set of valid PESELs,
// about five times faster: the birth date becomes its day number from
// 1800-01-01 and, with the serial ZZZX, an index below
// 182,621 · 10^4 (182,621 · 5,000 with KeepSex, the serial's parity
// set aside), which FF1 encrypts as three numerals of the smallest radix
// whose cube holds it, so that cycle walking almost never takes a second
// step, where version 1 walks over the 82% of ten-digit strings that are no
// date. The version is part of the tweak (Name), and a token reads back
// only under the version that issued it: tokens do not say which one that
// was, so keep the version with the column.
type PESEL struct {
	// KeepSex keeps the sex encoded in the tenth digit.
	KeepSex bool
	// Version is the token format: 0 or 1 for version 1, 2 for version 2.
	Version int
}

var _ Format = PESEL{}

// Name implements Format: "pesel" and "pesel/sex" for version 1, as they
// always were, "pesel/v2" and "pesel/v2/sex" for version 2.
func (p PESEL) Name() string {
	switch {
	case p.Version == 2 && p.KeepSex:
		return "pesel/v2/sex"
	case p.Version == 2:
		return "pesel/v2"
	case p.Version > 2 || p.Version < 0:
		return fmt.Sprintf("pesel/v%d", p.Version) // refused by Transform
	case p.KeepSex:
		return "pesel/sex"
	}
	return "pesel"
}

var peselWeights = [10]uint16{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}

func peselCheck(d []uint16) uint16 {
	var s uint16
	for i, w := range peselWeights {
		s += w * d[i]
	}
	return (10 - s%10) % 10
}

// peselDate reports whether the first six digits of d encode a valid date.
func peselDate(d []uint16) bool {
	yy := int(d[0]*10 + d[1])
	mm := int(d[2]*10 + d[3])
	dd := int(d[4]*10 + d[5])
	var century int
	switch {
	case mm >= 81 && mm <= 92:
		century = 1800
	case mm >= 1 && mm <= 12:
		century = 1900
	case mm >= 21 && mm <= 32:
		century = 2000
	case mm >= 41 && mm <= 52:
		century = 2100
	case mm >= 61 && mm <= 72:
		century = 2200
	default:
		return false
	}
	return dd >= 1 && dd <= daysIn(century+yy, mm%20)
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Transform implements Format.
func (p PESEL) Transform(e *Engine, v string, decrypt bool) (string, error) {
	var buf [11]uint16
	d, err := parseDigits(buf[:0], v, "PESEL", 11)
	if err != nil {
		return "", err
	}
	if !peselDate(d) {
		return "", invalid("PESEL", "does not encode a valid birth date")
	}
	if peselCheck(d) != d[10] {
		return "", invalid("PESEL", "wrong check digit")
	}
	sex := d[9] % 2
	switch p.Version {
	case 0, 1:
	case 2:
		if err := peselV2(e, d, p.KeepSex, decrypt); err != nil {
			return "", err
		}
		d[10] = peselCheck(d)
		return replaceDigits(v, d), nil
	default:
		return "", fmt.Errorf("tokenize: PESEL.Version %d is not 1 or 2", p.Version)
	}
	err = e.walk("", d[:10], decrypt, func(x []uint16) bool {
		return peselDate(x) && (!p.KeepSex || x[9]%2 == sex)
	})
	if err != nil {
		return "", err
	}
	d[10] = peselCheck(d)
	return replaceDigits(v, d), nil
}

// PESEL version 2: the dates 1800-01-01 to 2299-12-31 as day numbers.
var (
	peselFirstDay = dayNumber(time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC))
	peselDays     = uint64(dayNumber(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)) - peselFirstDay)
)

// peselIndexCipher is the FF1 domain of version 2's index: three numerals
// of radix ⌈∛n⌉ for the n = days · serials indexes.
type peselIndexCipher struct {
	n uint64
	r uint64
	a *fpe.Alphabet
}

var peselIndexCiphers = sync.OnceValue(func() [2]peselIndexCipher {
	var out [2]peselIndexCipher
	for i, serials := range []uint64{10000, 5000} { // KeepSex: half the serials
		n := peselDays * serials
		r := uint64(1)
		for r*r*r < n {
			r++
		}
		out[i] = peselIndexCipher{n: n, r: r, a: radixAlphabet(int(r))}
	}
	return out
})

// peselV2 rewrites the first ten digits of the valid PESEL d as version 2
// does: (day number, serial) to an index, FF1 over its three radix-r
// numerals with cycle walking until the result is an index again, and back.
func peselV2(e *Engine, d []uint16, keepSex, decrypt bool) error {
	yy := int(d[0]*10 + d[1])
	mm := int(d[2]*10 + d[3])
	dd := int(d[4]*10 + d[5])
	// The month code: +80 for the 1800s, +0, +20, +40, +60 for 1900s to
	// 2200s (peselDate has checked it).
	var century int
	switch mm / 20 {
	case 0:
		century = 1900
	case 1:
		century = 2000
	case 2:
		century = 2100
	case 3:
		century = 2200
	case 4:
		century = 1800
	}
	day := uint64(dayNumber(time.Date(century+yy, time.Month(mm%20), dd, 0, 0, 0, 0, time.UTC)) - peselFirstDay)
	serial := uint64(d[6])*1000 + uint64(d[7])*100 + uint64(d[8])*10 + uint64(d[9])
	ic := peselIndexCiphers()[0]
	sex := uint64(0)
	if keepSex {
		ic = peselIndexCiphers()[1]
		sex = serial % 2
		serial /= 2
	}
	idx := day*(ic.n/peselDays) + serial
	c, err := e.cipher(ic.a)
	if err != nil {
		return err
	}
	tw := e.partTweak("")
	x := [3]uint16{uint16(idx / (ic.r * ic.r)), uint16(idx / ic.r % ic.r), uint16(idx % ic.r)}
	for i := 0; ; i++ {
		if i == maxWalk {
			return errWalk
		}
		if decrypt {
			err = c.DecryptNumerals(x[:], x[:], tw)
		} else {
			err = c.EncryptNumerals(x[:], x[:], tw)
		}
		if err != nil {
			return mapErr(err)
		}
		if idx = (uint64(x[0])*ic.r+uint64(x[1]))*ic.r + uint64(x[2]); idx < ic.n {
			break
		}
	}
	serials := ic.n / peselDays
	day, serial = idx/serials, idx%serials
	if keepSex {
		serial = serial*2 + sex
	}
	y, m, dd2 := time.Unix((peselFirstDay+int64(day))*86400, 0).UTC().Date()
	mm = int(m) + peselMonthCode(y)
	yy = y % 100
	for i, v := range []int{yy / 10, yy % 10, mm / 10, mm % 10, dd2 / 10, dd2 % 10,
		int(serial / 1000), int(serial / 100 % 10), int(serial / 10 % 10), int(serial % 10)} {
		d[i] = uint16(v)
	}
	return nil
}

// peselMonthCode is what PESEL adds to the month of a date in year y.
func peselMonthCode(y int) int {
	switch y / 100 {
	case 18:
		return 80
	case 20:
		return 20
	case 21:
		return 40
	case 22:
		return 60
	}
	return 0
}

// parseDigits appends the n ASCII digits of v to d; v must have exactly n
// bytes, all digits.
func parseDigits(d []uint16, v, format string, n int) ([]uint16, error) {
	if len(v) != n {
		return d, invalid(format, "has %d bytes, need %d digits", len(v), n)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return d, invalid(format, "byte %d is not a digit", i)
		}
		d = append(d, uint16(c-'0'))
	}
	return d, nil
}

// NIP tokenizes Polish tax identification numbers: 10 digits, the last a
// check digit (weighted sum of the first nine mod 11, never 10). Single
// dashes or spaces between digits ("123-456-32-18") and a leading "PL" (EU
// VAT notation) are kept.
//
// The first nine digits are FF1-encrypted with cycle walking until their
// weighted sum mod 11 is not 10, and the check digit is recomputed, so
// every token is a valid NIP; about 9.1·10^8 tokens are possible. The
// first three digits (the issuing tax office) are not kept.
type NIP struct{}

var _ Format = NIP{}

// Name implements Format.
func (NIP) Name() string { return "nip" }

var nipWeights = [9]uint16{6, 5, 7, 2, 3, 4, 5, 6, 7}

func nipSum(d []uint16) uint16 {
	var s uint16
	for i, w := range nipWeights {
		s += w * d[i]
	}
	return s % 11
}

// Transform implements Format.
func (NIP) Transform(e *Engine, v string, decrypt bool) (string, error) {
	body := v
	if len(body) >= 2 && body[:2] == "PL" {
		body = body[2:]
	}
	var buf [10]uint16
	d, err := parseSeparated(buf[:0], body, "NIP", 10, 10)
	if err != nil {
		return "", err
	}
	if nipSum(d) != d[9] {
		return "", invalid("NIP", "wrong check digit")
	}
	err = e.walk("", d[:9], decrypt, func(x []uint16) bool { return nipSum(x) != 10 })
	if err != nil {
		return "", err
	}
	d[9] = nipSum(d)
	return replaceDigits(v, d), nil
}

// SSN tokenizes US Social Security numbers, AAA-GG-SSSS or nine digits,
// separators kept. Input and tokens follow the SSA rules: the area AAA is
// not 000, 666 or 900-999, the group GG not 00 and the serial SSSS not
// 0000. All nine digits are FF1-encrypted with cycle walking until the
// rules hold; about 8.9·10^8 tokens are possible.
type SSN struct{}

var _ Format = SSN{}

// Name implements Format.
func (SSN) Name() string { return "ssn" }

func ssnValid(d []uint16) bool {
	area := d[0]*100 + d[1]*10 + d[2]
	return area != 0 && area != 666 && area < 900 &&
		d[3]+d[4] != 0 && d[5]+d[6]+d[7]+d[8] != 0
}

// Transform implements Format.
func (SSN) Transform(e *Engine, v string, decrypt bool) (string, error) {
	var buf [9]uint16
	d, err := parseSeparated(buf[:0], v, "SSN", 9, 9)
	if err != nil {
		return "", err
	}
	if len(v) == 11 && (v[3] == '-' || v[3] == ' ') && v[6] == v[3] {
		// AAA-GG-SSSS
	} else if len(v) != 9 {
		return "", invalid("SSN", "need AAA-GG-SSSS, AAA GG SSSS or nine digits")
	}
	if !ssnValid(d) {
		return "", invalid("SSN", "area, group or serial not allowed")
	}
	if err := e.walk("", d, decrypt, ssnValid); err != nil {
		return "", err
	}
	return replaceDigits(v, d), nil
}
