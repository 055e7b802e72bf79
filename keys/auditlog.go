package keys

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// ErrAuditLogTampered means the keystore's audit log is not the chain the
// Keyrings wrote: an entry was removed, reordered, inserted or edited.
var ErrAuditLogTampered = errors.New("keys: audit log chain broken")

// AuditEntry is one entry of the keystore's audit log, as exported: the
// Event, its place in the chain and the chain hash. Like Event it holds
// references, never a subject identifier or key material.
type AuditEntry struct {
	Seq       uint64    `json:"seq"`
	Time      string    `json:"time"`
	Event     EventType `json:"event"`
	Subject   string    `json:"subject_ref,omitempty"`
	Key       string    `json:"key_id,omitempty"`
	Purpose   string    `json:"purpose,omitempty"`
	Version   uint32    `json:"version,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Destroyed int       `json:"destroyed,omitempty"`
	Repeated  bool      `json:"repeated,omitempty"`
	Until     string    `json:"until,omitempty"`
	// Access is the read of an EventAccessed entry.
	Access *AuditAccess `json:"access,omitempty"`
	// Prev is the hash of the previous entry (hex; 64 zeros for the first).
	Prev string `json:"prev"`
	// Hash is this entry's chain hash (hex): HMAC-SHA-256, under a key
	// derived from the keystore's identifier key (so only holders of the
	// root key can extend the chain), of the entry's JSON encoding
	// without Hash. It is not part of the stored entry.
	Hash string `json:"hash,omitempty"`
}

// AuditHead is the last entry of a verified audit log. Keep it (with the
// time you read it) somewhere the database's administrators cannot write:
// a later verification that ends before it means entries were cut off the
// end, which the chain alone cannot show.
type AuditHead struct {
	Seq  uint64
	Hash string
}

func (kr *Keyring) auditMAC(entry []byte) []byte {
	k := hmac.New(sha256.New, kr.idKey)
	k.Write([]byte("fieldcrypt/audit-log/v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write(entry)
	return m.Sum(nil)
}

// appendAudit appends e to the keystore's audit log when
// Lifecycle.AuditLog is set. It is best effort, as the Auditor is: a
// failure is counted ([Keyring.AuditLogFailures]) and the operation goes
// on.
func (kr *Keyring) appendAudit(ctx context.Context, e Event) {
	l := kr.life
	if l == nil || !l.auditLog {
		return
	}
	if err := kr.appendAuditEntry(ctx, e); err != nil {
		l.auditFailures.Add(1)
	}
}

func (kr *Keyring) appendAuditEntry(ctx context.Context, e Event) error {
	l := kr.life
	l.auditMu.Lock() // one appender per process; processes race on Seq
	defer l.auditMu.Unlock()
	ctx = context.WithoutCancel(ctx)
	ae := AuditEntry{Time: formatTime(e.Time), Event: e.Type, Purpose: e.Purpose, Version: e.Version,
		Reason: e.Reason, Destroyed: e.Destroyed, Repeated: e.Repeated, Access: auditAccess(e.Access)}
	if e.Subject != (SubjectRef{}) {
		ae.Subject = e.Subject.String()
	}
	if e.Key != (KeyID{}) {
		ae.Key = e.Key.String()
	}
	if !e.Until.IsZero() {
		ae.Until = formatTime(e.Until)
	}
	for attempt := 0; ; attempt++ {
		head, err := l.store.AuditHead(ctx)
		if err != nil {
			return err
		}
		ae.Seq = head.Seq + 1
		ae.Prev = hex.EncodeToString(head.Hash)
		if head.Seq == 0 {
			ae.Prev = hex.EncodeToString(make([]byte, sha256.Size))
		}
		entry, err := json.Marshal(ae)
		if err != nil {
			return err
		}
		err = l.store.AppendAudit(ctx, keystore.AuditRecord{Seq: ae.Seq, Entry: entry, Hash: kr.auditMAC(entry)})
		if !errors.Is(err, keystore.ErrAuditConflict) || attempt == 200 {
			return err
		}
		time.Sleep(time.Duration(rand.N(2*time.Millisecond + time.Duration(attempt)*time.Millisecond)))
	}
}

// AuditLogFailures returns how many events could not be appended to the
// audit log since Open.
func (kr *Keyring) AuditLogFailures() int64 {
	if kr.life == nil {
		return 0
	}
	return kr.life.auditFailures.Load()
}

// checkEntry verifies one record against the chain so far.
func (kr *Keyring) checkEntry(seq uint64, prev []byte, entry, hash []byte) (AuditEntry, error) {
	var ae AuditEntry
	if err := json.Unmarshal(entry, &ae); err != nil {
		return ae, fmt.Errorf("%w: entry %d: malformed", ErrAuditLogTampered, seq)
	}
	switch {
	case ae.Seq != seq:
		return ae, fmt.Errorf("%w: entry %d holds sequence number %d (removed or reordered)", ErrAuditLogTampered, seq, ae.Seq)
	case ae.Prev != hex.EncodeToString(prev):
		return ae, fmt.Errorf("%w: entry %d does not follow entry %d (removed, reordered or inserted)", ErrAuditLogTampered, seq, seq-1)
	case !hmac.Equal(hash, kr.auditMAC(entry)):
		return ae, fmt.Errorf("%w: entry %d was edited", ErrAuditLogTampered, seq)
	}
	ae.Hash = hex.EncodeToString(hash)
	return ae, nil
}

// walkAudit reads the whole log, verifying it, and calls f per entry.
func (kr *Keyring) walkAudit(ctx context.Context, f func(AuditEntry) error) (AuditHead, error) {
	if err := kr.life.need("audit log"); err != nil {
		return AuditHead{}, err
	}
	prev := make([]byte, sha256.Size)
	var seq uint64
	for {
		recs, err := kr.life.store.AuditLog(ctx, seq, 1000)
		if err != nil {
			return AuditHead{}, fmt.Errorf("keys: audit log: %w", err)
		}
		if len(recs) == 0 {
			return AuditHead{Seq: seq, Hash: hex.EncodeToString(prev)}, nil
		}
		for _, r := range recs {
			if r.Seq != seq+1 {
				return AuditHead{}, fmt.Errorf("%w: entry %d is missing", ErrAuditLogTampered, seq+1)
			}
			ae, err := kr.checkEntry(r.Seq, prev, r.Entry, r.Hash)
			if err != nil {
				return AuditHead{}, err
			}
			if f != nil {
				if err := f(ae); err != nil {
					return AuditHead{}, err
				}
			}
			seq, prev = r.Seq, r.Hash
		}
	}
}

// VerifyAuditLog checks the keystore's audit log, entry by entry: it fails
// with ErrAuditLogTampered, naming the entry, if one was removed,
// reordered, inserted or edited. It returns the head: entries cut off the
// end are only caught by comparing with a head kept elsewhere.
func (kr *Keyring) VerifyAuditLog(ctx context.Context) (AuditHead, error) {
	return kr.walkAudit(ctx, nil)
}

// ExportAuditLog writes the audit log to w as JSON lines, one AuditEntry
// with its Hash per line, after verifying each entry; it stops with
// ErrAuditLogTampered at the first one that does not verify.
// [Keyring.VerifyAuditExport] checks such an export.
func (kr *Keyring) ExportAuditLog(ctx context.Context, w io.Writer) (AuditHead, error) {
	bw := bufio.NewWriter(w)
	head, err := kr.walkAudit(ctx, func(ae AuditEntry) error {
		b, err := json.Marshal(ae)
		if err != nil {
			return err
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return AuditHead{}, err
	}
	return head, bw.Flush()
}

// VerifyAuditExport checks an export written by ExportAuditLog, with the
// root key of its keystore (this Keyring's), and returns its head.
func (kr *Keyring) VerifyAuditExport(r io.Reader) (AuditHead, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	prev := make([]byte, sha256.Size)
	var seq uint64
	for sc.Scan() {
		var ae AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &ae); err != nil {
			return AuditHead{}, fmt.Errorf("%w: line %d: malformed", ErrAuditLogTampered, seq+1)
		}
		hash, err := hex.DecodeString(ae.Hash)
		if err != nil {
			return AuditHead{}, fmt.Errorf("%w: line %d: malformed hash", ErrAuditLogTampered, seq+1)
		}
		ae.Hash = ""
		entry, _ := json.Marshal(ae)
		if _, err := kr.checkEntry(seq+1, prev, entry, hash); err != nil {
			return AuditHead{}, err
		}
		seq, prev = seq+1, hash
	}
	if err := sc.Err(); err != nil {
		return AuditHead{}, err
	}
	return AuditHead{Seq: seq, Hash: hex.EncodeToString(prev)}, nil
}
