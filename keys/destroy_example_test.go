package keys_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

// After a suspected leak of a subject's key: rotate, re-encrypt the
// subject's data under the new version, then destroy the old versions.
// The WhenUnused check is what proves the re-encryption finished; a real
// one counts the rows still under an old version (gormcrypt provides it).
func ExampleKeyring_DestroyVersionsBelow() {
	c := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(), CacheMaxAge: 10 * time.Millisecond})
	old, _ := kr.Current(c, "customer-42", keys.DefaultPurpose)
	v, _ := kr.Rotate(c, "customer-42", keys.DefaultPurpose)

	rowsUnderOldVersions := int64(3) // before the re-encryption
	unused := keys.WhenUnused(func(context.Context) (int64, error) { return rowsUnderOldVersions, nil })
	_, err := kr.DestroyVersionsBelow(c, "customer-42", keys.DefaultPurpose, v, unused)
	fmt.Println("refused while in use:", errors.Is(err, keys.ErrVersionsInUse))

	time.Sleep(20 * time.Millisecond) // every process's cache now knows version v is current
	rowsUnderOldVersions = 0          // ... re-encrypted
	d, err := kr.DestroyVersionsBelow(c, "customer-42", keys.DefaultPurpose, v, unused)
	fmt.Println("destroyed:", d.DestroyedNow, err)

	_, err = kr.KeyVersion(c, old.ID(), old.Version())
	fmt.Println("old version:", errors.Is(err, keys.ErrVersionDestroyed), errors.Is(err, keys.ErrKeyDestroyed))
	// Output:
	// refused while in use: true
	// destroyed: 1 <nil>
	// old version: true true
}
