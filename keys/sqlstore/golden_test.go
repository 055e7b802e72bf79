package sqlstore_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/internal/golden"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// TestGoldenKeystore loads the golden keystore snapshot into each database
// and decrypts every golden ciphertext through it: what the SQL keystore
// stores (wrapped keys, tombstones, the check value) reads back to the
// same plaintext on every backend.
func TestGoldenKeystore(t *testing.T) {
	snap, err := golden.ReadSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	root, err := golden.RootKey()
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Name, Purpose, AD, Plaintext, Ciphertext string
		Forgotten                                bool
	}
	if err := golden.ReadJSON("envelope.json", &vs); err != nil {
		t.Fatal(err)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.fresh(t))
			if err := snap.Load(t.Context(), s); err != nil {
				t.Fatal(err)
			}
			kr, err := keys.Open(t.Context(), keys.Config{KMS: root, Store: s, DisableWatch: true})
			if err != nil {
				t.Fatal(err)
			}
			defer kr.Close()
			for _, v := range vs {
				c, err := envelope.New(kr, envelope.WithPurpose(v.Purpose))
				if err != nil {
					t.Fatal(err)
				}
				ad, _ := base64.StdEncoding.DecodeString(v.AD)
				want, _ := base64.StdEncoding.DecodeString(v.Plaintext)
				got, err := c.DecryptString(t.Context(), v.Ciphertext, ad)
				switch {
				case v.Forgotten && !errors.Is(err, keystore.ErrKeyDestroyed):
					t.Errorf("%s: %v, want ErrKeyDestroyed", v.Name, err)
				case !v.Forgotten && (err != nil || got != string(want)):
					t.Errorf("%s: DecryptString = %q, %v; want %q", v.Name, got, err, want)
				}
			}
		})
	}
}
