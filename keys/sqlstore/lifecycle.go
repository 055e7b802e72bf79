package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.LifecycleStore = (*Store)(nil)

// lifecycleSchema returns the tables of schema version 2: activity,
// holds, scheduled destructions, per-key erasure records and the audit
// log. Every statement is idempotent.
func (d SQL) lifecycleSchema() []string {
	var ref, blob, bigblob, purpose, bigint, suffix string
	switch d {
	case SQLite:
		ref, blob, bigblob, purpose, bigint = "BLOB", "BLOB", "BLOB", "TEXT", "INTEGER"
	case Postgres:
		ref, blob, bigblob, purpose, bigint = "BYTEA", "BYTEA", "BYTEA", "VARCHAR(64)", "BIGINT"
	case MySQL:
		ref, blob, bigblob, purpose, bigint = "BINARY(16)", "BLOB", "LONGBLOB", "VARBINARY(64)", "BIGINT"
		suffix = " ENGINE=InnoDB"
	}
	scheduleIndex := ""
	if d == MySQL {
		scheduleIndex = `,
	INDEX fieldcrypt_erasure_schedule_subject (subject_ref),
	INDEX fieldcrypt_erasure_schedule_due (due_at)`
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS fieldcrypt_activity (
	subject_ref ` + ref + ` NOT NULL PRIMARY KEY,
	last_active ` + bigint + ` NOT NULL
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_holds (
	subject_ref ` + ref + ` NOT NULL,
	purpose ` + purpose + ` NOT NULL,
	reason ` + blob + ` NOT NULL,
	placed_at ` + bigint + ` NOT NULL,
	until_at ` + bigint + ` NOT NULL,
	PRIMARY KEY (subject_ref, purpose)
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_erasure_schedule (
	key_id ` + ref + ` NOT NULL PRIMARY KEY,
	subject_ref ` + ref + ` NOT NULL,
	purpose ` + purpose + ` NOT NULL,
	due_at ` + bigint + ` NOT NULL,
	requested_at ` + bigint + ` NOT NULL,
	reason ` + blob + ` NOT NULL,
	forget_subject ` + bigint + ` NOT NULL` + scheduleIndex + `
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_key_erasures (
	key_id ` + ref + ` NOT NULL,
	latest_version ` + bigint + ` NOT NULL,
	lowest_version ` + bigint + ` NOT NULL,
	subject_ref ` + ref + ` NOT NULL,
	purpose ` + purpose + ` NOT NULL,
	destroyed ` + bigint + ` NOT NULL,
	destroyed_at ` + bigint + ` NOT NULL,
	reason ` + blob + ` NOT NULL,
	PRIMARY KEY (key_id, latest_version)
)` + suffix,
		`CREATE TABLE IF NOT EXISTS fieldcrypt_audit_log (
	seq ` + bigint + ` NOT NULL PRIMARY KEY,
	entry ` + bigblob + ` NOT NULL,
	hash ` + blob + ` NOT NULL
)` + suffix,
	}
	if d != MySQL {
		stmts = append(stmts,
			`CREATE INDEX IF NOT EXISTS fieldcrypt_erasure_schedule_subject ON fieldcrypt_erasure_schedule (subject_ref)`,
			`CREATE INDEX IF NOT EXISTS fieldcrypt_erasure_schedule_due ON fieldcrypt_erasure_schedule (due_at)`)
	}
	return stmts
}

// lifeTx runs fn in a transaction like inTx, at READ COMMITTED on MySQL so
// that what a statement reads after taking a lock is the latest committed
// state, as on PostgreSQL (InnoDB's REPEATABLE READ would read the
// transaction's first snapshot).
func (s *Store) lifeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if s.sql == MySQL {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	for attempt := 1; ; attempt++ {
		err := func() error {
			tx, err := s.db.BeginTx(ctx, opts)
			if err != nil {
				return err
			}
			if err := fn(tx); err != nil {
				_ = tx.Rollback()
				return err
			}
			return tx.Commit()
		}()
		if err == nil || attempt == maxAttempts || s.dialect.Classify(err) != Retryable {
			return err
		}
		d := time.Duration(1<<attempt) * time.Millisecond
		d += rand.N(d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// lockForUpdate locks the subject's row, which exists once it has a key,
// creating it otherwise; it fails with ErrKeyDestroyed for a forgotten
// subject.
func (s *Store) lockLive(ctx context.Context, tx *sql.Tx, subject keystore.SubjectRef) error {
	if _, err := tx.ExecContext(ctx, s.q.lockSubject, subject[:]); err != nil {
		return err
	}
	var forgotten sql.NullInt64
	var reason []byte
	var destroyed int64
	if err := tx.QueryRowContext(ctx, s.q.selectSubject, subject[:]).Scan(&forgotten, &reason, &destroyed); err != nil {
		return err
	}
	if forgotten.Valid {
		return keystore.ErrKeyDestroyed
	}
	return nil
}

// Touch implements keystore.LifecycleStore.
func (s *Store) Touch(ctx context.Context, subject keystore.SubjectRef, at time.Time) error {
	var upsert string
	switch s.sql {
	case SQLite:
		upsert = `INSERT INTO fieldcrypt_activity (subject_ref, last_active) VALUES (?, ?)
ON CONFLICT (subject_ref) DO UPDATE SET last_active = MAX(fieldcrypt_activity.last_active, excluded.last_active)`
	case Postgres:
		upsert = `INSERT INTO fieldcrypt_activity (subject_ref, last_active) VALUES (?, ?)
ON CONFLICT (subject_ref) DO UPDATE SET last_active = GREATEST(fieldcrypt_activity.last_active, EXCLUDED.last_active)`
	case MySQL:
		upsert = `INSERT INTO fieldcrypt_activity (subject_ref, last_active) VALUES (?, ?)
ON DUPLICATE KEY UPDATE last_active = GREATEST(last_active, VALUES(last_active))`
	}
	err := s.lifeTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLive(ctx, tx, subject); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.sql.rebind(upsert), subject[:], micros(at))
		return err
	})
	if errors.Is(err, keystore.ErrKeyDestroyed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlstore: touch: %w", err)
	}
	return nil
}

// lifeKeyStateQuery reads one key's state: its versions grouped, then the
// subject's tombstone and activity by point lookups (joining them made
// PostgreSQL hash the whole activity table for every key).
const lifeKeyStateQuery = `SELECT g.subject_ref, g.purpose, g.latest, g.floor, g.created,
(SELECT s.forgotten_at FROM fieldcrypt_subjects s WHERE s.subject_ref = g.subject_ref),
(SELECT a.last_active FROM fieldcrypt_activity a WHERE a.subject_ref = g.subject_ref)
FROM (SELECT k.subject_ref, k.purpose, MAX(k.version) AS latest, MAX(COALESCE(f.destroyed_below, 1)) AS floor,
MIN(CASE WHEN k.wrapped IS NOT NULL AND k.version >= COALESCE(f.destroyed_below, 0) THEN k.created_at END) AS created
FROM fieldcrypt_keys k LEFT JOIN fieldcrypt_key_floors f ON f.key_id = k.key_id
WHERE k.key_id = ? GROUP BY k.subject_ref, k.purpose) g`

// keyState reads the state of id, or false if it has no version.
func (s *Store) keyState(ctx context.Context, q querier, id keystore.KeyID) (keystore.KeyState, bool, error) {
	var (
		subject                   []byte
		purpose                   string
		latest, floor             int64
		created, forgotten, alive sql.NullInt64
	)
	err := q.QueryRowContext(ctx, s.sql.rebind(lifeKeyStateQuery), id[:]).Scan(&subject, &purpose, &latest, &floor, &created, &forgotten, &alive)
	if errors.Is(err, sql.ErrNoRows) {
		return keystore.KeyState{}, false, nil
	}
	if err != nil {
		return keystore.KeyState{}, false, err
	}
	if len(subject) != len(keystore.SubjectRef{}) || latest < 1 || latest > 1<<32-1 {
		return keystore.KeyState{}, false, errors.New("malformed key row")
	}
	st := keystore.KeyState{ID: id, Subject: keystore.SubjectRef(subject), Purpose: purpose,
		Latest: uint32(latest), Lowest: uint32(max(1, min(floor, 1<<32-1))), Forgotten: forgotten.Valid}
	st.Live = created.Valid && !st.Forgotten
	if created.Valid {
		st.Created = fromMicros(created.Int64)
	}
	if alive.Valid {
		st.LastActive = fromMicros(alive.Int64)
	}
	if st.Holds, err = s.holds(ctx, q, st.Subject, purpose); err != nil {
		return st, false, err
	}
	sc, err := s.scheduled(ctx, q, `key_id = ?`, id[:])
	if err != nil {
		return st, false, err
	}
	if len(sc) == 1 {
		st.Scheduled = &sc[0]
	}
	return st, true, nil
}

func (s *Store) holds(ctx context.Context, q querier, subject keystore.SubjectRef, purpose string) ([]keystore.Hold, error) {
	rows, err := q.QueryContext(ctx, s.sql.rebind(`SELECT purpose, reason, placed_at, until_at FROM fieldcrypt_holds
WHERE subject_ref = ? AND (purpose = '' OR purpose = ?)`), subject[:], purpose)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keystore.Hold
	for rows.Next() {
		h := keystore.Hold{Subject: subject}
		var reason []byte
		var placed, until int64
		if err := rows.Scan(&h.Purpose, &reason, &placed, &until); err != nil {
			return nil, err
		}
		h.Reason, h.PlacedAt, h.Until = string(reason), fromMicros(placed), fromMicros(until)
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *Store) scheduled(ctx context.Context, q querier, where string, arg any) ([]keystore.Scheduled, error) {
	rows, err := q.QueryContext(ctx, s.sql.rebind(`SELECT key_id, subject_ref, purpose, due_at, requested_at, reason, forget_subject
FROM fieldcrypt_erasure_schedule WHERE `+where+` ORDER BY key_id`), arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keystore.Scheduled
	for rows.Next() {
		var id, subject, reason []byte
		var sc keystore.Scheduled
		var due, req, forget int64
		if err := rows.Scan(&id, &subject, &sc.Purpose, &due, &req, &reason, &forget); err != nil {
			return nil, err
		}
		if len(id) != len(sc.ID) || len(subject) != len(sc.Subject) {
			return nil, errors.New("malformed schedule row")
		}
		sc.ID, sc.Subject = keystore.KeyID(id), keystore.SubjectRef(subject)
		sc.DueAt, sc.RequestedAt, sc.Reason, sc.Forget = fromMicros(due), fromMicros(req), string(reason), forget != 0
		out = append(out, sc)
	}
	return out, rows.Err()
}

func scanIDs(rows *sql.Rows) ([]keystore.KeyID, error) {
	defer rows.Close()
	var out []keystore.KeyID
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if len(b) != len(keystore.KeyID{}) {
			return nil, errors.New("malformed key identifier")
		}
		out = append(out, keystore.KeyID(b))
	}
	return out, rows.Err()
}

// SubjectKeys implements keystore.LifecycleStore.
func (s *Store) SubjectKeys(ctx context.Context, subject keystore.SubjectRef) ([]keystore.KeyState, error) {
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(`SELECT DISTINCT key_id FROM fieldcrypt_keys WHERE subject_ref = ? ORDER BY key_id`), subject[:])
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subject keys: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subject keys: %w", err)
	}
	var out []keystore.KeyState
	for _, id := range ids {
		st, ok, err := s.keyState(ctx, s.db, id)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: subject keys: %w", err)
		}
		if ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// ExpiredKeys implements keystore.LifecycleStore. It walks
// fieldcrypt_keys in primary-key order from q.After.
func (s *Store) ExpiredKeys(ctx context.Context, q keystore.ExpiryQuery) ([]keystore.KeyID, error) {
	query := `SELECT DISTINCT k.key_id FROM fieldcrypt_keys k
WHERE k.purpose = ? AND k.key_id > ? AND k.created_at < ? AND k.wrapped IS NOT NULL AND ` + notForgotten
	args := []any{q.Purpose, q.After[:], micros(q.CreatedBefore)}
	if !q.ActiveBefore.IsZero() {
		query += ` AND NOT EXISTS (SELECT 1 FROM fieldcrypt_activity a WHERE a.subject_ref = k.subject_ref AND a.last_active >= ?)`
		args = append(args, micros(q.ActiveBefore))
	}
	query += ` ORDER BY k.key_id LIMIT ?`
	args = append(args, max(q.Limit, 1))
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: expired keys: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: expired keys: %w", err)
	}
	return ids, nil
}

// DueKeys implements keystore.LifecycleStore.
func (s *Store) DueKeys(ctx context.Context, now time.Time, after keystore.KeyID, limit int) ([]keystore.KeyID, error) {
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(`SELECT key_id FROM fieldcrypt_erasure_schedule
WHERE due_at <= ? AND key_id > ? ORDER BY key_id LIMIT ?`), micros(now), after[:], max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: due keys: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: due keys: %w", err)
	}
	return ids, nil
}

func placeholders(n int) string { return "?" + strings.Repeat(", ?", n-1) }

// DestroyKeys implements keystore.LifecycleStore in one transaction. On
// PostgreSQL and MySQL/MariaDB it locks the subjects' rows with FOR UPDATE
// SKIP LOCKED, so concurrent sweepers pass over each other's keys instead
// of waiting (those are returned as busy); SQLite serialises writers. Under
// the locks it reads each key's state, so a key another sweeper destroyed
// first is not live any more, and a Touch or Hold committed meanwhile is
// seen. On PostgreSQL it notifies the watching Stores, which evict the
// subjects.
func (s *Store) DestroyKeys(ctx context.Context, ids []keystore.KeyID, at time.Time, decide func(keystore.KeyState) (string, bool)) ([]keystore.KeyErasure, []keystore.KeyID, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	var done []keystore.KeyErasure
	var busy []keystore.KeyID
	err := s.lifeTx(ctx, func(tx *sql.Tx) error {
		done, busy = nil, nil
		args := make([]any, len(ids))
		for i := range ids {
			args[i] = ids[i][:]
		}
		rows, err := tx.QueryContext(ctx, s.sql.rebind(`SELECT DISTINCT key_id, subject_ref FROM fieldcrypt_keys WHERE key_id IN (`+
			placeholders(len(ids))+`)`), args...)
		if err != nil {
			return err
		}
		subjectOf := map[keystore.KeyID]keystore.SubjectRef{}
		var refs []keystore.SubjectRef
		for rows.Next() {
			var id, subject []byte
			if err := rows.Scan(&id, &subject); err != nil {
				rows.Close()
				return err
			}
			if len(id) == 16 && len(subject) == 16 {
				subjectOf[keystore.KeyID(id)] = keystore.SubjectRef(subject)
				refs = append(refs, keystore.SubjectRef(subject))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.SortFunc(refs, func(a, b keystore.SubjectRef) int { return bytes.Compare(a[:], b[:]) })
		refs = slices.Compact(refs)
		locked := map[keystore.SubjectRef]bool{}
		if s.sql == SQLite || len(refs) == 0 {
			for _, r := range refs {
				locked[r] = true
			}
		} else {
			largs := make([]any, len(refs))
			for i := range refs {
				largs[i] = refs[i][:]
			}
			rows, err := tx.QueryContext(ctx, s.sql.rebind(`SELECT subject_ref FROM fieldcrypt_subjects WHERE subject_ref IN (`+
				placeholders(len(refs))+`) ORDER BY subject_ref FOR UPDATE SKIP LOCKED`), largs...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var b []byte
				if err := rows.Scan(&b); err != nil {
					rows.Close()
					return err
				}
				if len(b) == 16 {
					locked[keystore.SubjectRef(b)] = true
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		notify := map[keystore.SubjectRef]bool{}
		for _, id := range ids {
			ref, ok := subjectOf[id]
			if !ok {
				continue
			}
			if !locked[ref] {
				busy = append(busy, id)
				continue
			}
			st, ok, err := s.keyState(ctx, tx, id)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !st.Live {
				if _, err := tx.ExecContext(ctx, s.sql.rebind(`DELETE FROM fieldcrypt_erasure_schedule WHERE key_id = ?`), id[:]); err != nil {
					return err
				}
				continue
			}
			reason, ok := decide(st)
			if !ok {
				continue
			}
			floor := int64(st.Latest) + 1
			if _, err := tx.ExecContext(ctx, s.q.raiseFloor, id[:], floor); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.q.destroyVersions, micros(at), id[:], floor)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				continue // compare-and-delete: nothing was left to destroy
			}
			if _, err := tx.ExecContext(ctx, s.sql.rebind(`INSERT INTO fieldcrypt_key_erasures
(key_id, latest_version, lowest_version, subject_ref, purpose, destroyed, destroyed_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
				id[:], int64(st.Latest), int64(st.Lowest), ref[:], st.Purpose, n, micros(at), []byte(reason)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.sql.rebind(`DELETE FROM fieldcrypt_erasure_schedule WHERE key_id = ?`), id[:]); err != nil {
				return err
			}
			done = append(done, keystore.KeyErasure{ID: id, Subject: ref, Purpose: st.Purpose, Lowest: st.Lowest, Latest: st.Latest,
				Destroyed: int(n), DestroyedAt: fromMicros(micros(at)), Reason: reason, Scheduled: st.Scheduled})
			notify[ref] = true
		}
		if s.sql == Postgres {
			for ref := range notify {
				if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, ref.String()+" 0"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: destroy keys: %w", err)
	}
	if s.sql == SQLite && len(done) > 0 {
		s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)") // as in Forget; best effort
	}
	return done, busy, nil
}

// Schedule implements keystore.LifecycleStore.
func (s *Store) Schedule(ctx context.Context, sc keystore.Scheduled) error {
	forget := 0
	if sc.Forget {
		forget = 1
	}
	err := s.lifeTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLive(ctx, tx, sc.Subject); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.sql.rebind(`DELETE FROM fieldcrypt_erasure_schedule WHERE key_id = ?`), sc.ID[:]); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.sql.rebind(`INSERT INTO fieldcrypt_erasure_schedule
(key_id, subject_ref, purpose, due_at, requested_at, reason, forget_subject) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			sc.ID[:], sc.Subject[:], sc.Purpose, micros(sc.DueAt), micros(sc.RequestedAt), []byte(sc.Reason), forget)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: schedule: %w", err)
	}
	return nil
}

// ScheduledFor implements keystore.LifecycleStore.
func (s *Store) ScheduledFor(ctx context.Context, subject keystore.SubjectRef) ([]keystore.Scheduled, error) {
	out, err := s.scheduled(ctx, s.db, `subject_ref = ?`, subject[:])
	if err != nil {
		return nil, fmt.Errorf("sqlstore: scheduled: %w", err)
	}
	return out, nil
}

// SetHold implements keystore.LifecycleStore.
func (s *Store) SetHold(ctx context.Context, h keystore.Hold, keyID keystore.KeyID) error {
	err := s.lifeTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLive(ctx, tx, h.Subject); err != nil {
			return err
		}
		if h.Purpose != "" {
			st, ok, err := s.keyState(ctx, tx, keyID)
			if err != nil {
				return err
			}
			if ok && !st.Live {
				return keystore.ErrKeyDestroyed
			}
		}
		if _, err := tx.ExecContext(ctx, s.sql.rebind(`DELETE FROM fieldcrypt_holds WHERE subject_ref = ? AND purpose = ?`), h.Subject[:], h.Purpose); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.sql.rebind(`INSERT INTO fieldcrypt_holds (subject_ref, purpose, reason, placed_at, until_at) VALUES (?, ?, ?, ?, ?)`),
			h.Subject[:], h.Purpose, []byte(h.Reason), micros(h.PlacedAt), micros(h.Until))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set hold: %w", err)
	}
	return nil
}

// ReleaseHold implements keystore.LifecycleStore.
func (s *Store) ReleaseHold(ctx context.Context, subject keystore.SubjectRef, purpose string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.sql.rebind(`DELETE FROM fieldcrypt_holds WHERE subject_ref = ? AND purpose = ?`), subject[:], purpose)
	if err != nil {
		return false, fmt.Errorf("sqlstore: release hold: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: release hold: %w", err)
	}
	return n > 0, nil
}

// PutMeta implements keystore.LifecycleStore.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(name) > MaxMetaNameLen {
		return nil, fmt.Errorf("sqlstore: put meta: name longer than %d bytes", MaxMetaNameLen)
	}
	if value == nil {
		value = []byte{}
	}
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.insertMeta, name, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q.selectMeta, name).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: put meta: %w", err)
	}
	return stored, nil
}

// AuditHead implements keystore.LifecycleStore.
func (s *Store) AuditHead(ctx context.Context) (keystore.AuditRecord, error) {
	var r keystore.AuditRecord
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq, entry, hash FROM fieldcrypt_audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &r.Entry, &r.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return keystore.AuditRecord{}, nil
	}
	if err != nil {
		return keystore.AuditRecord{}, fmt.Errorf("sqlstore: audit head: %w", err)
	}
	r.Seq = uint64(seq)
	return r, nil
}

// AppendAudit implements keystore.LifecycleStore: the primary key on seq
// lets exactly one of several appenders of the same sequence number in.
func (s *Store) AppendAudit(ctx context.Context, r keystore.AuditRecord) error {
	_, err := s.db.ExecContext(ctx, s.sql.rebind(`INSERT INTO fieldcrypt_audit_log (seq, entry, hash) VALUES (?, ?, ?)`),
		int64(r.Seq), r.Entry, r.Hash)
	if err != nil {
		if k := s.dialect.Classify(err); k == UniqueViolation || k == Retryable {
			return keystore.ErrAuditConflict
		}
		return fmt.Errorf("sqlstore: append audit: %w", err)
	}
	return nil
}

// AuditLog implements keystore.LifecycleStore.
func (s *Store) AuditLog(ctx context.Context, after uint64, limit int) ([]keystore.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.sql.rebind(`SELECT seq, entry, hash FROM fieldcrypt_audit_log WHERE seq > ? ORDER BY seq LIMIT ?`),
		int64(after), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit log: %w", err)
	}
	defer rows.Close()
	var out []keystore.AuditRecord
	for rows.Next() {
		var r keystore.AuditRecord
		var seq int64
		if err := rows.Scan(&seq, &r.Entry, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlstore: audit log: %w", err)
		}
		r.Seq = uint64(seq)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: audit log: %w", err)
	}
	return out, nil
}
