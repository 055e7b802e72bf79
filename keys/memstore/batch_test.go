package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestBatchGetter(t *testing.T) {
	keystest.RunBatchGetterTests(t, func(t *testing.T) keystest.BatchStore { return memstore.New() })
}
