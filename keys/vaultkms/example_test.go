package vaultkms_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vaultkms"
)

// A Keyring whose root key is a Vault Transit key. It needs a Vault (or the
// test harness, internal/vaultharness), so it is compiled but not run.
func Example() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig()) // VAULT_ADDR, VAULT_TOKEN
	if err != nil {
		panic(err)
	}
	root, err := vaultkms.New(vaultkms.Config{Client: client, Key: "fieldcrypt-root"})
	if err != nil {
		panic(err)
	}
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
	if err != nil {
		panic(err) // keys.ErrRootKeyMismatch: another Transit key made this keystore
	}
	k, _ := kr.Current(ctx, "customer-42", keys.DefaultPurpose)
	fmt.Println(k.Version())
}

// Root rotation with Vault: a new Transit key version, every subject key
// re-wrapped under it (inside Vault with BindContext), then the versions no
// key needs any more disabled, so that old keystore backups unwrap nothing.
// The minimum is RotateRoot's MinRootVersion, not LatestVersion: the
// Transit key may have rotated again while RotateRoot ran.
func ExampleKMS_RotateKey() {
	ctx := context.Background()
	client, _ := api.NewClient(api.DefaultConfig())
	root, _ := vaultkms.New(vaultkms.Config{Client: client, Key: "fieldcrypt-root", Binding: vaultkms.BindContext})
	var store keystore.RotatableStore = memstore.New() // or a *sqlstore.Store

	if err := root.RotateKey(ctx); err != nil {
		panic(err) // not retried: check root.LatestVersion before trying again
	}
	st, err := keys.RotateRoot(ctx, store, root, nil, keys.RotateOptions{
		Progress: func(done, total int, resume keys.KeyCursor) { fmt.Println(done, "/", total) },
	})
	if err != nil {
		panic(err) // run again, with RotateOptions.After = st.Resume
	}
	err = root.SetMinDecryptionVersion(ctx, store, st.MinRootVersion)
	if errors.Is(err, vaultkms.ErrKeysBelowVersion) {
		panic(err) // a key was stored under an older version meanwhile: run RotateRoot again
	}
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Rewrapped, "keys re-wrapped; versions below", st.MinRootVersion, "disabled")
}
