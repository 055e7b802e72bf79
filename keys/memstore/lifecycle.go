package memstore

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

var _ keystore.LifecycleStore = (*Store)(nil)

type holdKey struct {
	subject keystore.SubjectRef
	purpose string
}

// lifeState is what the LifecycleStore methods keep; its zero value is
// ready. It is guarded by Store.mu.
type lifeState struct {
	active    map[keystore.SubjectRef]time.Time
	holds     map[holdKey]keystore.Hold
	scheduled map[keystore.KeyID]keystore.Scheduled
	erasures  []keystore.KeyErasure
	audit     []keystore.AuditRecord
}

func (l *lifeState) init() {
	if l.active == nil {
		l.active = map[keystore.SubjectRef]time.Time{}
		l.holds = map[holdKey]keystore.Hold{}
		l.scheduled = map[keystore.KeyID]keystore.Scheduled{}
	}
}

// Touch implements keystore.LifecycleStore.
func (s *Store) Touch(ctx context.Context, subject keystore.SubjectRef, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	if _, gone := s.tombstones[subject]; gone {
		return nil
	}
	if at.After(s.life.active[subject]) {
		s.life.active[subject] = at
	}
	return nil
}

// state returns the state of key id. s.mu is held.
func (s *Store) state(id keystore.KeyID) (keystore.KeyState, bool) {
	vs := s.keys[id]
	if len(vs) == 0 {
		return keystore.KeyState{}, false
	}
	st := keystore.KeyState{ID: id, Subject: vs[0].Subject, Purpose: vs[0].Purpose,
		Latest: vs[len(vs)-1].Version, Lowest: max(1, s.floors[id])}
	_, st.Forgotten = s.tombstones[st.Subject]
	for _, r := range vs {
		if r.Version >= st.Lowest && r.Wrapped != nil && !st.Forgotten {
			if !st.Live {
				st.Created = r.CreatedAt
			}
			st.Live = true
		}
	}
	st.LastActive = s.life.active[st.Subject]
	for k, h := range s.life.holds {
		if k.subject == st.Subject && (k.purpose == "" || k.purpose == st.Purpose) {
			st.Holds = append(st.Holds, h)
		}
	}
	if sc, ok := s.life.scheduled[id]; ok {
		st.Scheduled = &sc
	}
	return st, true
}

// SubjectKeys implements keystore.LifecycleStore.
func (s *Store) SubjectKeys(ctx context.Context, subject keystore.SubjectRef) ([]keystore.KeyState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	var out []keystore.KeyState
	for id, vs := range s.keys {
		if len(vs) > 0 && vs[0].Subject == subject {
			st, _ := s.state(id)
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b keystore.KeyState) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

func (s *Store) sortedIDs(keep func(keystore.KeyID) bool, after keystore.KeyID, limit int) []keystore.KeyID {
	var out []keystore.KeyID
	for id := range s.keys {
		if bytes.Compare(id[:], after[:]) > 0 && keep(id) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b keystore.KeyID) int { return bytes.Compare(a[:], b[:]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// ExpiredKeys implements keystore.LifecycleStore.
func (s *Store) ExpiredKeys(ctx context.Context, q keystore.ExpiryQuery) ([]keystore.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	return s.sortedIDs(func(id keystore.KeyID) bool {
		st, _ := s.state(id)
		if !st.Live || st.Purpose != q.Purpose || !st.Created.Before(q.CreatedBefore) {
			return false
		}
		return q.ActiveBefore.IsZero() || st.LastActive.Before(q.ActiveBefore)
	}, q.After, q.Limit), nil
}

// DueKeys implements keystore.LifecycleStore.
func (s *Store) DueKeys(ctx context.Context, now time.Time, after keystore.KeyID, limit int) ([]keystore.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	return s.sortedIDs(func(id keystore.KeyID) bool {
		sc, ok := s.life.scheduled[id]
		return ok && !sc.DueAt.After(now)
	}, after, limit), nil
}

// DestroyKeys implements keystore.LifecycleStore.
func (s *Store) DestroyKeys(ctx context.Context, ids []keystore.KeyID, at time.Time, decide func(keystore.KeyState) (string, bool)) ([]keystore.KeyErasure, []keystore.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	var out []keystore.KeyErasure
	for _, id := range ids {
		st, ok := s.state(id)
		if !ok {
			continue
		}
		if !st.Live {
			delete(s.life.scheduled, id)
			continue
		}
		reason, ok := decide(st)
		if !ok {
			continue
		}
		e := keystore.KeyErasure{ID: id, Subject: st.Subject, Purpose: st.Purpose, Lowest: st.Lowest,
			Latest: st.Latest, DestroyedAt: at, Reason: reason, Scheduled: st.Scheduled}
		s.floors[id] = st.Latest + 1
		vs := s.keys[id]
		for i := range vs {
			if vs[i].Wrapped != nil {
				clear(vs[i].Wrapped)
				vs[i].Wrapped = nil
				vs[i].DestroyedAt = at
				e.Destroyed++
			}
		}
		delete(s.life.scheduled, id)
		s.life.erasures = append(s.life.erasures, e)
		out = append(out, e)
	}
	return out, nil, nil
}

// Schedule implements keystore.LifecycleStore.
func (s *Store) Schedule(ctx context.Context, sc keystore.Scheduled) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	if _, gone := s.tombstones[sc.Subject]; gone {
		return keystore.ErrKeyDestroyed
	}
	s.life.scheduled[sc.ID] = sc
	return nil
}

// ScheduledFor implements keystore.LifecycleStore.
func (s *Store) ScheduledFor(ctx context.Context, subject keystore.SubjectRef) ([]keystore.Scheduled, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	var out []keystore.Scheduled
	for _, sc := range s.life.scheduled {
		if sc.Subject == subject {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b keystore.Scheduled) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// SetHold implements keystore.LifecycleStore.
func (s *Store) SetHold(ctx context.Context, h keystore.Hold, keyID keystore.KeyID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	if _, gone := s.tombstones[h.Subject]; gone {
		return keystore.ErrKeyDestroyed
	}
	if h.Purpose != "" {
		if st, ok := s.state(keyID); ok && !st.Live {
			return keystore.ErrKeyDestroyed
		}
	}
	s.life.holds[holdKey{h.Subject, h.Purpose}] = h
	return nil
}

// ReleaseHold implements keystore.LifecycleStore.
func (s *Store) ReleaseHold(ctx context.Context, subject keystore.SubjectRef, purpose string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.init()
	k := holdKey{subject, purpose}
	_, ok := s.life.holds[k]
	delete(s.life.holds, k)
	return ok, nil
}

// PutMeta implements keystore.LifecycleStore.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.meta[name]; ok {
		return slices.Clone(old), nil
	}
	s.meta[name] = slices.Clone(value)
	return slices.Clone(value), nil
}

// AuditHead implements keystore.LifecycleStore.
func (s *Store) AuditHead(ctx context.Context) (keystore.AuditRecord, error) {
	if err := ctx.Err(); err != nil {
		return keystore.AuditRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.life.audit) == 0 {
		return keystore.AuditRecord{}, nil
	}
	return cloneAudit(s.life.audit[len(s.life.audit)-1]), nil
}

func cloneAudit(r keystore.AuditRecord) keystore.AuditRecord {
	r.Entry, r.Hash = slices.Clone(r.Entry), slices.Clone(r.Hash)
	return r
}

// AppendAudit implements keystore.LifecycleStore.
func (s *Store) AppendAudit(ctx context.Context, r keystore.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var head uint64
	if n := len(s.life.audit); n > 0 {
		head = s.life.audit[n-1].Seq
	}
	if r.Seq != head+1 {
		return keystore.ErrAuditConflict
	}
	s.life.audit = append(s.life.audit, cloneAudit(r))
	return nil
}

// AuditLog implements keystore.LifecycleStore.
func (s *Store) AuditLog(ctx context.Context, after uint64, limit int) ([]keystore.AuditRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keystore.AuditRecord
	for _, r := range s.life.audit {
		if r.Seq > after && (limit <= 0 || len(out) < limit) {
			out = append(out, cloneAudit(r))
		}
	}
	return out, nil
}
