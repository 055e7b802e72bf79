package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.TombstoneLister = (*Store)(nil)

// TombstonesSince implements keystore.TombstoneLister with one indexed
// range query (the index Watch's polling uses), for watchers such as
// keys/natswatch that catch up from the keystore. It sets Subject,
// ForgottenAt, Reason and Destroyed.
func (s *Store) TombstonesSince(ctx context.Context, since time.Time) ([]keystore.Tombstone, error) {
	q := s.sql.rebind(`SELECT subject_ref, forgotten_at, reason, destroyed FROM fieldcrypt_subjects
WHERE forgotten_at >= ? ORDER BY forgotten_at, subject_ref`)
	rows, err := s.db.QueryContext(ctx, q, since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tombstones since: %w", err)
	}
	defer rows.Close()
	var out []keystore.Tombstone
	for rows.Next() {
		var ref, reason []byte
		var at, destroyed int64
		if err := rows.Scan(&ref, &at, &reason, &destroyed); err != nil {
			return nil, fmt.Errorf("sqlstore: tombstones since: %w", err)
		}
		if len(ref) != len(keystore.SubjectRef{}) {
			return nil, errors.New("sqlstore: tombstones since: malformed subject row")
		}
		out = append(out, keystore.Tombstone{Subject: keystore.SubjectRef(ref), ForgottenAt: fromMicros(at),
			Reason: string(reason), Destroyed: int(destroyed)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: tombstones since: %w", err)
	}
	return out, nil
}
