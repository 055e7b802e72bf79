package keys

import (
	"context"
	"log/slog"
	"time"
)

// EventType says what happened to a key.
type EventType string

// The audited events.
const (
	EventCreated   EventType = "created"   // a subject key version was created
	EventRotated   EventType = "rotated"   // a new version was added by Rotate
	EventForgotten EventType = "forgotten" // a subject was crypto-shredded
	EventDenied    EventType = "denied"    // a request for a destroyed key was refused
	// EventVersionsDestroyed: Keyring.DestroyVersionsBelow destroyed the
	// versions of a key below Event.Version.
	EventVersionsDestroyed EventType = "versions-destroyed"
	// EventWithdrawn: Keyring.Withdraw destroyed the key of one purpose.
	EventWithdrawn EventType = "withdrawn"
	// EventExpired: the expiry sweep destroyed a key whose retention
	// ended; Reason is the policy name.
	EventExpired EventType = "expired"
	// EventScheduled: a legal minimum or a hold kept a key an erasure or
	// withdrawal asked for; the sweep destroys it at Until. Reason says
	// what keeps it.
	EventScheduled EventType = "scheduled"
	// EventHeld: Keyring.Hold placed a hold until Until.
	EventHeld EventType = "held"
	// EventReleased: Keyring.Release ended a hold early.
	EventReleased EventType = "released"
)

// Event is one audit record. It names keys by their keystore references and
// never carries key material, plaintext or the subject identifier.
type Event struct {
	Type    EventType
	Time    time.Time
	Subject SubjectRef
	Key     KeyID  // zero for EventForgotten
	Purpose string // empty when unknown
	Version uint32 // zero when not applicable; for EventVersionsDestroyed, the lowest version left
	// Reason is the caller's erasure reference (EventForgotten,
	// EventWithdrawn, EventHeld), the policy name (EventExpired) or what
	// keeps a key (EventScheduled).
	Reason string
	// Destroyed is the number of key versions shredded by this call
	// (EventForgotten and EventVersionsDestroyed only).
	Destroyed int
	// Repeated is true when an EventForgotten found the subject already forgotten.
	Repeated bool
	// Until is the end of a hold (EventHeld) or the time a key is
	// scheduled for (EventScheduled).
	Until time.Time
	// Access says who read what (EventAccessed only).
	Access *AccessEvent
}

// Auditor receives audit events. Audit is called synchronously on the
// operation's goroutine, from many goroutines at once: implementations must
// be safe for concurrent use and should return quickly.
type Auditor interface {
	Audit(ctx context.Context, e Event)
}

// NewSlogAuditor returns an Auditor that writes each event as one structured
// log record at Info level (Warn for EventDenied) on l.
func NewSlogAuditor(l *slog.Logger) Auditor { return slogAuditor{l} }

type slogAuditor struct{ l *slog.Logger }

func (a slogAuditor) Audit(ctx context.Context, e Event) {
	level := slog.LevelInfo
	if e.Type == EventDenied {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event", string(e.Type)),
		slog.String("subject_ref", e.Subject.String()),
	}
	if e.Key != (KeyID{}) {
		attrs = append(attrs, slog.String("key_id", e.Key.String()))
	}
	if e.Purpose != "" {
		attrs = append(attrs, slog.String("purpose", e.Purpose))
	}
	if e.Version != 0 {
		attrs = append(attrs, slog.Uint64("version", uint64(e.Version)))
	}
	if e.Type == EventForgotten {
		attrs = append(attrs, slog.String("reason", e.Reason), slog.Int("destroyed", e.Destroyed), slog.Bool("repeated", e.Repeated))
	}
	switch e.Type {
	case EventWithdrawn, EventExpired:
		attrs = append(attrs, slog.String("reason", e.Reason), slog.Int("destroyed", e.Destroyed))
	case EventScheduled, EventHeld:
		attrs = append(attrs, slog.String("reason", e.Reason), slog.Time("until", e.Until))
	}
	if e.Type == EventVersionsDestroyed {
		attrs = append(attrs, slog.Int("destroyed", e.Destroyed))
	}
	if e.Access != nil {
		attrs = append(attrs, accessAttrs(e.Access)...)
	}
	a.l.LogAttrs(ctx, level, "fieldcrypt key "+string(e.Type), attrs...)
}
