package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Errors of [Keyring.DestroyVersionsBelow] and of reads of the versions it
// destroyed.
var (
	// ErrVersionDestroyed means the key version was destroyed by
	// [Keyring.DestroyVersionsBelow] (the subject itself was not
	// forgotten): its material is gone and will never be re-created. It
	// wraps ErrKeyDestroyed, so errors.Is(err, ErrKeyDestroyed) holds for
	// it too; it is keystore.ErrVersionDestroyed.
	ErrVersionDestroyed = keystore.ErrVersionDestroyed
	// ErrVersionsInUse means DestroyVersionsBelow refused, destroying
	// nothing, because the old versions may still be in use: a
	// [WhenUnused] check reported data still under them, or the version
	// that replaced them is younger than the cache MaxAge, so another
	// process may still be encrypting under an older one.
	ErrVersionsInUse = errors.New("keys: old key versions may still be in use")
	// ErrInvalidVersion means DestroyVersionsBelow was asked to destroy
	// the current version (below is higher than it) or below is 0 or
	// higher than MaxVersion. Nothing was destroyed.
	ErrInvalidVersion = errors.New("keys: invalid key version")
)

// DestroyOption says how [Keyring.DestroyVersionsBelow] knows that nothing
// uses the versions it is to destroy. One of [WhenUnused] or [Unchecked]
// is required.
type DestroyOption struct {
	check     func(ctx context.Context) (inUse int64, err error)
	unchecked bool
}

// WhenUnused makes DestroyVersionsBelow call check before destroying
// anything and refuse with ErrVersionsInUse unless it reports 0: check
// counts the data still encrypted under the versions to be destroyed
// (gormcrypt counts the rows still under an old version). An error from
// check stops DestroyVersionsBelow with that error. Several WhenUnused
// options are all called, in order.
func WhenUnused(check func(ctx context.Context) (inUse int64, err error)) DestroyOption {
	if check == nil {
		panic("keys: WhenUnused(nil)")
	}
	return DestroyOption{check: check}
}

// Unchecked lets DestroyVersionsBelow destroy without a [WhenUnused]
// check, for callers who know by other means that nothing is encrypted
// under the old versions any more. Data still under them becomes
// unreadable for good. Most users want WhenUnused.
func Unchecked() DestroyOption { return DestroyOption{unchecked: true} }

// VersionsDestroyed is what [Keyring.DestroyVersionsBelow] destroyed. It
// holds no key material.
type VersionsDestroyed struct {
	Subject SubjectRef
	Key     KeyID
	Purpose string
	// Below is the lowest version left: every version under it is
	// destroyed.
	Below uint32
	// DestroyedNow is how many versions this call found with material and
	// destroyed; a repeated call normally destroys nothing (0), more means
	// material had come back (a restore) and was destroyed again.
	DestroyedNow int
}

// DestroyVersionsBelow destroys every version of the (subject, purpose)
// key lower than below, after a Rotate and the re-encryption of the
// subject's data under the new version (see "Destroying old versions" in
// the package documentation): the store deletes their wrapped material and
// records, apart from the key rows, that they are gone, so they are never
// re-created and a row brought back by a restore is never read. Reads of
// them fail with ErrVersionDestroyed, which is also ErrKeyDestroyed, and
// [Keyring.LiveKeys] no longer lists them.
//
// It refuses, destroying nothing:
//
//   - with ErrInvalidVersion when below is 0, above MaxVersion, or above the
//     current version: the current version is never destroyed (Forget
//     destroys them all);
//   - with ErrVersionsInUse when a [WhenUnused] check reports anything in
//     use, or when version below was created less than CacheMaxAge +
//     MaxAgeSlack ago, since another process with the same CacheMaxAge
//     may still take an older version for current until then;
//   - with an error when neither WhenUnused nor [Unchecked] is given, or
//     when the Store does not implement [keystore.VersionDestroyer]
//     (errors.ErrUnsupported);
//   - with ErrKeyNotFound when the key does not exist and ErrKeyDestroyed
//     when the subject was forgotten.
//
// below == 1 destroys nothing and succeeds. Repeating a call is harmless
// (VersionsDestroyed.DestroyedNow 0). Before it returns, the subject's keys
// are evicted from every Keyring of this process on the keystore, as
// Forget does; other processes stop using the destroyed versions within
// their watcher's latency on PostgreSQL (keys/sqlstore notifies them) and
// otherwise within their CacheMaxAge + MaxAgeSlack.
func (kr *Keyring) DestroyVersionsBelow(ctx context.Context, subject, purpose string, below uint32, opts ...DestroyOption) (VersionsDestroyed, error) {
	if err := ValidateSubject(subject); err != nil {
		return VersionsDestroyed{}, err
	}
	if err := ValidatePurpose(purpose); err != nil {
		return VersionsDestroyed{}, err
	}
	if below == 0 || below > MaxVersion {
		return VersionsDestroyed{}, fmt.Errorf("%w: destroy versions below %d: must be 1 to %d", ErrInvalidVersion, below, MaxVersion)
	}
	guarded := false
	for _, o := range opts {
		guarded = guarded || o.unchecked || o.check != nil
	}
	if !guarded {
		return VersionsDestroyed{}, errors.New("keys: destroy versions: pass keys.WhenUnused(check), " +
			"or keys.Unchecked() if nothing can be under the old versions")
	}
	vd, ok := kr.store.(keystore.VersionDestroyer)
	if !ok {
		return VersionsDestroyed{}, fmt.Errorf("keys: destroy versions: the Store (%T) does not implement keystore.VersionDestroyer: %w",
			kr.store, errors.ErrUnsupported)
	}
	ref := kr.subjectRef(subject)
	id := kr.keyID(ref, purpose)
	out := VersionsDestroyed{Subject: ref, Key: id, Purpose: purpose, Below: below}
	ev := Event{Subject: ref, Key: id, Purpose: purpose}
	latest, err := kr.store.LatestKey(ctx, id)
	if err != nil {
		return VersionsDestroyed{}, kr.fail(ctx, err, ev)
	}
	if below > latest.Version {
		return VersionsDestroyed{}, fmt.Errorf("%w: destroy versions below %d: the current version is %d and is never destroyed; Rotate first",
			ErrInvalidVersion, below, latest.Version)
	}
	if below == 1 {
		return out, nil
	}
	newest := latest
	if below != latest.Version {
		newest, err = kr.store.GetKey(ctx, id, below)
		switch {
		case errors.Is(err, ErrVersionDestroyed):
			// A higher floor is in place: version below was itself
			// destroyed, long after it stopped being current. The store
			// still destroys any material restored under it.
			newest = keystore.KeyRecord{}
		case err != nil:
			return VersionsDestroyed{}, kr.fail(ctx, err, Event{Subject: ref, Key: id, Purpose: purpose, Version: below})
		}
	}
	// A process that read the current version before version below
	// existed keeps encrypting under the old one until its cache entry
	// expires.
	if wait := kr.cache.maxAge + MaxAgeSlack - time.Since(newest.CreatedAt); !newest.CreatedAt.IsZero() && wait > 0 {
		return VersionsDestroyed{}, fmt.Errorf("%w: version %d was created less than the cache MaxAge (%v) ago; "+
			"other processes may still encrypt under older versions: retry in %v",
			ErrVersionsInUse, below, kr.cache.maxAge, wait.Round(time.Millisecond))
	}
	for _, o := range opts {
		if o.check == nil {
			continue
		}
		n, err := o.check(ctx)
		if err != nil {
			return VersionsDestroyed{}, fmt.Errorf("keys: destroy versions: checking use: %w", err)
		}
		if n != 0 {
			return VersionsDestroyed{}, fmt.Errorf("%w: %d still under versions below %d", ErrVersionsInUse, n, below)
		}
	}
	n, err := vd.DestroyVersions(ctx, id, below)
	// Evict even on error: the store may have committed before failing.
	evictEverywhere(kr, ref)
	if err != nil {
		return VersionsDestroyed{}, kr.fail(ctx, err, ev)
	}
	out.DestroyedNow = n
	kr.emit(ctx, Event{Type: EventVersionsDestroyed, Subject: ref, Key: id, Purpose: purpose, Version: below, Destroyed: n})
	return out, nil
}
