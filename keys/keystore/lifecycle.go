package keystore

import (
	"context"
	"errors"
	"time"
)

// ErrAuditConflict is returned by LifecycleStore.AppendAudit when another
// appender took the sequence number first; the caller reads the new head
// and tries again.
var ErrAuditConflict = errors.New("keystore: audit log head moved concurrently")

// Hold postpones the destruction of a subject's keys: an operator's
// litigation hold, say. Purpose "" holds every purpose of the subject.
// Reason is stored: it must not contain personal data.
type Hold struct {
	Subject  SubjectRef
	Purpose  string
	Reason   string
	PlacedAt time.Time
	Until    time.Time
}

// Scheduled is a destruction requested while the key was held (by a legal
// minimum or a Hold): the expiry sweep destroys the key once DueAt has
// passed and no Hold covers it. Forget marks a scheduled destruction that
// belongs to an erasure of the whole subject: once the last of them is
// done, the subject is forgotten.
type Scheduled struct {
	ID          KeyID
	Subject     SubjectRef
	Purpose     string
	DueAt       time.Time
	RequestedAt time.Time
	Reason      string
	Forget      bool
}

// KeyState is what a LifecycleStore knows about one key (all versions of a
// (subject, purpose) pair), read under the subject's lock by DestroyKeys.
type KeyState struct {
	ID      KeyID
	Subject SubjectRef
	Purpose string
	// Lowest and Latest are the lowest version still allowed to hold
	// material (its floor, or 1) and the highest version. Live is false
	// when no version in between holds material or the subject is
	// forgotten.
	Lowest, Latest uint32
	Live           bool
	Forgotten      bool
	// Created is when the lowest live version was created.
	Created time.Time
	// LastActive is the subject's last recorded activity (zero: none).
	LastActive time.Time
	// Holds are the holds on the subject: on this purpose or on all.
	Holds []Hold
	// Scheduled is the key's scheduled destruction, if any.
	Scheduled *Scheduled
}

// KeyErasure is one key destroyed by DestroyKeys: every version from
// Lowest to Latest, Destroyed of which still held material.
type KeyErasure struct {
	ID             KeyID
	Subject        SubjectRef
	Purpose        string
	Lowest, Latest uint32
	Destroyed      int
	DestroyedAt    time.Time
	Reason         string
	// Scheduled is the scheduled destruction this one carried out, if any
	// (it is removed).
	Scheduled *Scheduled
}

// ExpiryQuery selects the keys of one purpose whose lowest live version
// was created before CreatedBefore and, if ActiveBefore is set, whose
// subject was last active before it (or never), in KeyID order after
// After, at most Limit of them.
type ExpiryQuery struct {
	Purpose       string
	CreatedBefore time.Time
	ActiveBefore  time.Time
	After         KeyID
	Limit         int
}

// AuditRecord is one entry of the keystore's audit log: Entry is an opaque
// encoded entry, Hash the chain hash the Keyring computed over it.
type AuditRecord struct {
	Seq   uint64
	Entry []byte
	Hash  []byte
}

// LifecycleStore is an optional capability of a [Store]: what
// keys.Keyring needs for retention policies, consent withdrawal, holds,
// erasure receipts and the audit log. keys/memstore and keys/sqlstore
// implement it; keystest.RunLifecycleTests checks it through a Keyring.
//
// Most users won't implement it.
type LifecycleStore interface {
	VersionDestroyer
	// Touch records that subject was active at at, keeping the latest
	// time. It takes the subject's lock, as CreateKey does, and does
	// nothing for a forgotten subject.
	Touch(ctx context.Context, subject SubjectRef, at time.Time) error
	// SubjectKeys returns the state of every key of subject.
	SubjectKeys(ctx context.Context, subject SubjectRef) ([]KeyState, error)
	// ExpiredKeys returns the live keys q selects.
	ExpiredKeys(ctx context.Context, q ExpiryQuery) ([]KeyID, error)
	// DueKeys returns the keys whose scheduled destruction is due at now,
	// in KeyID order after after, at most limit.
	DueKeys(ctx context.Context, now time.Time, after KeyID, limit int) ([]KeyID, error)
	// DestroyKeys, in one atomic step per subject or for all, holding the
	// locks of the keys' subjects, reads the state of each key of ids and
	// calls decide with it; for every key decide accepts (returning the
	// reason to record), it deletes the material of every version,
	// raises the key's floor above its latest version (so a later
	// CreateKey of a newer version starts the purpose afresh), removes its
	// scheduled destruction and records the erasure. A key already
	// destroyed is not passed to decide, and its scheduled destruction is
	// removed. Of several concurrent callers, exactly one destroys each
	// key. A store may skip the keys of subjects another transaction
	// holds locked, without waiting, and return them as busy: the caller
	// tries them again later. Unknown keys are ignored.
	DestroyKeys(ctx context.Context, ids []KeyID, at time.Time, decide func(KeyState) (reason string, ok bool)) (done []KeyErasure, busy []KeyID, err error)
	// Schedule records s, replacing an earlier schedule of s.ID. It fails
	// with ErrKeyDestroyed if the subject is forgotten.
	Schedule(ctx context.Context, s Scheduled) error
	// ScheduledFor returns the subject's scheduled destructions.
	ScheduledFor(ctx context.Context, subject SubjectRef) ([]Scheduled, error)
	// SetHold records h, replacing the hold on (h.Subject, h.Purpose). It
	// fails with ErrKeyDestroyed if the subject is forgotten or, for a
	// purpose, when the key of purpose exists and has no live version;
	// keyID names that key.
	SetHold(ctx context.Context, h Hold, keyID KeyID) error
	// ReleaseHold removes the hold on (subject, purpose) and reports
	// whether there was one.
	ReleaseHold(ctx context.Context, subject SubjectRef, purpose string) (bool, error)
	// PutMeta stores value under name unless a value is stored there and
	// returns the stored value, like InitMeta but on a keystore that is
	// not empty.
	PutMeta(ctx context.Context, name string, value []byte) ([]byte, error)
	// AuditHead returns the last audit record (Seq 0 when the log is
	// empty).
	AuditHead(ctx context.Context) (AuditRecord, error)
	// AppendAudit appends r, whose Seq must be the head's plus one,
	// failing with ErrAuditConflict when that Seq is taken.
	AppendAudit(ctx context.Context, r AuditRecord) error
	// AuditLog returns up to limit records with Seq above after, in Seq
	// order.
	AuditLog(ctx context.Context, after uint64, limit int) ([]AuditRecord, error)
}
