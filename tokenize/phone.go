package tokenize

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Phone tokenizes phone numbers in international ("+48 601 234 567",
// "+14155552671") or, with DefaultRegion, national ("601 234 567",
// "(415) 555-2671") notation, using the libphonenumber metadata of
// github.com/nyaruka/phonenumbers.
//
// The country calling code, any national prefix and the leading digits of
// the national number are kept; the rest of the national number is
// FF1-encrypted with cycle walking until the result is a valid number
// (IsValidNumber; IsPossibleNumber with AllowPossible) whose kept part is
// the same. The input must itself be valid (possible). Spaces, dashes,
// dots, slashes and parentheses stay in place; letters, extensions and
// other characters are rejected. A value (and a token) has one spelling:
// an optional leading "+", digits, single separators between digits,
// at most one group of digits in parentheses, a digit last; stray or
// doubled separators, empty or nested parentheses are rejected, although
// libphonenumber would read them.
//
// The kept leading digits are the national destination code (area or
// mobile network code) shortened so that at least seven digits are
// encrypted when the number has them: a Polish mobile "+48 601 234 567"
// keeps "60", a US number keeps its area code, a London number "20".
// Tokenization fails with ErrDomainTooSmall when fewer than 10^6 valid
// tokens are possible, estimated per kept prefix and length from 256 fixed
// samples (so short national numbers, such as 6-digit ones, are refused).
//
// That is format version 1, the default. Version 2 (Version: 2) issues
// other tokens of the same values, in about 1.3 times a card's Tokenize
// instead of 50 to 250 times (BenchmarkTokenizePhone), without calling
// libphonenumber on the way: it keeps everything but the last seven digits
// of the national number (never fewer than its leading zeros), which is at
// least what version 1 keeps and one or two digits more where the
// destination code is shorter (London "+44 20 7…" keeps "207", Berlin
// "+49 30 1…" "301"). For each kept head it builds once, from the
// metadata's national number patterns of every number type (and the rules
// libphonenumber parses by: national prefixes, the region a shared
// calling code picks, international prefixes in national notation), a
// counting automaton of the valid (possible) completions, and encrypts
// the completion's rank among them: FF1 over two numerals of a radix
// whose square just exceeds the count, so cycle walking almost never
// takes a second step. Every token is valid (possible) with the same kept
// head, and the domain check uses the exact count: at least 10^6 valid
// completions or ErrDomainTooSmall. Values the automaton cannot speak for
// (a national prefix whose length varies or that a transform rule
// rewrites: every AR number, BR and KR numbers written with their
// national prefix; a digit string that starts like one, such as +7 800) are walked as in version 1, over the candidates outside the
// automaton's set, under their own part of the tweak, so the two sets
// never mix. National-notation values carry "region=XX" in their tweak
// for every region, PL included. The version is part of the name, and a
// token reads back only under the version that issued it: keep the
// version with the column.
type Phone struct {
	// DefaultRegion is the ISO 3166-1 region ("PL", "US") of numbers
	// written without a leading "+"; empty means such numbers are rejected.
	DefaultRegion string
	// AllowPossible accepts numbers that are only possible (the right
	// length for their country) instead of valid, and guarantees only
	// possible tokens.
	AllowPossible bool
	// Version is the token format: 0 or 1 for version 1, 2 for version 2.
	Version int
}

var _ Format = Phone{}

// Name implements Format. DefaultRegion is not part of the name, because
// it changes the mapping of national-notation values only: those carry it
// in their tweak instead (see nationalPart), and a number in international
// notation gives the same token under any DefaultRegion.
//
// Version 2 is "phone/v2" and "phone/v2/possible".
func (p Phone) Name() string {
	switch {
	case p.Version == 2 && p.AllowPossible:
		return "phone/v2/possible"
	case p.Version == 2:
		return "phone/v2"
	case p.Version > 2 || p.Version < 0:
		return fmt.Sprintf("phone/v%d", p.Version) // refused by Transform
	case p.AllowPossible:
		return "phone/possible"
	}
	return "phone"
}

const phoneMaxLen = 64

// Transform implements Format.
func (p Phone) Transform(e *Engine, v string, decrypt bool) (string, error) {
	switch p.Version {
	case 0, 1:
	case 2:
		return p.transformV2(e, v, decrypt)
	default:
		return "", fmt.Errorf("tokenize: Phone.Version %d is not 1 or 2", p.Version)
	}
	var dbuf [phoneMaxLen]uint16
	ph, err := p.parse(dbuf[:0], v, false)
	if err != nil {
		return "", err
	}
	d := ph.digits
	k := len(ph.nsn) - ph.keep
	if k < 6 {
		return "", tooSmall("phone", "%d digits to encrypt, need at least 6", k)
	}
	if f := p.effectiveDomain(ph.cc, ph.nsn[:ph.keep], k); f < minDomain {
		return "", tooSmall("phone", "about %s valid tokens for this country and prefix, need 10^6", log10Domain(f))
	}
	part := ""
	if v[0] != '+' {
		part = p.nationalPart()
	}
	// A candidate is accepted only if it parses back, in its own notation,
	// exactly as the walk sees it: same country, same kept digits, same
	// split, valid. That is what Detokenize checks, so it finds the same
	// walk.
	var cbuf [phoneMaxLen]uint16
	err = e.walk(part, d[len(d)-k:], decrypt, func([]uint16) bool {
		c, err := p.parse(cbuf[:0], replaceDigits(v, d), false)
		return err == nil && c.cc == ph.cc && c.keep == ph.keep &&
			len(c.nsn) == len(ph.nsn) && c.nsn[:c.keep] == ph.nsn[:ph.keep]
	})
	if err != nil {
		return "", err
	}
	return replaceDigits(v, d), nil
}

// nationalPart is the tweak part of values in national notation (no
// leading "+"). DefaultRegion decides their country, so it changes their
// mapping and must be in their tweak: otherwise a token of "601 234 567"
// (Poland) detokenized with DefaultRegion "ES", where the same digits are
// also a valid number, would silently give another Spanish number.
//
// "PL" has no part: it is the region FORMATS.md, the README and gormcrypt's
// "phone" column use, and its national-notation tokens were issued before
// regions were named, with the bare format name. The part of every other
// region names it, so no two regions share a tweak.
func (p Phone) nationalPart() string {
	if p.DefaultRegion == "PL" {
		return ""
	}
	return "region=" + p.DefaultRegion
}

type parsedPhone struct {
	digits []uint16 // every ASCII digit of the value
	cc     int32
	nsn    string // national significant number, a suffix of digits
	keep   int    // leading digits of nsn kept in clear
}

// parse checks v and splits it into the parts Transform needs; v2 keeps
// the leading digits as version 2 does (phoneKeepV2).
func (p Phone) parse(d []uint16, v string, v2 bool) (parsedPhone, error) {
	if v == "" {
		return parsedPhone{}, invalid("phone", "empty value")
	}
	if len(v) > phoneMaxLen {
		return parsedPhone{}, invalid("phone", "longer than %d characters", phoneMaxLen)
	}
	d, err := phoneDigits(d, v)
	if err != nil {
		return parsedPhone{}, err
	}
	if v[0] != '+' && p.DefaultRegion == "" {
		return parsedPhone{}, invalid("phone", "national notation needs Phone.DefaultRegion")
	}
	num, err := phonenumbers.Parse(v, p.DefaultRegion)
	if err != nil {
		return parsedPhone{}, invalid("phone", "cannot be parsed (%v)", err)
	}
	if num.GetExtension() != "" {
		return parsedPhone{}, invalid("phone", "extensions are not supported")
	}
	if !p.ok(num) {
		return parsedPhone{}, invalid("phone", "not a valid number for its country")
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if len(nsn) > len(d) || nsn != digitsString(d[len(d)-len(nsn):]) {
		return parsedPhone{}, invalid("phone", "digits do not end with the national number")
	}
	keep := 0
	if v2 {
		keep = phoneKeepV2(nsn)
	} else {
		keep = phoneKeep(num, nsn)
	}
	return parsedPhone{digits: d, cc: num.GetCountryCode(), nsn: nsn, keep: keep}, nil
}

// phoneDigits appends the digits of v to d after checking that v is
// spelled the one way the format accepts: an optional "+" first, then
// digits; a single separator (space, "-", ".", "/") between two digits or
// next to the one group of digits in parentheses a number may have, as in
// "+1 (415) 555-2671" or "+44 (0)20 7946 0958"; a digit last. libphonenumber
// would also read stray spaces, doubled or trailing separators and empty
// or nested parentheses, so a token could be written several ways, each
// detokenizing to a differently written value.
func phoneDigits(d []uint16, v string) ([]uint16, error) {
	groups, open := 0, false
	prev := byte(0) // the previous byte, 0 at the start
	for i := 0; i < len(v); i++ {
		c := v[i]
		var next byte
		if i+1 < len(v) {
			next = v[i+1]
		}
		switch {
		case '0' <= c && c <= '9':
			d = append(d, uint16(c-'0'))
		case c == '+':
			if i != 0 {
				return d, invalid("phone", "+ at byte %d is not the first character", i)
			}
		case c == '(':
			if open || groups > 0 || !isDigitByte(next) {
				return d, invalid("phone", "parenthesis at byte %d does not open the only group of digits", i)
			}
			groups++
			open = true
		case c == ')':
			if !open || !isDigitByte(prev) {
				return d, invalid("phone", "parenthesis at byte %d does not close a group of digits", i)
			}
			open = false
		case c == ' ' || c == '-' || c == '.' || c == '/':
			if !isDigitByte(prev) && prev != ')' || !isDigitByte(next) && next != '(' {
				return d, invalid("phone", "separator at byte %d is not between two digits or a parenthesis", i)
			}
		default:
			return d, invalid("phone", "byte %d is not a digit or a formatting character", i)
		}
		prev = c
	}
	if open {
		return d, invalid("phone", "unclosed parenthesis")
	}
	if !isDigitByte(prev) {
		return d, invalid("phone", "does not end with a digit")
	}
	return d, nil
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

func (p Phone) ok(n *phonenumbers.PhoneNumber) bool {
	if p.AllowPossible {
		return phonenumbers.IsPossibleNumber(n)
	}
	return phonenumbers.IsValidNumber(n)
}

// phoneKeep returns how many leading digits of the national significant
// number nsn are kept: the national destination code, but leaving at least
// seven digits to encrypt, and never fewer than the leading zeros.
func phoneKeep(n *phonenumbers.PhoneNumber, nsn string) int {
	keep := min(phonenumbers.GetLengthOfNationalDestinationCode(n), len(nsn)-7)
	zeros := 0
	for zeros < len(nsn) && nsn[zeros] == '0' {
		zeros++
	}
	return max(keep, zeros, 0)
}

// phoneKeepV2 returns how many leading digits of the national significant
// number nsn version 2 keeps: all but the last seven, and never fewer than
// the leading zeros.
func phoneKeepV2(nsn string) int {
	zeros := 0
	for zeros < len(nsn) && nsn[zeros] == '0' {
		zeros++
	}
	return max(zeros, len(nsn)-phoneV2Digits, 0)
}

// setNational makes n the number +cc nsn.
func setNational(n *phonenumbers.PhoneNumber, cc int32, nsn []byte) {
	var nn uint64
	zeros := int32(0)
	for i, c := range nsn {
		if c == '0' && int(zeros) == i {
			zeros++
		}
		nn = nn*10 + uint64(c-'0')
	}
	ilz := zeros > 0
	n.Reset()
	n.CountryCode = &cc
	n.NationalNumber = &nn
	if ilz {
		n.ItalianLeadingZero = &ilz
		if zeros > 1 {
			n.NumberOfLeadingZeros = &zeros
		}
	}
}

type phoneDomainKey struct {
	cc       int32
	prefix   string
	k        int
	possible bool
}

var phoneDomains sync.Map // phoneDomainKey -> float64

// effectiveDomain estimates how many of the 10^k numbers +cc prefix xxx…
// are valid tokens, from 256 fixed pseudo-random samples, once per key.
func (p Phone) effectiveDomain(cc int32, prefix string, k int) float64 {
	key := phoneDomainKey{cc, prefix, k, p.AllowPossible}
	if f, ok := phoneDomains.Load(key); ok {
		return f.(float64)
	}
	const samples = 256
	space := 1.0
	for range k {
		space *= 10
	}
	var cand phonenumbers.PhoneNumber
	good := 0
	state := uint64(0x9E3779B97F4A7C15)
	for range samples {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		z ^= z >> 31
		digits := strconv.AppendUint(nil, z%uint64(space), 10)
		s := []byte(prefix)
		for range k - len(digits) {
			s = append(s, '0')
		}
		s = append(s, digits...)
		setNational(&cand, cc, s)
		if p.ok(&cand) && phoneKeep(&cand, string(s)) == len(prefix) {
			good++
		}
	}
	f := space * float64(good) / samples
	phoneDomains.Store(key, f)
	return f
}

func digitsString(d []uint16) string { return string(digitsBytes(d)) }

func digitsBytes(d []uint16) []byte {
	b := make([]byte, len(d))
	for i, x := range d {
		b[i] = byte('0' + x)
	}
	return b
}
