package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestTokenVaultStore(t *testing.T) {
	keystest.RunTokenVaultStoreTests(t, func(*testing.T) keystore.TokenVaultStore { return memstore.New() })
}
