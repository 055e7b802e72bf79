package keys

import (
	"context"
	"time"
)

// EventExported: the data held about a subject was exported for a subject
// access request (see [Keyring.RecordExport]). The event names the
// subject's reference only; what was exported is never audited.
const EventExported EventType = "exported"

// RecordExport reports to the Keyring's Auditor that everything held
// about subject was exported (gormcrypt.Export calls it), as an
// EventExported naming the subject's keystore reference, never the
// identifier or the values. It fails only for an invalid subject.
func (kr *Keyring) RecordExport(ctx context.Context, subject string) error {
	if err := ValidateSubject(subject); err != nil {
		return err
	}
	kr.emit(ctx, Event{Type: EventExported, Time: time.Now().UTC(), Subject: kr.subjectRef(subject)})
	return nil
}
