package tokenize

import "encoding/binary"

// IBAN tokenizes International Bank Account Numbers, in electronic form
// ("PL61109010140000071219812874") or with single spaces, usually in
// groups of four ("PL61 1090 1014 0000 0712 1981 2874"); spaces stay in
// place.
//
// The country code is kept. Every character of the BBAN (the national
// account number after the check digits) keeps its class: a digit becomes
// a digit and a letter a letter of the same case, by FF1 over the
// mixed-radix number they form (radix 10 and 26). The two check digits are
// then recomputed, so every token passes the ISO 13616 mod-97 check.
// National check digits inside the BBAN (the Polish bank-branch digit,
// the French RIB key, the Italian CIN, the Spanish DC, …) are not
// recomputed: tokens pass IBAN validation, not necessarily a national one.
//
// Input must have valid check digits and, for the countries in the
// package's length table (the SEPA countries and others, including PL 28,
// DE 22, GB 22, FR 27, ES 24, IT 27, NL 18), that country's length; other
// two-letter country codes are accepted with the generic ISO 13616 rule of
// 15 to 34 characters. Every BBAN is at least 11 characters, far above the
// 10^6 minimum.
type IBAN struct{}

var _ Format = IBAN{}

// Name implements Format.
func (IBAN) Name() string { return "iban" }

const (
	ibanMinLen = 15
	ibanMaxLen = 34
)

// ibanLength is ibanLengths indexed by the country code's letters
// (26·first + second, both from 'A'); 0 for a country not in the registry.
// An array index is a fraction of a map lookup's cost on every token.
var ibanLength = func() (t [26 * 26]uint8) {
	for cc, n := range ibanLengths {
		t[int(cc[0]-'A')*26+int(cc[1]-'A')] = uint8(n)
	}
	return t
}()

// ibanLengths are the IBAN lengths per country (SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
	"LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
	"MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24,
	"RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24,
	"XK": 20,
}

// ibanMod97 returns the ISO 7064 mod-97 remainder of the rearranged IBAN
// (BBAN, country code, check digits) of the compact IBAN c, letters read
// as 10 to 35. The digits are accumulated in a uint64 and reduced every 16
// of them (r < 97 then, so r stays below 97·10^18 < 2^64): the remainder
// is the same as reducing after every digit.
func ibanMod97(c []byte) int {
	var r uint64
	n := 0
	// c[4:], then c[:4]: two plain loops rather than an index modulo
	// len(c) per character, which cost more than the rest of the check.
	r, n = mod97Step(r, n, c[4:])
	r, _ = mod97Step(r, n, c[:4])
	return int(r % 97)
}

// mod97Step folds the characters of c into r, the running value modulo 97
// of the digits so far (n of them since the last reduction).
func mod97Step(r uint64, n int, c []byte) (uint64, int) {
	// Eight digits at a time, read as one little-endian word: SWAR checks
	// that all are digits and combines them pairwise (Lemire's
	// parse-eight-digits), so r takes one multiply-add and one reduction
	// per eight.
	if len(c) >= 8 {
		r, n = r%97, 0
	}
	for len(c) >= 8 {
		x := binary.LittleEndian.Uint64(c)
		// A byte below '0' sets its top bit in x-0x30…, one above '9'
		// in x+0x46…; borrows and carries start only at such bytes.
		if ((x-0x3030303030303030)|(x+0x4646464646464646))&0x8080808080808080 != 0 {
			break
		}
		d := x - 0x3030303030303030
		d = (d*10 + d>>8) & 0x00FF00FF00FF00FF     // pairs of digits
		d = (d*100 + d>>16) & 0x0000FFFF0000FFFF   // groups of four
		d = (d*10000 + d>>32) & 0x00000000FFFFFFFF // the eight
		r = (r*100_000_000 + d) % 97               // r < 97 before: below 2^34
		c = c[8:]
	}
	// Four digits at a time where there are four: their value is computed
	// apart from r, so the multiply-add chain through r is a quarter as
	// long (BBANs are mostly digits).
	for len(c) >= 4 && c[0]-'0' < 10 && c[1]-'0' < 10 && c[2]-'0' < 10 && c[3]-'0' < 10 {
		if n > 12 { // r·10^4 must stay below 2^64
			r %= 97
			n = 0
		}
		v := uint64(c[0]-'0')*1000 + uint64(c[1]-'0')*100 + uint64(c[2]-'0')*10 + uint64(c[3]-'0')
		r = r*10000 + v
		if n += 4; n >= 16 { // as below: r < 97·10^16 for what follows
			r %= 97
			n = 0
		}
		c = c[4:]
	}
	for _, ch := range c {
		switch {
		case '0' <= ch && ch <= '9':
			r = r*10 + uint64(ch-'0')
			n++
		case 'A' <= ch && ch <= 'Z':
			r = r*100 + uint64(ch-'A') + 10
			n += 2
		case 'a' <= ch && ch <= 'z':
			r = r*100 + uint64(ch-'a') + 10
			n += 2
		}
		if n >= 16 {
			r %= 97
			n = 0
		}
	}
	return r, n
}

// Transform implements Format.
func (IBAN) Transform(e *Engine, v string, decrypt bool) (string, error) {
	if v == "" {
		return "", invalid("IBAN", "empty value")
	}
	var cbuf [ibanMaxLen]byte
	c := cbuf[:0]
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch == ' ':
			if i == 0 || i == len(v)-1 || v[i-1] == ' ' {
				return "", invalid("IBAN", "space at byte %d is not between two characters", i)
			}
		case isAlnum(ch):
			if len(c) == ibanMaxLen {
				return "", invalid("IBAN", "longer than %d characters", ibanMaxLen)
			}
			c = append(c, ch)
		default:
			return "", invalid("IBAN", "byte %d is not a letter, digit or space", i)
		}
	}
	if len(c) < ibanMinLen {
		return "", invalid("IBAN", "shorter than %d characters", ibanMinLen)
	}
	if c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return "", invalid("IBAN", "does not start with a two-letter country code")
	}
	if c[2] < '0' || c[2] > '9' || c[3] < '0' || c[3] > '9' {
		return "", invalid("IBAN", "check digits are not digits")
	}
	country := v[:2] // c[:2] without a copy, unless a space splits it ("P L61…")
	if v[1] == ' ' {
		country = string(c[:2])
	}
	if n := ibanLength[int(c[0]-'A')*26+int(c[1]-'A')]; n != 0 && len(c) != int(n) {
		return "", invalid("IBAN", "has %d characters, %s IBANs have %d", len(c), country, n)
	}
	if ck := (c[2]-'0')*10 + c[3] - '0'; ck < 2 || ck > 98 {
		// 00, 01 and 99 are never issued; 00 and 97 (01 and 98) would
		// otherwise both be valid for the same account.
		return "", invalid("IBAN", "check digits outside 02-98")
	}
	if ibanMod97(c) != 1 {
		return "", invalid("IBAN", "wrong check digits")
	}
	if bban := c[4:]; allDigits(bban) {
		// Most countries' BBANs are digits only: FF1 over them as decimal
		// numerals, what cryptMixed does for a uniform radix 10, without
		// the radix list and its passes. ibanMinLen leaves at least 11
		// digits, above the minimum domain.
		var vb [ibanMaxLen]uint16
		vals := vb[:len(bban)]
		for i, ch := range bban {
			vals[i] = uint16(ch - '0')
		}
		if err := e.Numerals(decimalAlphabet, country, vals, vals, decrypt); err != nil {
			return "", err
		}
		for i, d := range vals {
			bban[i] = byte('0' + d)
		}
	} else {
		var vb, rb [ibanMaxLen]uint16
		vals, radix := alnumNumerals(vb[:0], rb[:0], string(bban))
		if f := mixedDomain(radix, minDomain); f < minDomain {
			return "", tooSmall("IBAN", "BBAN allows %s tokens, need 10^6", log10Domain(f))
		}
		if err := e.cryptMixed(country, vals, radix, decrypt); err != nil {
			return "", err
		}
		putAlnum(bban, vals)
	}
	c[2], c[3] = '0', '0'
	check := 98 - ibanMod97(c)
	c[2], c[3] = byte('0'+check/10), byte('0'+check%10)
	var obuf [96]byte
	out := append(obuf[:0], v...)
	j := 0
	for i := range out {
		if out[i] != ' ' {
			out[i] = c[j]
			j++
		}
	}
	return string(out), nil
}

// allDigits reports whether every byte of b is an ASCII digit.
func allDigits(b []byte) bool {
	for _, c := range b {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}
