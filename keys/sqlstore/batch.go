package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.BatchGetter = (*Store)(nil)

// batchMax is the most keys one batched query names: 1000 placeholders
// at most, under every supported database's limit.
const batchMax = 500

// LatestKeys implements keystore.BatchGetter: one query per 500 ids,
// joined with the subjects and floors like LatestKey, so a tombstone or a
// floor still wins over any material a row holds.
func (s *Store) LatestKeys(ctx context.Context, ids []keystore.KeyID) ([]keystore.KeyRecord, error) {
	var out []keystore.KeyRecord
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), batchMax)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i][:]
		}
		q := `SELECT k.key_id, ` + keyColumns + keyJoin + ` WHERE k.key_id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)
AND k.version = (SELECT MAX(m.version) FROM fieldcrypt_keys m WHERE m.key_id = k.key_id)`
		recs, err := s.queryKeys(ctx, q, args)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: latest keys: %w", err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// GetKeys implements keystore.BatchGetter: one query per 500 versions,
// joined like GetKey.
func (s *Store) GetKeys(ctx context.Context, refs []keystore.KeyVersionRef) ([]keystore.KeyRecord, error) {
	var out []keystore.KeyRecord
	for len(refs) > 0 {
		chunk := refs[:min(len(refs), batchMax)]
		refs = refs[len(chunk):]
		args := make([]any, 0, 2*len(chunk))
		for i := range chunk {
			args = append(args, chunk[i].ID[:], int64(chunk[i].Version))
		}
		q := `SELECT k.key_id, ` + keyColumns + keyJoin + ` WHERE (k.key_id = ? AND k.version = ?)` +
			strings.Repeat(" OR (k.key_id = ? AND k.version = ?)", len(chunk)-1)
		recs, err := s.queryKeys(ctx, q, args)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: get keys: %w", err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// prefixed scans a key_id column, then the columns scanKey reads.
type prefixed struct {
	row scanner
	id  *[]byte
}

func (p prefixed) Scan(dest ...any) error { return p.row.Scan(append([]any{p.id}, dest...)...) }

func (s *Store) queryKeys(ctx context.Context, q string, args []any) ([]keystore.KeyRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keystore.KeyRecord
	for rows.Next() {
		var idb []byte
		rec, err := scanKey(prefixed{rows, &idb}, keystore.KeyID{})
		if err != nil && !errors.Is(err, keystore.ErrKeyDestroyed) {
			return nil, err // ErrVersionDestroyed is an ErrKeyDestroyed
		}
		if len(idb) != len(keystore.KeyID{}) {
			return nil, errors.New("malformed key row")
		}
		rec.ID = keystore.KeyID(idb)
		out = append(out, rec) // Wrapped is nil when destroyed
	}
	return out, rows.Err()
}
