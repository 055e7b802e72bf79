package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestConformance(t *testing.T) {
	keystest.RunStoreTests(t, func(t *testing.T) keys.Store { return memstore.New() })
}
