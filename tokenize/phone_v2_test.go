package tokenize_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// phoneV2Regions are the regions whose numbers TestPhoneV2Regions draws:
// single-region calling codes, shared ones (+1, +7, +44), literal and
// pattern national prefixes (BR, AR, MX), long and short numbers.
var phoneV2Regions = []string{"PL", "DE", "US", "CA", "GB", "GG", "JE", "IM", "FR", "BR", "IN", "JP", "IT", "ES", "RU", "KZ",
	"CN", "AU", "NL", "SE", "CH", "AT", "MX", "AR", "BE", "CZ", "UA", "TR", "ZA", "NG", "KR", "SG", "NZ", "IE", "PT"}

var phoneTypes = []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
	phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
	phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}

// randomPhone returns a number of region whose last seven national digits
// are random, built from an example number of a random type, valid (or,
// with possible, possible) per libphonenumber, in international or
// national notation; "" when none was found.
func randomPhone(r *rand.Rand, region string, possible, national bool) string {
	for range 200 {
		ex := phonenumbers.GetExampleNumberForType(region, phoneTypes[r.IntN(len(phoneTypes))])
		if ex == nil {
			continue
		}
		nsn := []byte(phonenumbers.GetNationalSignificantNumber(ex))
		for i := max(0, len(nsn)-7); i < len(nsn); i++ {
			nsn[i] = byte('0' + r.IntN(10))
		}
		n, err := phonenumbers.Parse("+"+strconv.Itoa(int(ex.GetCountryCode()))+string(nsn), "")
		if err != nil || !phonenumbers.IsValidNumber(n) && !possible || !phonenumbers.IsPossibleNumber(n) {
			continue
		}
		if national {
			return phonenumbers.Format(n, phonenumbers.NATIONAL)
		}
		if r.IntN(2) == 0 {
			return phonenumbers.Format(n, phonenumbers.E164)
		}
		return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	}
	return ""
}

// TestPhoneV2Regions: for random numbers of many regions, in both
// notations and with AllowPossible, every version 2 token is valid
// (possible) per libphonenumber, keeps the country code and everything but
// the last seven national digits, and detokenizes back; values version 2
// refuses as too small are short numbers. PHONE_V2_SAMPLES sets the count
// per region (default 40).
func TestPhoneV2Regions(t *testing.T) {
	_, tk := newTokenizer(t)
	samples := 40
	if s := os.Getenv("PHONE_V2_SAMPLES"); s != "" {
		samples, _ = strconv.Atoi(s)
	}
	r := rand.New(rand.NewPCG(2, 16))
	tokens, small := 0, 0
	for _, region := range phoneV2Regions {
		for _, possible := range []bool{false, true} {
			for _, national := range []bool{false, true} {
				f := tokenize.Phone{Version: 2, AllowPossible: possible}
				if national {
					f.DefaultRegion = region
				}
				for range samples {
					v := randomPhone(r, region, possible, national)
					if v == "" {
						continue
					}
					tok, err := tk.Tokenize(ctx, "cust-1", "customers.phone", f, v)
					if errors.Is(err, tokenize.ErrDomainTooSmall) {
						small++
						continue
					}
					if errors.Is(err, tokenize.ErrInvalidFormat) {
						// libphonenumber's formatting outside the one spelling
						// (for example doubled separators): version 1 agrees.
						if _, err1 := tk.Tokenize(ctx, "cust-1", "customers.phone", tokenize.Phone{DefaultRegion: f.DefaultRegion, AllowPossible: possible}, v); err1 == nil {
							t.Fatalf("%s %+v: %q refused by version 2 (%v) but not by version 1", region, f, v, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s %+v %q: %v", region, f, v, err)
					}
					checkPhoneToken(t, f, v, tok)
					back, err := tk.Detokenize(ctx, "cust-1", "customers.phone", f, tok)
					if err != nil || back != v {
						t.Fatalf("%s %+v: %q -> %q -> %q, %v", region, f, v, tok, back, err)
					}
					tokens++
				}
			}
		}
	}
	t.Logf("%d tokens checked, %d values too small", tokens, small)
	if tokens < len(phoneV2Regions)*samples {
		t.Fatalf("only %d tokens checked", tokens)
	}
}

// checkPhoneToken checks that tok is a valid (possible) number of the same
// country as v, with the same digits but for the last seven, and the same
// layout.
func checkPhoneToken(t *testing.T, f tokenize.Phone, v, tok string) {
	t.Helper()
	if !sameShape(v, tok) {
		t.Fatalf("%+v: token %q of %q changed the layout", f, tok, v)
	}
	nv, _ := phonenumbers.Parse(v, f.DefaultRegion)
	n, err := phonenumbers.Parse(tok, f.DefaultRegion)
	if err != nil || !phonenumbers.IsPossibleNumber(n) || !f.AllowPossible && !phonenumbers.IsValidNumber(n) {
		t.Fatalf("%+v: token %q of %q is not a valid (possible) number: %v", f, tok, v, err)
	}
	if n.GetCountryCode() != nv.GetCountryCode() {
		t.Fatalf("%+v: country code not kept: %q -> %q", f, v, tok)
	}
	a, b := phonenumbers.GetNationalSignificantNumber(nv), phonenumbers.GetNationalSignificantNumber(n)
	if len(a) != len(b) || a[:len(a)-7] != b[:len(b)-7] {
		t.Fatalf("%+v: national number %s -> %s does not keep all but the last seven digits", f, a, b)
	}
}
