package tokenize

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
type PESEL struct {
	// KeepSex keeps the sex encoded in the tenth digit.
	KeepSex bool
}

var _ Format = PESEL{}

// Name implements Format.
func (p PESEL) Name() string {
	if p.KeepSex {
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
	err = e.walk("", d[:10], decrypt, func(x []uint16) bool {
		return peselDate(x) && (!p.KeepSex || x[9]%2 == sex)
	})
	if err != nil {
		return "", err
	}
	d[10] = peselCheck(d)
	return replaceDigits(v, d), nil
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
