//go:build go1.26

// testing/cryptotest is new in Go 1.26; older toolchains skip this file.

package envelope_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"testing/cryptotest"

	"github.com/fieldcrypt/fieldcrypt/envelope"
)

// TestNoncesComeFromTheSystem: every message's GCM nonce is read from the
// operating system's generator (crypto/rand) when it is sealed, never from
// state kept in process memory, which a VM snapshot or a
// checkpoint/restore would replay in every clone. With crypto/rand made
// deterministic, the nonce must be exactly the next 12 bytes it yields.
func TestNoncesComeFromTheSystem(t *testing.T) {
	c := newCipher(t)
	if _, err := c.Encrypt(ctx, "cust-1", []byte("warm"), nil); err != nil { // create and cache the key
		t.Fatal(err)
	}
	nonceOf := func(ct []byte) []byte {
		h, body, err := envelope.ParseHeader(ct)
		if err != nil || h.Mode != envelope.Randomized {
			t.Fatalf("ParseHeader: %+v, %v", h, err)
		}
		return body[:12]
	}
	for i := range 3 {
		cryptotest.SetGlobalRandom(t, uint64(i+1))
		ct1, err := c.Encrypt(ctx, "cust-1", []byte("ada@example.com"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ct2, err := c.Encrypt(ctx, "cust-1", []byte("ada@example.com"), nil)
		if err != nil {
			t.Fatal(err)
		}
		cryptotest.SetGlobalRandom(t, uint64(i+1))
		want := make([]byte, 24)
		rand.Read(want)
		if !bytes.Equal(nonceOf(ct1), want[:12]) || !bytes.Equal(nonceOf(ct2), want[12:]) {
			t.Fatalf("nonces %x, %x are not the system generator's next bytes %x: they come from state in process memory",
				nonceOf(ct1), nonceOf(ct2), want)
		}
	}
}
