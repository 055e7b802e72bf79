package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestRotatableStore(t *testing.T) {
	keystest.RunRotatableStoreTests(t, func(*testing.T) keystore.RotatableStore { return memstore.New() })
}
