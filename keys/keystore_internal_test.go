package keys

import (
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// keystore cannot import this package, so it spells the check value's
// name out in ErrCheckValueMissing's message: operators restore the entry
// that message names.
func TestCheckValueMissingNamesTheEntry(t *testing.T) {
	if !strings.Contains(keystore.ErrCheckValueMissing.Error(), " "+idKeyMetaName+" ") {
		t.Fatalf("ErrCheckValueMissing does not name the entry %q: %v", idKeyMetaName, keystore.ErrCheckValueMissing)
	}
}
