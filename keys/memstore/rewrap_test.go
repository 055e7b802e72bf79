package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestRotatableStore(t *testing.T) {
	keystest.RunRotatableStoreTests(t, func(*testing.T) keys.RotatableStore { return memstore.New() })
}
