package vaultkms

import (
	"context"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.KMSBatchUnwrapper = (*KMS)(nil)

// UnwrapBatch implements keystore.KMSBatchUnwrapper: one Transit decrypt
// request with batch_input per MaxBatch values, so that keys.Keyring.Warm
// unwraps a page of keys in one round trip. Items that do not
// authenticate get an error wrapping keystore.ErrUnwrap; an operational
// failure of a request fails the whole call.
func (k *KMS) UnwrapBatch(ctx context.Context, reqs []keystore.UnwrapRequest) ([]keystore.UnwrapResult, error) {
	if err := k.verifyContextBinding(ctx); err != nil {
		return nil, err
	}
	out := make([]keystore.UnwrapResult, len(reqs))
	for start := 0; start < len(reqs); start += k.maxBatch {
		chunk := reqs[start:min(len(reqs), start+k.maxBatch)]
		items := make([]map[string]any, 0, len(chunk))
		idx := make([]int, 0, len(chunk))
		for i, r := range chunk {
			if _, _, ok := parseCiphertext(r.Wrapped); !ok {
				out[start+i].Err = fmt.Errorf("vault: unwrap: %w: malformed transit ciphertext", keystore.ErrUnwrap)
				continue
			}
			item := map[string]any{"ciphertext": string(r.Wrapped)}
			k.bind(item, r.AssociatedData)
			items = append(items, item)
			idx = append(idx, start+i)
		}
		if len(items) == 0 {
			continue
		}
		results, err := k.batch(ctx, "decrypt", items)
		if err != nil {
			return nil, fmt.Errorf("vault: unwrap with key %q: %w", k.key, err)
		}
		for j, r := range results {
			res := itemResult(r, "plaintext", func(s string) ([]byte, error) { return decodePlaintext(s) })
			out[idx[j]] = keystore.UnwrapResult{Plaintext: res.Wrapped, Err: res.Err}
		}
	}
	return out, nil
}
