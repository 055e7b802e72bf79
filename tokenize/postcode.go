package tokenize

// Postcode tokenizes postal codes of one country, every digit becoming a
// digit and the dash kept:
//
//	Country  forms                  possible tokens
//	"PL"     00-000                 10^5: refused unless InsecureSmallDomain
//	"US"     12345 (ZIP)            10^5: refused unless InsecureSmallDomain
//	"US"     12345-6789 (ZIP+4)     10^9
//
// Five-digit codes have fewer than 10^6 possible values, so by default
// they fail with ErrDomainTooSmall. InsecureSmallDomain tokenizes them
// anyway (FF1 over six digits with cycle walking below 10^5): anyone who
// can tokenize chosen values for the same subject and field can tabulate
// all 100,000 tokens, and known message-recovery attacks on FF1 are cheap
// at this size. Use it only when the tokens are pseudonyms for analytics,
// not secrets; prefer keeping a prefix in clear and dropping the rest.
type Postcode struct {
	// Country is "PL" or "US".
	Country string
	// InsecureSmallDomain tokenizes five-digit codes despite their
	// 100,000 possible values (see above).
	InsecureSmallDomain bool
}

var _ Format = Postcode{}

// Name implements Format. InsecureSmallDomain is not part of it: setting
// it does not change the tokens of ZIP+4 codes.
func (p Postcode) Name() string {
	switch p.Country {
	case "PL":
		return "postcode/PL"
	case "US":
		return "postcode/US"
	}
	return "postcode/unsupported"
}

// Transform implements Format.
func (p Postcode) Transform(e *Engine, v string, decrypt bool) (string, error) {
	var buf [9]uint16
	d := buf[:0]
	var err error
	switch {
	case p.Country == "PL":
		if len(v) != 6 || v[2] != '-' {
			return "", invalid("postcode", "need 00-000")
		}
		d, err = parseSeparated(d, v, "postcode", 5, 5)
	case p.Country == "US" && len(v) == 5:
		d, err = parseDigits(d, v, "postcode", 5)
	case p.Country == "US":
		if len(v) != 10 || v[5] != '-' {
			return "", invalid("postcode", "need 12345 or 12345-6789")
		}
		d, err = parseSeparated(d, v, "postcode", 9, 9)
	default:
		return "", invalid("postcode", "unsupported Postcode.Country, need PL or US")
	}
	if err != nil {
		return "", err
	}
	if len(d) == 9 {
		err = e.Numerals(decimalAlphabet, "", d, d, decrypt)
	} else {
		if !p.InsecureSmallDomain {
			return "", tooSmall("postcode", "five-digit codes have 10^5 possible values, need 10^6 (see Postcode.InsecureSmallDomain)")
		}
		var x uint64
		x, err = e.cryptIndex("", digitsValue(d), 100_000, decrypt)
		putDigits(d, x)
	}
	if err != nil {
		return "", err
	}
	return replaceDigits(v, d), nil
}
