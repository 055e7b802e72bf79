package localkms

import (
	"context"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.KMSBatchUnwrapper = (*KMS)(nil)

// UnwrapBatch implements keystore.KMSBatchUnwrapper: Unwrap of each
// request, in order. A local KMS has no round trip to save; it lets a
// keys.Keyring on a local root key take the same batched path as on a
// remote one.
func (k *KMS) UnwrapBatch(ctx context.Context, reqs []keystore.UnwrapRequest) ([]keystore.UnwrapResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]keystore.UnwrapResult, len(reqs))
	for i, r := range reqs {
		out[i].Plaintext, out[i].Err = k.Unwrap(ctx, r.Wrapped, r.AssociatedData)
	}
	return out, nil
}
