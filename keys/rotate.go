package keys

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// KeyCursor is a position in the keystore's order of key versions: by key
// identifier (bytewise), then version; the zero cursor is before every
// key. [RotateOptions.Progress] reports one and [RotateOptions.After]
// resumes from it. Its canonical home is package keys/keystore.
type KeyCursor = keystore.KeyCursor

// wrapAssociatedData returns the associated data a Keyring binds the wrapped
// material of key (id, version) to: "fieldcrypt/key/v1\x00" || id || uint32
// big-endian version. RotateRoot hands it to the KMS with every key
// (keystore.RewrapRequest.AssociatedData), so KMS implementations never build
// it.
func wrapAssociatedData(id KeyID, version uint32) []byte {
	ad := make([]byte, 0, 18+len(id)+4)
	ad = append(ad, "fieldcrypt/key/v1\x00"...)
	ad = append(ad, id[:]...)
	return binary.BigEndian.AppendUint32(ad, version)
}

// idKeyMetaName is the keystore metadata entry holding the identifier key
// wrapped by the root key (the root key check value), and
// idKeyAssociatedData the associated data it is wrapped with. Both are part
// of the keystore format and never change; ErrCheckValueMissing names the
// entry for operators, and keys/keystest and keys/vaultkms spell it out.
const (
	idKeyMetaName       = "id-key.v1"
	idKeyAssociatedData = "fieldcrypt/keystore/id-key.v1"
)

// errAlreadyRotated marks a key that already unwraps under the new KMS.
var errAlreadyRotated = errors.New("keys: already re-wrapped")

// RotateOptions tunes RotateRoot. The zero value is usable.
type RotateOptions struct {
	// BatchSize is how many keys are read, and sent to the KMS, per round
	// trip. 0 means 100. With 1, a [keystore.KMSRewrapper] gets one key per
	// request.
	BatchSize int
	// After resumes an interrupted rotation after this cursor, as last
	// reported by Progress. Starting again from the zero cursor is also
	// correct, only slower: re-wrapping a re-wrapped key is harmless.
	After KeyCursor
	// Progress, if set, is called after each batch with the keys handled so
	// far in this run, the number of live keys counted at the start (keys
	// created meanwhile are already under the new root key version), and
	// the cursor to resume from.
	Progress func(done, total int, resume KeyCursor)
	// UnwrapAndWrap forces unwrapping with the old KMS and wrapping with the
	// new one even when the KMS can re-wrap internally. Most users won't
	// need it.
	UnwrapAndWrap bool
}

// RotateStats reports what RotateRoot did.
type RotateStats struct {
	Total     int       // live keys counted at the start
	Rewrapped int       // keys now wrapped under the new root key (version)
	Skipped   int       // keys forgotten meanwhile, or already re-wrapped (by another or an earlier run)
	Failed    int       // keys that do not unwrap under the old root key; left untouched
	Resume    KeyCursor // the cursor of the last key handled

	// MinRootVersion is the lowest root key version that the check value
	// or any live key is wrapped under when RotateRoot returns, read from
	// what is stored: the values this run wrote, those another run wrote
	// first, the keys it skipped or could not unwrap and, when resuming
	// (RotateOptions.After), the keys before the cursor. Older root key
	// versions are no longer needed: it is the highest minimum decryption
	// version that is safe to set (vault.KMS.SetMinDecryptionVersion).
	// It is lower than the newest version when the root key was rotated
	// again while RotateRoot ran; run RotateRoot again to catch up.
	//
	// It is 0 when the destination KMS is not a [keystore.RootVersioner], and
	// when RotateRoot stopped before handling every key (an error other than
	// the one for Failed keys).
	MinRootVersion int
}

// minVersion tracks the lowest root key version among wrapped values.
type minVersion struct {
	vr  keystore.RootVersioner // nil: nothing to track
	min int
}

// note records w's version. Values the KMS cannot parse are not its
// ciphertexts: it could never unwrap them, so they need no version.
func (m *minVersion) note(w []byte) {
	if m.vr == nil || w == nil {
		return
	}
	if v, err := m.vr.WrappedVersion(w); err == nil && (m.min == 0 || v < m.min) {
		m.min = v
	}
}

// RotateRoot re-wraps every live subject key in store, and the keystore's
// root key check value, so that they are wrapped under to — or, when to is
// nil or the same KMS as from, under from's newest root key version. Data
// encrypted under the subject keys is not touched and stays readable
// throughout; the Keyrings using the store need not stop.
//
// Each key is replaced by compare-and-swap, one at a time, so at every
// moment each key is wrapped under the old or the new root key, never
// neither: a crash, a cancelled context or a KMS error half-way loses
// nothing, and running RotateRoot again (from RotateOptions.After, or from
// the start) completes the rotation. A key forgotten meanwhile stays
// forgotten. Keys that do not unwrap under from are left as they are and
// counted in RotateStats.Failed; RotateRoot then returns an error wrapping
// [keystore.ErrUnwrap] after handling every other key.
//
// When from is a [keystore.KMSRewrapper] (Vault Transit) and to is nil or
// from, the keys are re-wrapped inside the KMS, in batches, and never leave
// it.
//
// A rotation reaches keystore backups only once the old root key (version)
// can no longer decrypt: destroy the old local root key after RotateRoot
// returns without error, or raise Vault's min_decryption_version to
// RotateStats.MinRootVersion — not to the newest version, which may have
// moved on while RotateRoot ran (auto-rotation, a second operator) and
// would lock out the keys wrapped before it; vault.KMS.SetMinDecryptionVersion
// checks the keystore and refuses. Until then an old backup plus the KMS
// still yields every key, including those of subjects forgotten since the
// backup was taken.
//
// Keys created while RotateRoot runs are wrapped under the version newest
// at their creation and are not read back, unless RotateRoot comes to them.
func RotateRoot(ctx context.Context, store keystore.RotatableStore, from, to keystore.KMS, opts RotateOptions) (RotateStats, error) {
	if store == nil || from == nil {
		return RotateStats{}, errors.New("keys: rotate root: store and KMS are required")
	}
	if to == nil {
		to = from
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = 100
	}
	var rw keystore.KMSRewrapper
	if r, ok := from.(keystore.KMSRewrapper); ok && !opts.UnwrapAndWrap && sameKMS(from, to) {
		rw = r
	}
	st := RotateStats{Resume: opts.After}
	mv := minVersion{}
	mv.vr, _ = to.(keystore.RootVersioner)

	// The check value first: a keystore whose keys are under the new root
	// key but whose check value is not would refuse to open.
	meta, err := rotateMeta(ctx, store, from, to, rw)
	if err != nil {
		return st, err
	}
	mv.note(meta)
	total, err := store.CountLiveKeys(ctx)
	if err != nil {
		return st, fmt.Errorf("keys: rotate root: counting keys: %w", err)
	}
	st.Total = total
	cursor := opts.After
	for {
		recs, err := store.LiveKeys(ctx, cursor, batch)
		if err != nil {
			return st, fmt.Errorf("keys: rotate root: listing keys: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		// fresh may be shorter than recs when the KMS failed part-way: store
		// what was re-wrapped, then report the failure.
		fresh, kmsErr := rewrapBatch(ctx, recs, from, to, rw)
		for i, rec := range recs[:len(fresh)] {
			switch {
			case fresh[i].Err == errAlreadyRotated:
				st.Skipped++
				mv.note(rec.Wrapped)
			case fresh[i].Err != nil && errors.Is(fresh[i].Err, keystore.ErrUnwrap):
				st.Failed++
				mv.note(rec.Wrapped)
			case fresh[i].Err != nil:
				return st, fmt.Errorf("keys: rotate root: key %s v%d: %w", rec.ID, rec.Version, fresh[i].Err)
			default:
				err := store.RewrapKey(ctx, rec.ID, rec.Version, rec.Wrapped, fresh[i].Wrapped)
				switch {
				case err == nil:
					st.Rewrapped++
					mv.note(fresh[i].Wrapped)
				case errors.Is(err, keystore.ErrRewrapConflict):
					// Another run re-wrapped it first: what did it store?
					st.Skipped++
					if err := noteStored(ctx, store, rec, &mv); err != nil {
						return st, err
					}
				case errors.Is(err, ErrKeyDestroyed), errors.Is(err, ErrKeyNotFound):
					st.Skipped++
				default:
					return st, fmt.Errorf("keys: rotate root: storing key %s v%d: %w", rec.ID, rec.Version, err)
				}
			}
			st.Resume = KeyCursor{ID: rec.ID, Version: rec.Version}
			cursor = st.Resume
		}
		if opts.Progress != nil && len(fresh) > 0 {
			opts.Progress(st.Rewrapped+st.Skipped+st.Failed, st.Total, st.Resume)
		}
		if kmsErr != nil {
			return st, kmsErr
		}
		if len(recs) < batch {
			break
		}
	}
	if mv.vr != nil && opts.After != (KeyCursor{}) {
		// Keys before the cursor were handled by an earlier run, perhaps
		// under an older version than this run's.
		if err := notePrefix(ctx, store, opts.After, batch, &mv); err != nil {
			return st, err
		}
	}
	st.MinRootVersion = mv.min
	if st.Failed > 0 {
		return st, fmt.Errorf("keys: rotate root: %d keys do not unwrap under the old root key and were left as they were: %w", st.Failed, keystore.ErrUnwrap)
	}
	return st, nil
}

func sameKMS(a, b keystore.KMS) (same bool) {
	defer func() {
		if recover() != nil { // uncomparable dynamic types
			same = false
		}
	}()
	return a == b
}

// noteStored records the version of what store holds for rec now.
func noteStored(ctx context.Context, store keystore.RotatableStore, rec keystore.KeyRecord, mv *minVersion) error {
	if mv.vr == nil {
		return nil
	}
	cur, err := store.GetKey(ctx, rec.ID, rec.Version)
	switch {
	case errors.Is(err, ErrKeyDestroyed), errors.Is(err, ErrKeyNotFound):
		return nil // forgotten meanwhile: nothing left to unwrap
	case err != nil:
		return fmt.Errorf("keys: rotate root: reading key %s v%d back: %w", rec.ID, rec.Version, err)
	}
	mv.note(cur.Wrapped)
	return nil
}

// notePrefix records the versions of the live keys up to and including
// cursor end.
func notePrefix(ctx context.Context, store keystore.RotatableStore, end KeyCursor, batch int, mv *minVersion) error {
	var cursor KeyCursor
	for {
		recs, err := store.LiveKeys(ctx, cursor, batch)
		if err != nil {
			return fmt.Errorf("keys: rotate root: listing keys: %w", err)
		}
		for _, r := range recs {
			c := KeyCursor{ID: r.ID, Version: r.Version}
			if end.Less(c) {
				return nil
			}
			mv.note(r.Wrapped)
			cursor = c
		}
		if len(recs) < batch {
			return nil
		}
	}
}

// rotateMeta re-wraps the check value and returns what is stored
// afterwards (nil if there is no check value).
func rotateMeta(ctx context.Context, store keystore.RotatableStore, from, to keystore.KMS, rw keystore.KMSRewrapper) ([]byte, error) {
	old, err := store.Meta(ctx, idKeyMetaName)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, nil // no Keyring has opened this keystore yet
	}
	if err != nil {
		return nil, fmt.Errorf("keys: rotate root: reading check value: %w", err)
	}
	res, err := rewrapBatch(ctx, []keystore.KeyRecord{{Wrapped: old}}, from, to, rw, []byte(idKeyAssociatedData))
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, errors.New("keys: rotate root: the KMS returned no result for the check value")
	}
	if res[0].Err == errAlreadyRotated {
		return old, nil
	}
	if res[0].Err != nil {
		if errors.Is(res[0].Err, keystore.ErrUnwrap) {
			return nil, fmt.Errorf("keys: rotate root: %w: the check value does not unwrap under the old root key", ErrRootKeyMismatch)
		}
		return nil, fmt.Errorf("keys: rotate root: check value: %w", res[0].Err)
	}
	err = store.RewrapMeta(ctx, idKeyMetaName, old, res[0].Wrapped)
	switch {
	case err == nil:
		return res[0].Wrapped, nil
	case errors.Is(err, keystore.ErrRewrapConflict):
		// Another run re-wrapped it first: what did it store?
		cur, err := store.Meta(ctx, idKeyMetaName)
		if err != nil {
			return nil, fmt.Errorf("keys: rotate root: reading check value back: %w", err)
		}
		return cur, nil
	}
	return nil, fmt.Errorf("keys: rotate root: storing check value: %w", err)
}

// rewrapBatch re-wraps recs' material; ad overrides the per-key associated
// data (for the check value). On a KMS failure it returns the results
// before the failing key together with the error.
func rewrapBatch(ctx context.Context, recs []keystore.KeyRecord, from, to keystore.KMS, rw keystore.KMSRewrapper, ad ...[]byte) ([]keystore.RewrapResult, error) {
	adOf := func(r keystore.KeyRecord) []byte {
		if len(ad) > 0 {
			return ad[0]
		}
		return wrapAssociatedData(r.ID, r.Version)
	}
	if rw != nil {
		reqs := make([]keystore.RewrapRequest, len(recs))
		for i, r := range recs {
			reqs[i] = keystore.RewrapRequest{Wrapped: r.Wrapped, AssociatedData: adOf(r)}
		}
		res, err := rw.Rewrap(ctx, reqs)
		if err != nil {
			return nil, fmt.Errorf("keys: rotate root: re-wrapping in the KMS: %w", err)
		}
		if len(res) != len(reqs) {
			return nil, fmt.Errorf("keys: rotate root: KMS returned %d results for %d keys", len(res), len(reqs))
		}
		return res, nil
	}
	res := make([]keystore.RewrapResult, len(recs))
	for i, r := range recs {
		a := adOf(r)
		secret, err := from.Unwrap(ctx, r.Wrapped, a)
		if errors.Is(err, keystore.ErrUnwrap) && !sameKMS(from, to) {
			// Re-wrapped by an earlier, interrupted run?
			if s, terr := to.Unwrap(ctx, r.Wrapped, a); terr == nil {
				clear(s)
				res[i].Err = errAlreadyRotated
				continue
			}
		}
		if err != nil {
			if !errors.Is(err, keystore.ErrUnwrap) {
				return res[:i], fmt.Errorf("keys: rotate root: unwrapping key %s v%d: %w", r.ID, r.Version, err)
			}
			res[i].Err = err
			continue
		}
		w, err := to.Wrap(ctx, secret, a)
		clear(secret)
		if err != nil {
			return res[:i], fmt.Errorf("keys: rotate root: wrapping key %s v%d: %w", r.ID, r.Version, err)
		}
		res[i].Wrapped = w
	}
	return res, nil
}
