// Command vault is the quickstart with the root key in HashiCorp Vault's
// Transit engine: it encrypts a customer's email under a per-customer key
// wrapped by Vault, decrypts it, rotates the Transit key and re-wraps every
// subject key under the new version (keys.RotateRoot, inside Vault), disables
// the versions no key needs any more, forgets the customer and shows the data
// is unreadable.
//
//	eval "$(bash internal/vaultharness/start.sh)"   # or any Vault with transit/ mounted
//	go run ./examples/vault [-key fieldcrypt-example] [-mount transit]
//
// Without VAULT_ADDR and VAULT_TOKEN it says so and exits 0. The keystore is
// in memory, so each run starts afresh; the Transit key is created if absent.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

func main() {
	var suffix [4]byte
	rand.Read(suffix[:])
	key := flag.String("key", "fieldcrypt-example-"+hex.EncodeToString(suffix[:]), "Transit key name (created if absent)")
	mount := flag.String("mount", "transit", "Transit mount path")
	flag.Parse()
	if os.Getenv("VAULT_ADDR") == "" || os.Getenv("VAULT_TOKEN") == "" {
		fmt.Println("vault example: VAULT_ADDR and VAULT_TOKEN are not set; nothing to do.")
		fmt.Println(`start the test harness with: eval "$(bash internal/vaultharness/start.sh)"`)
		return
	}
	if err := run(context.Background(), *mount, *key); err != nil {
		fmt.Fprintln(os.Stderr, "vault example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, mount, keyName string) error {
	client, err := api.NewClient(api.DefaultConfig()) // reads VAULT_ADDR, VAULT_TOKEN
	if err != nil {
		return err
	}
	// BindContext: a derived Transit key, so that RotateRoot re-wraps inside Vault.
	root, err := vaultkms.New(vaultkms.Config{Client: client, Mount: mount, Key: keyName, Binding: vaultkms.BindContext})
	if err != nil {
		return err
	}
	if err := root.CreateKey(ctx); err != nil {
		return err
	}
	store := memstore.New()
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store})
	if err != nil {
		return err
	}
	c, err := envelope.New(kr)
	if err != nil {
		return err
	}
	fmt.Printf("root key: Vault transit key %s/%s at %s\n\n", mount, keyName, client.Address())

	customer := "customer-42"
	ad := envelope.AssociatedData("customers", "email", customer)
	ct, err := c.EncryptString(ctx, customer, "ada.lovelace@example.com", ad)
	if err != nil {
		return err
	}
	fmt.Printf("1. encrypt: %s\n", ct)
	pt, err := c.DecryptString(ctx, ct, ad)
	if err != nil {
		return err
	}
	fmt.Printf("2. decrypt: %q\n", pt)

	// Root rotation: a new Transit key version, every subject key re-wrapped
	// under it inside Vault, then the older versions disabled, so keystore
	// backups taken before now unwrap nothing. The minimum is the oldest
	// version RotateRoot left a key under, not LatestVersion: if the Transit
	// key rotated again meanwhile (auto_rotate_period, another operator),
	// the keys re-wrapped before that are under the older one, and
	// SetMinDecryptionVersion refuses to lock them out.
	if err := root.RotateKey(ctx); err != nil {
		return err // not retried: check root.LatestVersion before trying again
	}
	st, err := keys.RotateRoot(ctx, store, root, nil, keys.RotateOptions{})
	if err != nil {
		return err // run it again (RotateOptions.After = st.Resume)
	}
	v := st.MinRootVersion
	if err := root.SetMinDecryptionVersion(ctx, store, v); err != nil {
		return err // vaultkms.ErrKeysBelowVersion: run keys.RotateRoot again
	}
	kr.EvictAll()
	if pt, err = c.DecryptString(ctx, ct, ad); err != nil {
		return err
	}
	fmt.Printf("3. root rotated to v%d: %d key(s) re-wrapped, versions below v%d disabled; decrypt: %q\n", v, st.Rewrapped, v, pt)

	if _, err := kr.Forget(ctx, customer, "erasure request VX-1"); err != nil {
		return err
	}
	_, err = c.DecryptString(ctx, ct, ad)
	if !errors.Is(err, keys.ErrKeyDestroyed) {
		return fmt.Errorf("decrypt after Forget: got %v, want keys.ErrKeyDestroyed", err)
	}
	fmt.Printf("4. forget %s; decrypt refused: %v\n", customer, err)
	return nil
}
