package tokenize_test

import (
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Version 2 keeps everything but the last seven national digits and gives
// other tokens than version 1 (the default), which keeps reading its own.
func ExamplePhone_version2() {
	t := exampleTokenizer()
	v2 := tokenize.Phone{DefaultRegion: "PL", Version: 2}
	tok, ok := roundTrip(t, v2, "+48 601 234 567")
	fmt.Println(v2.Name(), "kept:", tok[:6], "round trip:", ok)
	de := tokenize.Phone{DefaultRegion: "DE", Version: 2}
	tok, ok = roundTrip(t, de, "030 12345678") // national prefix and "301" kept
	fmt.Println("national:", tok[:5], "shape:", sameShape("030 12345678", tok), "round trip:", ok)
	_, ok = roundTrip(t, tokenize.Phone{DefaultRegion: "PL"}, "+48 601 234 567")
	fmt.Println("version 1 round trip:", ok)
	// Output:
	// phone/v2 kept: +48 60 round trip: true
	// national: 030 1 shape: true round trip: true
	// version 1 round trip: true
}
