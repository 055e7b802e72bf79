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
	// Reason is the caller's erasure reference (EventForgotten only).
	Reason string
	// Destroyed is the number of key versions shredded by this call
	// (EventForgotten and EventVersionsDestroyed only).
	Destroyed int
	// Repeated is true when an EventForgotten found the subject already forgotten.
	Repeated bool
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
	if e.Type == EventVersionsDestroyed {
		attrs = append(attrs, slog.Int("destroyed", e.Destroyed))
	}
	a.l.LogAttrs(ctx, level, "fieldcrypt key "+string(e.Type), attrs...)
}
