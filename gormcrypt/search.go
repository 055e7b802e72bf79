package gormcrypt

import (
	"context"

	"github.com/fieldcrypt/fieldcrypt/envelope"
)

// sealAll returns the column values a deterministic column holds for v
// under every live key version of subject, newest first: rows written
// before a rotation keep the old version's ciphertext. nil means v is NULL
// or the subject has no key yet, so no row can match.
func (p *Plugin) sealAll(ctx context.Context, c *columnMeta, subject string, v any) ([]any, error) {
	pt, null, err := encode(c, v)
	if err != nil {
		return nil, c.errorf(err)
	}
	if null {
		return nil, nil
	}
	cts, err := p.c.EncryptDeterministicAll(ctx, subject, pt, envelope.AssociatedData(c.model.table, c.dbName, subject))
	if err != nil {
		return nil, c.errorf(err)
	}
	out := make([]any, len(cts))
	for i, ct := range cts {
		out[i] = text.EncodeToString(ct)
	}
	return out, nil
}
