package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.VersionDestroyer = (*Store)(nil)

// DestroyVersions implements keystore.VersionDestroyer. In one transaction,
// holding the subject's row lock that CreateKey and Forget take too, it
// raises the key's floor in fieldcrypt_key_floors and sets the wrapped
// column of the versions below it to NULL, as Forget does (see the package
// documentation for the copies a database may keep until vacuum or
// checkpoint). On PostgreSQL it notifies the watching Stores, which evict
// the subject's keys; MySQL, MariaDB and SQLite Stores do not poll for it,
// so their processes stop using the versions within their cache MaxAge.
func (s *Store) DestroyVersions(ctx context.Context, id keystore.KeyID, below uint32) (int, error) {
	if below == 0 {
		return 0, errors.New("sqlstore: destroy versions: below must be at least 1")
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var subject []byte
		var latest int64
		err := tx.QueryRowContext(ctx, s.q.keySubject, id[:]).Scan(&subject, &latest)
		if errors.Is(err, sql.ErrNoRows) {
			return keystore.ErrKeyNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q.lockSubject, subject); err != nil {
			return err
		}
		// Again under the lock: only a CreateKey, which takes it too, adds
		// versions.
		if err := tx.QueryRowContext(ctx, s.q.keySubject, id[:]).Scan(&subject, &latest); err != nil {
			return err
		}
		if int64(below) > latest {
			return fmt.Errorf("below %d is above the latest version %d, which is never destroyed", below, latest)
		}
		if _, err := tx.ExecContext(ctx, s.q.raiseFloor, id[:], int64(below)); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		res, err := tx.ExecContext(ctx, s.q.destroyVersions, micros(now), id[:], int64(below))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if s.sql == Postgres && len(subject) == len(keystore.SubjectRef{}) {
			// The watchers evict the subject; time 0 leaves their
			// tombstone cursor where it is.
			payload := keystore.SubjectRef(subject).String() + " 0"
			if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: destroy versions: %w", err)
	}
	if s.sql == SQLite && n > 0 {
		// As in Forget: empty the write-ahead log of the pages with the
		// wrapped keys. Best effort.
		s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return int(n), nil
}
