package tokenize

import "strings"

// Email tokenizes email addresses (dot-atom local part @ domain name, ASCII
// only, at most 254 bytes; quoted local parts, IP literals and
// internationalized addresses are rejected).
//
// In the local part every letter becomes a letter of the same case and
// every digit a digit, by FF1 over the mixed-radix number the letters
// (radix 26) and digits (radix 10) form; dots, plus signs and other
// characters stay in place, so "jan.kowalski+shop" becomes something like
// "qor.zbtmejcw+xwiv" and the token is still a syntactically valid address.
// The domain is part of the tweak, so one local part at two domains gives
// unrelated tokens.
//
// The domain is kept by default. With TokenizeDomain, the letters and
// digits of every label but the last (the TLD) are tokenized the same way
// under their own tweak, hyphens stay in place, and equal domains give
// equal tokenized domains within the field.
//
// Minimum length: the letters and digits of the local part (and, with
// TokenizeDomain, of the domain labels before the TLD) must allow at least
// 10^6 combinations: 5 letters (26^5 ≈ 1.2·10^7), 6 digits, or for
// instance 4 letters and 1 digit; shorter ones fail with ErrDomainTooSmall.
type Email struct {
	// TokenizeDomain tokenizes the domain's labels except the TLD.
	TokenizeDomain bool
}

var _ Format = Email{}

// Name implements Format.
func (m Email) Name() string {
	if m.TokenizeDomain {
		return "email/domain"
	}
	return "email"
}

const (
	emailMaxLen   = 254
	emailMaxLocal = 64
)

// Transform implements Format.
func (m Email) Transform(e *Engine, v string, decrypt bool) (string, error) {
	if v == "" {
		return "", invalid("email", "empty value")
	}
	if len(v) > emailMaxLen {
		return "", invalid("email", "longer than %d bytes", emailMaxLen)
	}
	at := strings.IndexByte(v, '@')
	if at < 0 {
		return "", invalid("email", "no @")
	}
	local, domain := v[:at], v[at+1:]
	if err := checkLocal(local); err != nil {
		return "", err
	}
	if err := checkDomain(domain); err != nil {
		return "", err
	}
	out := []byte(v)
	tld := strings.LastIndexByte(domain, '.')
	plainDomain := domain
	if m.TokenizeDomain {
		var vb, rb [emailMaxLen]uint16
		vals, radix := alnumNumerals(vb[:0], rb[:0], domain[:tld])
		if f := mixedDomain(radix, minDomain); f < minDomain {
			return "", tooSmall("email", "domain labels before the TLD allow %s tokens, need 10^6", log10Domain(f))
		}
		if err := e.cryptMixed("domain", vals, radix, decrypt); err != nil {
			return "", err
		}
		putAlnum(out[at+1:at+1+tld], vals)
		if decrypt {
			plainDomain = string(out[at+1:])
		}
	}
	var vb, rb [emailMaxLocal]uint16
	vals, radix := alnumNumerals(vb[:0], rb[:0], local)
	if f := mixedDomain(radix, minDomain); f < minDomain {
		return "", tooSmall("email", "local part allows %s tokens, need 10^6 (at least 5 letters or 6 digits)", log10Domain(f))
	}
	if err := e.cryptMixed("local@"+plainDomain, vals, radix, decrypt); err != nil {
		return "", err
	}
	putAlnum(out[:at], vals)
	return string(out), nil
}

// atext marks the characters RFC 5322 allows in a dot-atom besides
// letters and digits.
const atextSpecials = "!#$%&'*+-/=?^_`{|}~"

func checkLocal(s string) error {
	if s == "" {
		return invalid("email", "empty local part")
	}
	if len(s) > emailMaxLocal {
		return invalid("email", "local part longer than %d bytes", emailMaxLocal)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i-1] == '.' {
				return invalid("email", "dot at byte %d of the local part is first, last or doubled", i)
			}
		case c < 0x80 && strings.IndexByte(atextSpecials, c) >= 0:
		default:
			return invalid("email", "byte %d of the local part is not allowed in a dot-atom", i)
		}
	}
	return nil
}

func checkDomain(s string) error {
	if s == "" {
		return invalid("email", "empty domain")
	}
	labels := 0
	for len(s) > 0 {
		label := s
		if i := strings.IndexByte(s, '.'); i >= 0 {
			label, s = s[:i], s[i+1:]
			if s == "" {
				return invalid("email", "domain ends with a dot")
			}
		} else {
			s = ""
		}
		labels++
		if label == "" || len(label) > 63 {
			return invalid("email", "domain label %d is empty or longer than 63 bytes", labels)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return invalid("email", "domain label %d starts or ends with a hyphen", labels)
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return invalid("email", "domain label %d has a character other than a letter, digit or hyphen", labels)
			}
		}
	}
	if labels < 2 {
		return invalid("email", "domain has no TLD")
	}
	return nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// alnumNumerals appends the value and radix of every ASCII letter (radix
// 26, case folded) and digit (radix 10) of s to vals and radix.
func alnumNumerals(vals, radix []uint16, s string) ([]uint16, []uint16) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			vals, radix = append(vals, uint16(c-'0')), append(radix, 10)
		case 'a' <= c && c <= 'z':
			vals, radix = append(vals, uint16(c-'a')), append(radix, 26)
		case 'A' <= c && c <= 'Z':
			vals, radix = append(vals, uint16(c-'A')), append(radix, 26)
		}
	}
	return vals, radix
}

// putAlnum writes vals back over the letters and digits of b, keeping each
// letter's case.
func putAlnum(b []byte, vals []uint16) {
	j := 0
	for i, c := range b {
		switch {
		case '0' <= c && c <= '9':
			b[i] = byte('0' + vals[j])
		case 'a' <= c && c <= 'z':
			b[i] = byte('a' + vals[j])
		case 'A' <= c && c <= 'Z':
			b[i] = byte('A' + vals[j])
		default:
			continue
		}
		j++
	}
}
