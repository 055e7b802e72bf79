package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Store is a keystore.Store kept in SQL tables. It is safe for concurrent use
// by many goroutines, and by many processes sharing one database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	sql     SQL // dialect.SQL()
	q       queries
	opts    options
	channel string // PostgreSQL: the NOTIFY channel of this keystore

	closeOnce sync.Once
	closed    chan struct{} // closed by Close; stops every Watch

	pollFallback sync.Once // logs the switch from LISTEN to polling (see watch.go)
}

var (
	_ keystore.Store   = (*Store)(nil)
	_ keystore.Watcher = (*Store)(nil)
)

// Limits enforced before anything reaches the database, so that no backend
// silently truncates a value (MySQL does outside strict mode).
const (
	// MaxWrappedLen is the largest wrapped key, in bytes.
	MaxWrappedLen = 1<<16 - 1
	// MaxReasonLen is the longest tombstone reason, in bytes.
	MaxReasonLen = 1<<16 - 1
	// MaxMetaNameLen is the longest metadata name, in bytes.
	MaxMetaNameLen = 255
)

// SchemaVersion is the version of the tables this package creates and
// understands, recorded as "schema_version" in fieldcrypt_meta. New refuses
// a database whose recorded version is higher.
//
// Version 2 added the tables of the data lifecycle (retention activity,
// holds, scheduled destructions, key erasures, the audit log). Processes of
// releases that know only version 1 refuse a database migrated to 2: they
// would ignore holds and legal minimums and shred what must be kept.
const SchemaVersion = 2

// maxAttempts bounds how often a transaction that lost a race (deadlock,
// serialization failure, SQLITE_BUSY) is run again.
const maxAttempts = 8

// New returns a Store on db, whose database speaks d, creating the tables
// if they do not exist. Several processes may call New on one database at
// the same time. Close leaves db open (the caller keeps owning it) unless
// [WithOwnedDB] is given.
//
// Most users won't need New: the driver packages open a Store with the
// right Dialect (sqlite.Open, postgres.Open, mysql.Open) or put one on a
// *sql.DB the caller opened (sqlite.New, postgres.New, mysql.New).
func New(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	o := options{pollInterval: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := newStore(ctx, db, d, o)
	if err != nil && o.ownDB && db != nil {
		db.Close()
	}
	return s, err
}

func newStore(ctx context.Context, db *sql.DB, d Dialect, o options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if d == nil {
		return nil, errors.New("sqlstore: nil Dialect")
	}
	if !d.SQL().valid() {
		return nil, fmt.Errorf("sqlstore: unknown SQL variant %v", d.SQL())
	}
	if o.pollInterval <= 0 {
		return nil, errors.New("sqlstore: poll interval must be positive")
	}
	s := &Store{db: db, dialect: d, sql: d.SQL(), opts: o, closed: make(chan struct{})}
	s.q = s.sql.queries()
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if s.sql == Postgres {
		var schema string
		if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("sqlstore: reading current schema: %w", err)
		}
		s.channel = notifyChannel(schema)
	}
	return s, nil
}

// Close stops every Watch on the Store and closes the database if the Store
// owns it (the driver packages' Open functions, or [WithOwnedDB]); a Store
// made by New without WithOwnedDB leaves the caller's *sql.DB open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	if !s.opts.ownDB {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, again if it lost a race with another
// transaction. An error from fn rolls the transaction back and is returned.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || attempt == maxAttempts || s.dialect.Classify(err) != Retryable {
			return err
		}
		// Jittered exponential backoff: 2ms, 4ms, ... so that the losers
		// of a deadlock do not collide again.
		d := time.Duration(1<<attempt) * time.Millisecond
		d += rand.N(d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

// CreateKey implements keystore.Store. The tombstone check and the insert run
// in one transaction holding the subject's row lock, which Forget takes too.
// Times are stored with microsecond precision.
func (s *Store) CreateKey(ctx context.Context, rec keystore.KeyRecord) error {
	if len(rec.Purpose) > keys.MaxPurposeLen {
		return fmt.Errorf("sqlstore: create key: %w", keys.ErrInvalidPurpose)
	}
	if len(rec.Wrapped) > MaxWrappedLen {
		return fmt.Errorf("sqlstore: create key: wrapped key longer than %d bytes", MaxWrappedLen)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.lockSubject, rec.Subject[:]); err != nil {
			return err
		}
		var forgotten sql.NullInt64
		var reason []byte
		var destroyed int64
		if err := tx.QueryRowContext(ctx, s.q.selectSubject, rec.Subject[:]).Scan(&forgotten, &reason, &destroyed); err != nil {
			return err
		}
		if forgotten.Valid {
			return keystore.ErrKeyDestroyed
		}
		var floor int64
		switch err := tx.QueryRowContext(ctx, s.q.keyFloor, rec.ID[:]).Scan(&floor); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case int64(rec.Version) < floor:
			return keystore.ErrVersionDestroyed
		}
		_, err := tx.ExecContext(ctx, s.q.insertKey, rec.ID[:], int64(rec.Version), rec.Subject[:],
			rec.Purpose, rec.Wrapped, micros(rec.CreatedAt), nullMicros(rec.DestroyedAt))
		if err != nil && s.dialect.Classify(err) == UniqueViolation {
			return keystore.ErrKeyExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create key: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanKey(row scanner, id keystore.KeyID) (keystore.KeyRecord, error) {
	var (
		version, created int64
		subject, wrapped []byte
		purpose          string
		isNull, floor    bool
		destroyedAt      sql.NullInt64
	)
	if err := row.Scan(&version, &subject, &purpose, &wrapped, &isNull, &created, &destroyedAt, &floor); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return keystore.KeyRecord{}, keystore.ErrKeyNotFound
		}
		return keystore.KeyRecord{}, err
	}
	if len(subject) != len(keystore.SubjectRef{}) || version < 0 || version > 1<<32-1 {
		return keystore.KeyRecord{}, errors.New("malformed key row")
	}
	rec := keystore.KeyRecord{
		ID:        id,
		Version:   uint32(version),
		Subject:   keystore.SubjectRef(subject),
		Purpose:   purpose,
		CreatedAt: fromMicros(created),
	}
	if destroyedAt.Valid {
		rec.DestroyedAt = fromMicros(destroyedAt.Int64)
	}
	if floor {
		return rec, keystore.ErrVersionDestroyed
	}
	if isNull {
		return rec, keystore.ErrKeyDestroyed
	}
	// Some drivers return nil for an empty BLOB; only NULL means destroyed.
	if wrapped == nil {
		wrapped = []byte{}
	}
	rec.Wrapped = wrapped // Scan copied it: the caller owns it.
	return rec, nil
}

// LatestKey implements keystore.Store.
func (s *Store) LatestKey(ctx context.Context, id keystore.KeyID) (keystore.KeyRecord, error) {
	rec, err := scanKey(s.db.QueryRowContext(ctx, s.q.latestKey, id[:]), id)
	if err != nil {
		return rec, fmt.Errorf("sqlstore: latest key: %w", err)
	}
	return rec, nil
}

// GetKey implements keystore.Store.
func (s *Store) GetKey(ctx context.Context, id keystore.KeyID, version uint32) (keystore.KeyRecord, error) {
	rec, err := scanKey(s.db.QueryRowContext(ctx, s.q.getKey, id[:], int64(version)), id)
	if err != nil {
		return rec, fmt.Errorf("sqlstore: get key: %w", err)
	}
	return rec, nil
}

// Forget implements keystore.Store. Key material is deleted by setting the
// wrapped column to NULL in place; see the package documentation for the
// copies a database may keep until vacuum or checkpoint.
func (s *Store) Forget(ctx context.Context, t keystore.Tombstone) (keystore.Tombstone, error) {
	if len(t.Reason) > MaxReasonLen {
		return keystore.Tombstone{}, fmt.Errorf("sqlstore: forget: reason longer than %d bytes", MaxReasonLen)
	}
	var out keystore.Tombstone
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.lockSubject, t.Subject[:]); err != nil {
			return err
		}
		var forgotten sql.NullInt64
		var reason []byte
		var destroyed int64
		if err := tx.QueryRowContext(ctx, s.q.selectSubject, t.Subject[:]).Scan(&forgotten, &reason, &destroyed); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q.destroyKeys, micros(t.ForgottenAt), t.Subject[:])
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if forgotten.Valid {
			// Already forgotten: keep the first tombstone, but destroy
			// whatever material came back under it.
			out = keystore.Tombstone{Subject: t.Subject, ForgottenAt: fromMicros(forgotten.Int64),
				Reason: string(reason), Destroyed: int(destroyed + n), DestroyedNow: int(n)}
			if n > 0 {
				if _, err := tx.ExecContext(ctx, s.q.addDestroyed, n, t.Subject[:]); err != nil {
					return err
				}
			}
		} else {
			if _, err := tx.ExecContext(ctx, s.q.forgetSubject, micros(t.ForgottenAt), []byte(t.Reason), n, t.Subject[:]); err != nil {
				return err
			}
			out = t
			out.ForgottenAt = fromMicros(micros(t.ForgottenAt))
			out.Destroyed, out.DestroyedNow = int(n), int(n)
		}
		if s.sql == Postgres && !s.opts.noNotify && (n > 0 || !forgotten.Valid) {
			// Delivered to every listener when, and only if, the
			// transaction commits.
			payload := t.Subject.String() + " " + strconv.FormatInt(micros(out.ForgottenAt), 10)
			if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return keystore.Tombstone{}, fmt.Errorf("sqlstore: forget: %w", err)
	}
	if s.sql == SQLite && out.DestroyedNow > 0 {
		// Copy the zeroed pages back into the database file and empty the
		// write-ahead log, which still holds the pages with the wrapped keys.
		// Best effort: a long-running reader in another process can keep the
		// log from being truncated until a later checkpoint.
		s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return out, nil
}

// Tombstone implements keystore.Store.
func (s *Store) Tombstone(ctx context.Context, subject keystore.SubjectRef) (keystore.Tombstone, error) {
	var forgotten, destroyed int64
	var reason []byte
	err := s.db.QueryRowContext(ctx, s.q.tombstone, subject[:]).Scan(&forgotten, &reason, &destroyed)
	if errors.Is(err, sql.ErrNoRows) {
		err = keystore.ErrKeyNotFound
	}
	if err != nil {
		return keystore.Tombstone{}, fmt.Errorf("sqlstore: tombstone: %w", err)
	}
	return keystore.Tombstone{Subject: subject, ForgottenAt: fromMicros(forgotten),
		Reason: string(reason), Destroyed: int(destroyed)}, nil
}

var _ keystore.ForgottenLister = (*Store)(nil)

// ForgottenAmong implements keystore.ForgottenLister in one query.
func (s *Store) ForgottenAmong(ctx context.Context, refs []keystore.SubjectRef) ([]keystore.SubjectRef, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	args := make([]any, len(refs))
	for i := range refs {
		args[i] = refs[i][:]
	}
	q := s.sql.rebind(`SELECT subject_ref FROM fieldcrypt_subjects WHERE forgotten_at IS NOT NULL AND subject_ref IN (?` +
		strings.Repeat(", ?", len(refs)-1) + `)`)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: forgotten among: %w", err)
	}
	defer rows.Close()
	var out []keystore.SubjectRef
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlstore: forgotten among: %w", err)
		}
		var r keystore.SubjectRef
		if len(b) != len(r) {
			return nil, fmt.Errorf("sqlstore: forgotten among: stored subject reference has %d bytes", len(b))
		}
		copy(r[:], b)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: forgotten among: %w", err)
	}
	return out, nil
}

// InitMeta implements keystore.Store. Names are at most [MaxMetaNameLen] bytes.
// The emptiness check and the insert are one statement.
func (s *Store) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(name) > MaxMetaNameLen {
		return nil, fmt.Errorf("sqlstore: init meta: name longer than %d bytes", MaxMetaNameLen)
	}
	if value == nil {
		value = []byte{} // the column is NOT NULL
	}
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.initMeta, name, value); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, s.q.selectMeta, name).Scan(&stored)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var nonEmpty int
		if err := tx.QueryRowContext(ctx, s.q.nonEmpty).Scan(&nonEmpty); err != nil {
			return err
		}
		if nonEmpty == 0 { // emptied meanwhile: let the retry insert
			return errors.New("keystore emptied during initialisation; try again")
		}
		return keystore.ErrCheckValueMissing
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: init meta: %w", err)
	}
	if stored == nil {
		stored = []byte{}
	}
	return stored, nil
}
