package fpe_test

import (
	"encoding/hex"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

func ExampleFF1() {
	// In production the key comes from the keys package, never a literal.
	key, _ := hex.DecodeString("2B7E151628AED2A6ABF7158809CF4F3C")
	c, err := fpe.NewFF1(key, "0123456789")
	if err != nil {
		panic(err)
	}
	// The tweak separates domains: the same number in two columns gets two
	// unrelated tokens.
	tweak := []byte("payments.card_number")
	token, err := c.Encrypt("4111111111111111", tweak)
	if err != nil {
		panic(err)
	}
	plain, err := c.Decrypt(token, tweak)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(token), plain)

	// NIST SP 800-38G FF1 sample 1.
	fmt.Println(c.Encrypt("0123456789", nil))

	// Characters outside the alphabet are rejected, never normalized.
	_, err = c.Encrypt("+123456789", nil)
	fmt.Println(err)
	// Output:
	// 16 4111111111111111
	// 2433477484 <nil>
	// fpe: invalid input: character at position 0 is not in the alphabet
}

func ExampleFF31() {
	// FF3-1 only for compatibility with tokens an existing system issued.
	key, _ := hex.DecodeString("2DE79D232DF5585D68CE47882AE256D6")
	tweak, _ := hex.DecodeString("CBD09280979564") // exactly 7 bytes
	c, err := fpe.NewFF31(key, "0123456789")
	if err != nil {
		panic(err)
	}
	token, err := c.Encrypt("3992520240", tweak)
	if err != nil {
		panic(err)
	}
	plain, _ := c.Decrypt(token, tweak)
	fmt.Println(token, plain, c.MaxLen())
	// Output: 8901801106 3992520240 56
}

func ExampleNewAlphabet() {
	a, err := fpe.NewAlphabet("aąbcćdeęfghijklłmnńoóprsśtuwyzźż")
	if err != nil {
		panic(err)
	}
	c, err := fpe.NewFF1WithAlphabet(make([]byte, 32), a)
	if err != nil {
		panic(err)
	}
	token, _ := c.Encrypt("żółćgęś", []byte("surname"))
	plain, _ := c.Decrypt(token, []byte("surname"))
	fmt.Println(a.Radix(), plain)
	_, err = c.Encrypt("ŻÓŁĆGĘŚ", []byte("surname")) // no case folding
	fmt.Println(err)
	// Output:
	// 32 żółćgęś
	// fpe: invalid input: character at position 0 is not in the alphabet
}

func ExampleFF1_EncryptNumerals() {
	c, err := fpe.NewFF1(make([]byte, 16), "0123456789")
	if err != nil {
		panic(err)
	}
	src := []uint16{4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	var dst [16]uint16 // caller-owned buffer: no allocation
	if err := c.EncryptNumerals(dst[:], src, nil); err != nil {
		panic(err)
	}
	if err := c.DecryptNumerals(dst[:], dst[:], nil); err != nil {
		panic(err)
	}
	fmt.Println(dst)
	// Output: [4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1]
}
