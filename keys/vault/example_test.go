package vault_test

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/vault"
)

// A Keyring whose root key is a Vault Transit key. It needs a Vault (or the
// test harness, internal/vaultharness), so it is compiled but not run.
func Example() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig()) // VAULT_ADDR, VAULT_TOKEN
	if err != nil {
		panic(err)
	}
	root, err := vault.New(vault.Config{Client: client, Key: "fieldcrypt-root"})
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
// re-wrapped under it (inside Vault with BindContext), then the old version
// disabled so that old keystore backups unwrap nothing.
func ExampleKMS_RotateKey() {
	ctx := context.Background()
	client, _ := api.NewClient(api.DefaultConfig())
	root, _ := vault.New(vault.Config{Client: client, Key: "fieldcrypt-root", Binding: vault.BindContext})
	var store keys.RotatableStore = memstore.New() // or a *sqlstore.Store

	if err := root.RotateKey(ctx); err != nil {
		panic(err)
	}
	st, err := keys.RotateRoot(ctx, store, root, nil, keys.RotateOptions{
		Progress: func(done, total int, resume keys.KeyCursor) { fmt.Println(done, "/", total) },
	})
	if err != nil {
		panic(err) // run again, with RotateOptions.After = st.Resume
	}
	v, _ := root.LatestVersion(ctx)
	if err := root.SetMinDecryptionVersion(ctx, v); err != nil {
		panic(err)
	}
	fmt.Println(st.Rewrapped, "keys now under version", v)
}
