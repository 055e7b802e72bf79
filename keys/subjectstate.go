package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Hold is a hold placed by [Keyring.Hold]; its canonical home is package
// keys/keystore.
type Hold = keystore.Hold

// PurposeState is the lifecycle state of one purpose of a subject.
type PurposeState struct {
	Purpose string
	Key     KeyID
	// Live is false once the purpose's key was destroyed (Withdraw,
	// Expire, Erase); FirstVersion to LastVersion are the live versions.
	Live                      bool
	FirstVersion, LastVersion uint32
	Created                   time.Time // of FirstVersion
	// Policy is the purpose's policy name ("" when it has none) and
	// ExpiresAt when its retention ends (zero: never, or not live).
	Policy    string
	ExpiresAt time.Time
	// HeldUntil is when the legal minimum and holds stop keeping the key
	// (zero or past: nothing keeps it), and HeldBecause what keeps it.
	HeldUntil   time.Time
	HeldBecause string
	// Scheduled is the key's scheduled destruction, if any.
	Scheduled *ScheduledKey
}

// SubjectState is what the keystore knows of a subject's lifecycle: for
// a subject export (what is kept, why and until when) or a support tool.
// It holds references, never the subject identifier.
type SubjectState struct {
	Subject    SubjectRef
	Forgotten  bool
	LastActive time.Time // the last recorded activity (zero: none)
	// ErasurePending is true after an Erase that kept keys: no new key is
	// created for the subject, and the sweep forgets it after the last.
	ErasurePending bool
	Purposes       []PurposeState // in key identifier order
	Holds          []Hold
}

// SubjectState reports subject's lifecycle state. It reads the keystore
// (one query per key and a few more on keys/sqlstore).
func (kr *Keyring) SubjectState(ctx context.Context, subject string) (SubjectState, error) {
	if err := ValidateSubject(subject); err != nil {
		return SubjectState{}, err
	}
	l := kr.life
	if err := l.need("subject state"); err != nil {
		return SubjectState{}, err
	}
	ref := kr.subjectRef(subject)
	out := SubjectState{Subject: ref}
	states, err := l.store.SubjectKeys(ctx, ref)
	if err != nil {
		return SubjectState{}, fmt.Errorf("keys: subject state: %w", err)
	}
	sched, err := l.store.ScheduledFor(ctx, ref)
	if err != nil {
		return SubjectState{}, fmt.Errorf("keys: subject state: %w", err)
	}
	for _, sc := range sched {
		out.ErasurePending = out.ErasurePending || sc.Forget
	}
	holds := map[string]bool{}
	for _, st := range states {
		out.Forgotten = out.Forgotten || st.Forgotten
		if st.LastActive.After(out.LastActive) {
			out.LastActive = st.LastActive
		}
		for _, h := range st.Holds {
			if !holds[h.Purpose] {
				holds[h.Purpose] = true
				out.Holds = append(out.Holds, h)
			}
		}
		ps := PurposeState{Purpose: st.Purpose, Key: st.ID, Live: st.Live}
		if st.Live {
			ps.FirstVersion, ps.LastVersion, ps.Created = st.Lowest, st.Latest, st.Created
			if end, _, ok := l.expiresAt(st); ok {
				ps.ExpiresAt = end
			}
			ps.HeldUntil, ps.HeldBecause = l.heldUntil(st)
		}
		if p, ok := l.policies[st.Purpose]; ok {
			ps.Policy = p.Name
		}
		if st.Scheduled != nil {
			ps.Scheduled = &ScheduledKey{Purpose: st.Purpose, Key: st.ID, Due: st.Scheduled.DueAt, Because: ps.HeldBecause}
		}
		out.Purposes = append(out.Purposes, ps)
	}
	if !out.Forgotten {
		t, err := kr.Status(ctx, subject)
		if err != nil {
			return SubjectState{}, err
		}
		out.Forgotten = t.Forgotten
	}
	return out, nil
}
