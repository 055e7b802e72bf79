package tokenize_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// A token vault on the keystore: the in-memory store here; in production the
// keys/sqlstore Store the Keyring uses, so that every service sharing the
// keystore shares the vault.
func ExampleVault() {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		panic(err)
	}
	store := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		panic(err)
	}
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		panic(err)
	}
	const pan = "4111 1111 1111 1111"
	tok, err := v.Tokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, pan)
	if err != nil {
		panic(err)
	}
	again, _ := v.Tokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, pan)
	back, _ := v.Detokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, tok)
	fmt.Println("same shape:", len(tok) == len(pan), tok[15:])
	fmt.Println("same token again:", again == tok)
	fmt.Println("detokenized:", back == pan)

	_, err = v.Detokenize(ctx, "customer-7", "payments.card", tokenize.Card{}, tok)
	fmt.Println("another customer:", errors.Is(err, tokenize.ErrUnknownToken))

	if _, err := kr.Forget(ctx, "customer-42", "erasure request"); err != nil {
		panic(err)
	}
	_, err = v.Detokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, tok)
	fmt.Println("after Forget:", errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// same shape: true 1111
	// same token again: true
	// detokenized: true
	// another customer: true
	// after Forget: true
}
