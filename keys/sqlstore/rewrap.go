package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.RotatableStore = (*Store)(nil)

// Statements for keystore.RotatableStore. Key identifiers are BLOB, BYTEA and
// BINARY(16) columns, which all three databases order bytewise, as
// keystore.KeyCursor does.
const (
	// Keys of subjects with a tombstone, and versions below their key's
	// floor, are never live, whatever their row holds (see keyColumns).
	liveKeysQuery = `SELECT k.key_id, k.version, k.subject_ref, k.purpose, k.wrapped, k.created_at FROM fieldcrypt_keys k
WHERE k.wrapped IS NOT NULL AND ` + notForgotten + ` AND (k.key_id > ? OR (k.key_id = ? AND k.version > ?))
ORDER BY k.key_id, k.version LIMIT ?`
	countLiveKeysQuery = `SELECT COUNT(*) FROM fieldcrypt_keys k WHERE k.wrapped IS NOT NULL AND ` + notForgotten
	rewrapKeyQuery     = `UPDATE fieldcrypt_keys SET wrapped = ? WHERE key_id = ? AND version = ? AND wrapped = ? AND NOT EXISTS
(SELECT 1 FROM fieldcrypt_subjects s WHERE s.subject_ref = fieldcrypt_keys.subject_ref AND s.forgotten_at IS NOT NULL) AND NOT EXISTS
(SELECT 1 FROM fieldcrypt_key_floors f WHERE f.key_id = fieldcrypt_keys.key_id AND fieldcrypt_keys.version < f.destroyed_below)`
	keyStateQuery   = `SELECT k.wrapped IS NULL OR s.forgotten_at IS NOT NULL OR NOT ` + aboveFloor + keyJoin + ` WHERE k.key_id = ? AND k.version = ?`
	metaQuery       = `SELECT value FROM fieldcrypt_meta WHERE name = ?`
	rewrapMetaQuery = `UPDATE fieldcrypt_meta SET value = ? WHERE name = ? AND value = ?`
)

// LiveKeys implements keystore.RotatableStore.
func (s *Store) LiveKeys(ctx context.Context, after keystore.KeyCursor, limit int) ([]keystore.KeyRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(liveKeysQuery), after.ID[:], after.ID[:], int64(after.Version), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: live keys: %w", err)
	}
	defer rows.Close()
	var out []keystore.KeyRecord
	for rows.Next() {
		var (
			id, subject, wrapped []byte
			version, created     int64
			purpose              string
		)
		if err := rows.Scan(&id, &version, &subject, &purpose, &wrapped, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: live keys: %w", err)
		}
		if len(id) != len(keystore.KeyID{}) || len(subject) != len(keystore.SubjectRef{}) || version < 0 || version > 1<<32-1 {
			return nil, errors.New("sqlstore: live keys: malformed key row")
		}
		if wrapped == nil {
			wrapped = []byte{}
		}
		out = append(out, keystore.KeyRecord{
			ID: keystore.KeyID(id), Version: uint32(version), Subject: keystore.SubjectRef(subject),
			Purpose: purpose, Wrapped: wrapped, CreatedAt: fromMicros(created),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: live keys: %w", err)
	}
	return out, nil
}

// CountLiveKeys implements keystore.RotatableStore.
func (s *Store) CountLiveKeys(ctx context.Context) (int, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, countLiveKeysQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count live keys: %w", err)
	}
	return int(n), nil
}

// RewrapKey implements keystore.RotatableStore: one UPDATE whose WHERE clause
// names the old material, so that a concurrent Forget (which sets it to
// NULL) or another rotation always wins cleanly.
func (s *Store) RewrapKey(ctx context.Context, id keystore.KeyID, version uint32, oldWrapped, newWrapped []byte) error {
	if len(newWrapped) > MaxWrappedLen {
		return fmt.Errorf("sqlstore: rewrap key: wrapped key longer than %d bytes", MaxWrappedLen)
	}
	if newWrapped == nil {
		return errors.New("sqlstore: rewrap key: nil material")
	}
	if oldWrapped == nil {
		oldWrapped = []byte{}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.sql.rebind(rewrapKeyQuery), newWrapped, id[:], int64(version), oldWrapped)
		if err != nil {
			return err
		}
		// MySQL reports changed rows, not matched ones; the new material is
		// freshly randomised, so a matched row is always a changed one.
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var destroyed bool
		err = tx.QueryRowContext(ctx, s.sql.rebind(keyStateQuery), id[:], int64(version)).Scan(&destroyed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return keystore.ErrKeyNotFound
		case err != nil:
			return err
		case destroyed:
			return keystore.ErrKeyDestroyed
		}
		return keystore.ErrRewrapConflict
	})
	if err != nil {
		return fmt.Errorf("sqlstore: rewrap key: %w", err)
	}
	return nil
}

// Meta implements keystore.RotatableStore.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, s.sql.rebind(metaQuery), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = keystore.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: meta: %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// RewrapMeta implements keystore.RotatableStore.
func (s *Store) RewrapMeta(ctx context.Context, name string, oldValue, newValue []byte) error {
	if oldValue == nil {
		oldValue = []byte{}
	}
	if newValue == nil {
		newValue = []byte{}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.sql.rebind(rewrapMetaQuery), newValue, name, oldValue)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var v []byte
		err = tx.QueryRowContext(ctx, s.sql.rebind(metaQuery), name).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return keystore.ErrKeyNotFound
		}
		if err != nil {
			return err
		}
		return keystore.ErrRewrapConflict
	})
	if err != nil {
		return fmt.Errorf("sqlstore: rewrap meta: %w", err)
	}
	return nil
}
