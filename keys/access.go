package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// EventAccessed: values were read in clear (decrypted or detokenized), as
// reported with [Keyring.RecordAccess]. Event.Access says who read what;
// Event.Purpose is the purpose of the keys used.
const EventAccessed EventType = "accessed"

// MaxAccessSubjects bounds AccessEvent.Subjects.
const MaxAccessSubjects = 100

// ErrInvalidAccess means an AccessEvent cannot be recorded: a name or the
// resource is empty or too long, or the subjects exceed their bound.
var ErrInvalidAccess = errors.New("keys: invalid access event")

// AccessEvent is one read in clear of stored personal data: who read how
// many values of which resource, for which subjects. It names subjects by
// their keystore references and never carries a value.
type AccessEvent struct {
	Actor    string   // who read (a staff member or service), "" if unknown
	Roles    []string // the grants the read was made under
	Resource string   // what was read, for example "customers.email"
	Values   int      // values read in clear
	// Subjects are references of the distinct subjects read, at most
	// MaxAccessSubjects of them; SubjectCount counts them all.
	Subjects     []SubjectRef
	SubjectCount int
}

// AuditAccess is AuditEntry.Access: an AccessEvent as the audit log
// stores it.
type AuditAccess struct {
	Actor        string   `json:"actor,omitempty"`
	Roles        []string `json:"roles,omitempty"`
	Resource     string   `json:"resource"`
	Values       int      `json:"values"`
	Subjects     []string `json:"subject_refs,omitempty"`
	SubjectCount int      `json:"subject_count,omitempty"`
}

// RecordAccess reports a read in clear to the Keyring's Auditor and, with
// Lifecycle.AuditLog, appends it to the keystore's tamper-evident audit
// log as an EventAccessed entry (verified and exported like every other;
// see [Keyring.VerifyAuditLog]). gormcrypt.AccessLog calls it once per
// statement and column. purpose is that of the keys used ("" if unknown).
// Like every audit event it is best effort: an append that fails is
// counted ([Keyring.AuditLogFailures]) and not returned. It fails only with
// ErrInvalidAccess: the resource must be 1 to MaxReasonLen bytes, the
// actor and each role at most MaxReasonLen, at most 16 roles, at most
// MaxAccessSubjects subjects and SubjectCount no less than them.
//
// Each call is one keystore read and one write when the audit log is on:
// record per statement, not per row.
func (kr *Keyring) RecordAccess(ctx context.Context, purpose string, a AccessEvent) error {
	switch {
	case a.Resource == "" || len(a.Resource) > MaxReasonLen:
		return fmt.Errorf("%w: Resource must be 1 to %d bytes", ErrInvalidAccess, MaxReasonLen)
	case len(a.Actor) > MaxReasonLen:
		return fmt.Errorf("%w: Actor longer than %d bytes", ErrInvalidAccess, MaxReasonLen)
	case len(a.Roles) > 16:
		return fmt.Errorf("%w: more than 16 roles", ErrInvalidAccess)
	case len(a.Subjects) > MaxAccessSubjects || a.SubjectCount < len(a.Subjects):
		return fmt.Errorf("%w: at most %d subjects, and SubjectCount no less than them", ErrInvalidAccess, MaxAccessSubjects)
	case a.Values < 0:
		return fmt.Errorf("%w: negative Values", ErrInvalidAccess)
	case len(purpose) > MaxReasonLen:
		return fmt.Errorf("%w: purpose longer than %d bytes", ErrInvalidAccess, MaxReasonLen)
	}
	for _, r := range a.Roles {
		if len(r) > MaxReasonLen {
			return fmt.Errorf("%w: a role longer than %d bytes", ErrInvalidAccess, MaxReasonLen)
		}
	}
	a.Roles = append([]string(nil), a.Roles...) // the Auditor may keep the event
	a.Subjects = append([]SubjectRef(nil), a.Subjects...)
	kr.emit(ctx, Event{Type: EventAccessed, Time: time.Now().UTC(), Purpose: purpose, Access: &a})
	return nil
}

// auditAccess is the audit log's form of a.
func auditAccess(a *AccessEvent) *AuditAccess {
	if a == nil {
		return nil
	}
	out := &AuditAccess{Actor: a.Actor, Roles: a.Roles, Resource: a.Resource, Values: a.Values, SubjectCount: a.SubjectCount}
	for _, s := range a.Subjects {
		out.Subjects = append(out.Subjects, s.String())
	}
	return out
}

// accessAttrs are the slog attributes of a (NewSlogAuditor).
func accessAttrs(a *AccessEvent) []slog.Attr {
	return []slog.Attr{
		slog.String("actor", a.Actor), slog.Any("roles", a.Roles), slog.String("resource", a.Resource),
		slog.Int("values", a.Values), slog.Int("subjects", a.SubjectCount),
	}
}
