package tokenize_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// exampleTokenizer returns a Tokenizer over a fresh in-memory keyring.
// Tokens depend on its random keys, so the examples print properties of
// tokens rather than tokens.
func exampleTokenizer() *tokenize.Tokenizer {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		panic(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err)
	}
	t, err := tokenize.New(kr)
	if err != nil {
		panic(err)
	}
	return t
}

// roundTrip tokenizes v, detokenizes the token and returns the token and
// whether the round trip gave v back.
func roundTrip(t *tokenize.Tokenizer, f tokenize.Format, v string) (string, bool) {
	ctx := context.Background()
	tok, err := t.Tokenize(ctx, "customer-42", "customers.col", f, v)
	if err != nil {
		panic(err)
	}
	back, err := t.Detokenize(ctx, "customer-42", "customers.col", f, tok)
	return tok, err == nil && back == v
}

func ExampleCard() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Card{}, "4111 1111 1111 1111")
	fmt.Println("length:", len(tok), "last four:", tok[15:], "spaces kept:", tok[4] == ' ' && tok[9] == ' ')
	fmt.Println("Luhn-valid:", luhnOK(tok), "round trip:", ok)

	// BIN and last four of a 16-digit card leave too few tokens once a
	// Luhn constraint applies.
	_, err := t.Tokenize(context.Background(), "customer-42", "customers.col",
		tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnValid}, "4111 1111 1111 1111")
	fmt.Println(errors.Is(err, tokenize.ErrDomainTooSmall))
	// Output:
	// length: 19 last four: 1111 spaces kept: true
	// Luhn-valid: false round trip: true
	// true
}

func ExampleEmail() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Email{}, "jan.kowalski+shop@example.com")
	at := strings.IndexByte(tok, '@')
	fmt.Println("domain:", tok[at:], "dot and plus kept:", tok[3] == '.' && tok[12] == '+', "round trip:", ok)
	// Output: domain: @example.com dot and plus kept: true round trip: true
}

func ExamplePhone() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567")
	fmt.Println("kept:", tok[:6], "shape:", sameShape("+48 601 234 567", tok), "round trip:", ok)
	// Output: kept: +48 60 shape: true round trip: true
}

func ExamplePESEL() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.PESEL{KeepSex: true}, "44051401359")
	fmt.Println("valid PESEL:", peselOK(tok), "sex kept:", (tok[9]-'0')%2 == 1, "round trip:", ok)
	// Output: valid PESEL: true sex kept: true round trip: true
}

func ExampleNIP() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.NIP{}, "123-456-32-18")
	fmt.Println("valid NIP:", nipOK(tok), "dashes kept:", sameShape("123-456-32-18", tok), "round trip:", ok)
	// Output: valid NIP: true dashes kept: true round trip: true
}

func ExampleSSN() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.SSN{}, "123-45-6789")
	fmt.Println("valid SSN:", ssnOK(tok), "shape:", sameShape("123-45-6789", tok), "round trip:", ok)
	// Output: valid SSN: true shape: true round trip: true
}

func ExampleIBAN() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.IBAN{}, "GB29 NWBK 6016 1331 9268 19")
	fmt.Println("country:", tok[:2], "mod-97 valid:", ibanOK(tok), "shape:", sameShape("GB29 NWBK 6016 1331 9268 19", tok), "round trip:", ok)
	// Output: country: GB mod-97 valid: true shape: true round trip: true
}

func ExamplePostcode() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Postcode{Country: "US"}, "94105-1804")
	fmt.Println("ZIP+4:", len(tok) == 10 && tok[5] == '-', "round trip:", ok)
	_, err := t.Tokenize(context.Background(), "customer-42", "customers.zip", tokenize.Postcode{Country: "PL"}, "00-950")
	fmt.Println("PL 00-000:", errors.Is(err, tokenize.ErrDomainTooSmall))
	// Output:
	// ZIP+4: true round trip: true
	// PL 00-000: true
}

func ExampleDate() {
	t := exampleTokenizer()
	f := tokenize.Date{
		Layout:              "02.01.2006",
		Min:                 time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC),
		Max:                 time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC),
		InsecureSmallDomain: true, // 36,890 days: below the 10^6 minimum
	}
	tok, ok := roundTrip(t, f, "14.03.1985")
	d, err := time.Parse(f.Layout, tok)
	fmt.Println("date in window:", err == nil && !d.Before(f.Min) && !d.After(f.Max), "round trip:", ok)
	// Output: date in window: true round trip: true
}

func ExampleText() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Text{}, "Zażółć Gęślą-Jaźń")
	fmt.Println("case, space and dash kept:", sameShape("Zażółć Gęślą-Jaźń", tok), "round trip:", ok)
	// Output: case, space and dash kept: true round trip: true
}

func ExamplePattern() {
	t := exampleTokenizer()
	tok, ok := roundTrip(t, tokenize.Pattern{Mask: "AA-9999-99"}, "KR-2024-07")
	fmt.Println("shape:", sameShape("KR-2024-07", tok), "round trip:", ok)
	// Output: shape: true round trip: true
}

func ExampleMaskCard() {
	fmt.Println(tokenize.MaskCard("4111 1111 1111 1111"))
	fmt.Println(tokenize.MaskEmail("jan.kowalski@example.com"))
	fmt.Println(tokenize.MaskPhone("+48 601 234 567"))
	// Output:
	// **** **** **** 1111
	// j***@example.com
	// +** *** *** 567
}

func ExampleMaskEmail() {
	fmt.Println(tokenize.MaskEmail("jan.kowalski@example.com"))
	// Output: j***@example.com
}

func ExampleMaskPhone() {
	fmt.Println(tokenize.MaskPhone("+48 601 234 567"))
	// Output: +** *** *** 567
}

// ExampleTokenizer_TokenizeGlobal shows global-scope tokens, which join
// across customers.
func ExampleTokenizer_TokenizeGlobal() {
	t := exampleTokenizer()
	ctx := context.Background()
	a, _ := t.TokenizeGlobal(ctx, "orders.email", tokenize.Email{}, "jan.kowalski@example.com")
	b, _ := t.TokenizeGlobal(ctx, "orders.email", tokenize.Email{}, "jan.kowalski@example.com")
	back, _ := t.DetokenizeGlobal(ctx, "orders.email", tokenize.Email{}, a)
	fmt.Println(a == b, back)
	// Output: true jan.kowalski@example.com
}
