package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// KeyVersionRef names one key version, as a ciphertext header does.
type KeyVersionRef = keystore.KeyVersionRef

// warmBatch is the most keys Warm asks the Store or the KMS for in one call.
const warmBatch = 500

// Warm loads into the cache the current keys of (subject, purpose) for the
// subjects not cached yet, so that the Current calls that follow — a list
// page's worth of Encrypts, say — are cache hits. On a Store implementing
// [keystore.BatchGetter] it reads them with one query per 500 subjects, and
// on a KMS implementing [keystore.KMSBatchUnwrapper] it unwraps them with
// one call per 500; otherwise it falls back to one read or unwrap per key.
//
// Warm is a hint: it creates no key, and it skips subjects without a key,
// forgotten subjects and keys that fail to unwrap, leaving Current to
// create them or to report the error. It fails only when a whole Store or
// KMS call does, or with an invalid subject or purpose. It keeps the
// cache's guarantees: a Forget, Rotate or Evict that returns while Warm
// runs is not undone by it.
func (kr *Keyring) Warm(ctx context.Context, subjects []string, purpose string) error {
	if err := ValidatePurpose(purpose); err != nil {
		return err
	}
	var ids []KeyID
	cur := make(map[KeyID]*currentKey)
	for _, s := range subjects {
		if err := ValidateSubject(s); err != nil {
			return err
		}
		if kr.cache.max <= 0 || kr.cache.peekCurrent(s, purpose) {
			continue
		}
		id := kr.keyID(kr.subjectRef(s), purpose)
		if _, dup := cur[id]; !dup {
			cur[id] = &currentKey{s, purpose}
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), warmBatch)
		chunk := ids[:n]
		ids = ids[n:]
		ticket := kr.cache.begin()
		var recs []keystore.KeyRecord
		if bg, ok := kr.store.(keystore.BatchGetter); ok {
			var err error
			if recs, err = bg.LatestKeys(ctx, chunk); err != nil {
				return fmt.Errorf("keys: warm: %w", err)
			}
		} else {
			for _, id := range chunk {
				rec, err := kr.store.LatestKey(ctx, id)
				if err == nil {
					recs = append(recs, rec)
				} else if !errors.Is(err, ErrKeyNotFound) && !errors.Is(err, ErrKeyDestroyed) {
					return fmt.Errorf("keys: warm: %w", err)
				}
			}
		}
		if err := kr.warmRecords(ctx, ticket, recs, func(rec keystore.KeyRecord) (*currentKey, bool) {
			c, ok := cur[rec.ID]
			return c, ok
		}); err != nil {
			return err
		}
	}
	return nil
}

// WarmVersions loads into the cache the listed key versions not cached
// yet — the versions a page of ciphertexts names — so that the KeyVersion
// calls decrypting them are cache hits. It batches and skips like
// [Keyring.Warm].
func (kr *Keyring) WarmVersions(ctx context.Context, refs []KeyVersionRef) error {
	var todo []KeyVersionRef
	want := make(map[KeyVersionRef]bool)
	for _, r := range refs {
		if kr.cache.max <= 0 || r.Version == 0 || r.Version > MaxVersion || want[r] || kr.cache.peekVersion(r.ID, r.Version) {
			continue
		}
		want[r] = true
		todo = append(todo, r)
	}
	for len(todo) > 0 {
		n := min(len(todo), warmBatch)
		chunk := todo[:n]
		todo = todo[n:]
		ticket := kr.cache.begin()
		var recs []keystore.KeyRecord
		if bg, ok := kr.store.(keystore.BatchGetter); ok {
			var err error
			if recs, err = bg.GetKeys(ctx, chunk); err != nil {
				return fmt.Errorf("keys: warm: %w", err)
			}
		} else {
			for _, r := range chunk {
				rec, err := kr.store.GetKey(ctx, r.ID, r.Version)
				if err == nil {
					recs = append(recs, rec)
				} else if !errors.Is(err, ErrKeyNotFound) && !errors.Is(err, ErrKeyDestroyed) {
					return fmt.Errorf("keys: warm: %w", err)
				}
			}
		}
		if err := kr.warmRecords(ctx, ticket, recs, func(rec keystore.KeyRecord) (*currentKey, bool) {
			return nil, want[KeyVersionRef{ID: rec.ID, Version: rec.Version}]
		}); err != nil {
			return err
		}
	}
	return nil
}

// warmRecords unwraps the live records that want accepts and puts them
// into the cache under ticket, as the current key want names if any.
func (kr *Keyring) warmRecords(ctx context.Context, ticket loadTicket, recs []keystore.KeyRecord, want func(keystore.KeyRecord) (*currentKey, bool)) error {
	type item struct {
		rec keystore.KeyRecord
		cur *currentKey
	}
	var items []item
	for _, rec := range recs {
		cur, ok := want(rec)
		// A record the store returned for another key, or whose subject
		// or purpose does not derive its identifier, is not used.
		if !ok || rec.Wrapped == nil || kr.keyID(rec.Subject, rec.Purpose) != rec.ID {
			continue
		}
		items = append(items, item{rec, cur})
	}
	if len(items) == 0 {
		return nil
	}
	secrets := make([][]byte, len(items))
	if bu, ok := kr.kms.(keystore.KMSBatchUnwrapper); ok {
		reqs := make([]keystore.UnwrapRequest, len(items))
		for i, it := range items {
			reqs[i] = keystore.UnwrapRequest{Wrapped: it.rec.Wrapped, AssociatedData: wrapAssociatedData(it.rec.ID, it.rec.Version)}
		}
		res, err := bu.UnwrapBatch(ctx, reqs)
		if err != nil {
			return fmt.Errorf("keys: warm: unwrapping keys: %w", err)
		}
		if len(res) != len(reqs) {
			return fmt.Errorf("keys: warm: the KMS returned %d results for %d keys: %w", len(res), len(reqs), keystore.ErrUnwrap)
		}
		for i, r := range res {
			if r.Err == nil {
				secrets[i] = r.Plaintext
			}
		}
	} else {
		for i, it := range items {
			secrets[i], _ = kr.kms.Unwrap(ctx, it.rec.Wrapped, wrapAssociatedData(it.rec.ID, it.rec.Version))
		}
	}
	for i, it := range items {
		if len(secrets[i]) != KeySize {
			continue // Current or KeyVersion will report it
		}
		r := it.rec
		k := &Key{id: r.ID, version: r.Version, subject: r.Subject, purpose: r.Purpose, created: r.CreatedAt, secret: secrets[i]}
		kr.cache.put(k, it.cur, ticket)
	}
	return nil
}
