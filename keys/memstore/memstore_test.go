package memstore_test

import (
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystest"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestConformance(t *testing.T) {
	keystest.RunStoreTests(t, func(t *testing.T) keystore.Store { return memstore.New() })
}

func TestKeyring(t *testing.T) {
	keystest.RunKeyringTests(t, keystest.Harness{
		New:        func(t *testing.T) keystore.Store { return memstore.New() },
		DeleteMeta: func(t *testing.T, s keystore.Store, name string) { memstore.DeleteMeta(s.(*memstore.Store), name) },
		RestoreMeta: func(t *testing.T, s keystore.Store, name string, v []byte) {
			memstore.RestoreMeta(s.(*memstore.Store), name, v)
		},
		RestoreKey: func(t *testing.T, s keystore.Store, rec keystore.KeyRecord) {
			memstore.RestoreKey(s.(*memstore.Store), rec)
		},
		Material: func(t *testing.T, s keystore.Store, id keystore.KeyID, v uint32) ([]byte, bool) {
			return memstore.Material(s.(*memstore.Store), id, v)
		},
	})
}

func TestVersionDestroyer(t *testing.T) {
	keystest.RunVersionDestroyerTests(t, func(t *testing.T) keystore.VersionDestroyer { return memstore.New() })
}

func TestLifecycle(t *testing.T) {
	keystest.RunLifecycleTests(t, keystest.LifecycleHarness{
		New: func(t *testing.T) keystore.Store { return memstore.New() },
		TamperAudit: func(t *testing.T, s keystore.Store, op string, seq uint64) {
			memstore.TamperAudit(s.(*memstore.Store), op, seq)
		},
	})
}

func TestTombstoneListerConformance(t *testing.T) {
	keystest.RunTombstoneListerTests(t, func(*testing.T) keystest.TombstoneListingStore { return memstore.New() })
}
