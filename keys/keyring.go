package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// Config configures a Keyring. KMS and Store are required.
type Config struct {
	// KMS holds the root key that wraps every subject key: a
	// keys/localkms, keys/vaultkms or keys/tinkkms KMS, or any other
	// implementation of keystore.KMS.
	KMS keystore.KMS
	// Store keeps the wrapped keys and tombstones: a keys/memstore or
	// keys/sqlstore Store, or any other implementation of keystore.Store.
	Store keystore.Store
	// CacheEntries bounds the number of unwrapped keys kept in memory.
	// 0 means DefaultCacheEntries; a negative value disables the cache.
	// From 128 up the cache is split into up to 64 shards of
	// ceil(CacheEntries/shards) entries each, so it may hold up to
	// CacheEntries rounded up to a multiple of the shard count; within a
	// shard the key least recently used is evicted first, approximately
	// (CLOCK). Hits take no lock, so they scale with cores.
	CacheEntries int
	// CacheMaxAge bounds how long an unwrapped key is served from memory
	// (plus MaxAgeSlack, 1 ms). 0 means DefaultCacheMaxAge. It is
	// also the bound on how long another process may keep using a key after
	// a Forget it was not told about: lower it to shorten that window at the
	// cost of more keystore reads and unwraps.
	CacheMaxAge time.Duration
	// Lifecycle declares retention policies, activity recording, erasure
	// receipts and the audit log (see lifecycle.go and [Lifecycle]). Its
	// zero value turns them all off.
	Lifecycle Lifecycle
	// Audit, if set, receives an Event for every key created, rotated,
	// forgotten or denied.
	Audit Auditor
	// Operations, if set, sees every encryption, decryption and
	// tokenization done with this Keyring's keys (see [OperationObserver]).
	Operations OperationObserver
	// DisableWatch stops Open from watching a Store that implements
	// [keystore.Watcher] for subjects forgotten by other processes. Most
	// users won't need it: without the watcher, only CacheMaxAge bounds how
	// long other processes' Forget calls take to reach this one.
	DisableWatch bool

	// Watcher, if set, watches for subjects forgotten by other processes
	// instead of the Store (whether or not the Store implements
	// [keystore.Watcher]): keys/natswatch, say, for a broadcast over NATS
	// JetStream. If it also implements [keystore.Broadcaster], Forget
	// announces every Forget through it once the Store has committed it.
	// DisableWatch turns it off too (Forget still announces).
	Watcher keystore.Watcher
}

// Keyring hands out per-subject keys: it creates them on first use, wraps
// them with the KMS, keeps them in the Store, caches them unwrapped and
// destroys them on Forget. It is safe for concurrent use. On a Store shared
// by several processes it also evicts subjects other processes forget (see
// [keystore.Watcher]); Close stops that.
type Keyring struct {
	kms   keystore.KMS
	store keystore.Store
	audit Auditor
	ops   OperationObserver
	cache *keyCache
	idKey []byte // HMAC key deriving SubjectRef and KeyID; never leaves the process
	// keystore names the keystore for the process-wide registry: a hash of
	// idKey, which every Keyring on the same keystore shares.
	keystore [32]byte
	life     *lifecycle // retention, activity, receipts, audit log; see lifecycle.go

	// Invalidation watcher (see watch.go); nil when not watching.
	stopWatch context.CancelFunc
	watchDone chan struct{}
	closeOnce sync.Once

	hooks forgetHooks // OnForget subscriptions (see watch.go)

	// Cold loads in flight, shared by concurrent callers (see flight.go).
	currentLoads loadGroup[currentKey]
	versionLoads loadGroup[versionKey]
	// LiveKeys' loads: they create nothing and audit no expected refusal,
	// so they are not shared with Current's and KeyVersion's.
	liveCurrentLoads loadGroup[currentKey]
	liveVersionLoads loadGroup[versionKey]

	broadcast keystore.Broadcaster // Config.Watcher's, or nil (see broadcast.go)
}

// Key is one unwrapped subject key version. Its secret is reachable only
// through [Derive], which takes an insecuresecretaccess.Token, so every use
// of raw key material is greppable.
//
// A Key is immutable apart from its memoised derived values and is safe for
// concurrent use. Callers must not keep a Key beyond one operation: holding
// it would outlive a Forget.
type Key struct {
	id      KeyID
	version uint32
	subject SubjectRef
	purpose string
	created time.Time
	secret  []byte

	mu      sync.Mutex
	derived atomic.Pointer[[]derivedValue]
	// activeAt is when activity was last recorded through this Key (see
	// lifecycle.go), in the lifecycle's activity clock.
	activeAt atomic.Int64
}

type derivedValue struct {
	label string
	value any
}

// ID returns the key's identifier, which ciphertexts carry.
func (k *Key) ID() KeyID { return k.id }

// Version returns the key's version.
func (k *Key) Version() uint32 { return k.version }

// Subject returns the keystore reference of the key's subject.
func (k *Key) Subject() SubjectRef { return k.subject }

// Purpose returns the purpose the key serves.
func (k *Key) Purpose() string { return k.purpose }

// Created returns when the key version was created, as the keystore
// recorded it (keystore.KeyRecord.CreatedAt, by the clock of the process that
// created it).
func (k *Key) Created() time.Time { return k.created }

// Derive returns the value build computes from k's secret, computing it
// once per label and cached Key; later calls with the same label return the
// memoised value without calling build. Packages use it to turn a subject
// key into ready-to-use primitives (an AEAD, an FF1 cipher) so that no key
// schedule or KDF runs per message. It is safe for concurrent use: build
// runs at most once per (Key, label) at a time, and a failed build is not
// memoised.
//
// The token marks the call as a use of raw key material (see package
// keys/insecuresecretaccess); most users won't call Derive. build must not
// keep or modify secret beyond the primitives it returns; label must name
// both the algorithm and the derivation, so that two users never share a
// label by accident. A label already derived with a different type T is an
// error, not a panic.
func Derive[T any](k *Key, _ insecuresecretaccess.Token, label string, build func(secret []byte) (T, error)) (T, error) {
	if p := k.derived.Load(); p != nil {
		if d, ok := findDerived(*p, label); ok {
			return derivedAs[T](d, label)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var cur []derivedValue
	if p := k.derived.Load(); p != nil {
		cur = *p
		if d, ok := findDerived(cur, label); ok {
			return derivedAs[T](d, label)
		}
	}
	v, err := build(k.secret)
	if err != nil {
		var zero T
		return zero, err
	}
	next := make([]derivedValue, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, derivedValue{label, v})
	k.derived.Store(&next)
	return v, nil
}

func findDerived(ds []derivedValue, label string) (derivedValue, bool) {
	for _, d := range ds {
		if d.label == label {
			return d, true
		}
	}
	return derivedValue{}, false
}

// derivedAs returns d's value as a T, or an error naming both types when
// the label was first derived as another type.
func derivedAs[T any](d derivedValue, label string) (T, error) {
	v, ok := d.value.(T)
	if !ok && d.value != nil { // nil: build returned a nil interface value
		var zero T
		return zero, fmt.Errorf("keys: derive %q: the label was derived as %T, not %v", label, d.value, reflect.TypeFor[T]())
	}
	return v, nil
}

// Open returns a Keyring over cfg.KMS and cfg.Store. On a new keystore it
// records the root key check value; on an existing one it verifies it and
// fails with ErrRootKeyMismatch if cfg.KMS holds a different root key.
//
// If cfg.Watcher is set, or else cfg.Store implements [keystore.Watcher],
// Open starts a goroutine that evicts subjects forgotten by other processes
// from the cache, until [Keyring.Close] (or the Store's own Close) stops it.
func Open(ctx context.Context, cfg Config) (*Keyring, error) {
	if cfg.KMS == nil || cfg.Store == nil {
		return nil, errors.New("keys: Config.KMS and Config.Store are required")
	}
	entries, age := cfg.CacheEntries, cfg.CacheMaxAge
	if entries == 0 {
		entries = DefaultCacheEntries
	}
	if age == 0 {
		age = DefaultCacheMaxAge
	}
	if age < 0 {
		return nil, errors.New("keys: Config.CacheMaxAge must not be negative")
	}
	idKey, err := loadIDKey(ctx, cfg.KMS, cfg.Store)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{
		kms:   cfg.KMS,
		store: cfg.Store,
		audit: cfg.Audit,
		ops:   cfg.Operations,
		cache: newKeyCache(entries, age),
		idKey: idKey,
	}
	if kr.life, err = openLifecycle(kr, cfg); err != nil {
		return nil, err
	}
	register(kr)
	w, ok := cfg.Store.(keystore.Watcher)
	if cfg.Watcher != nil {
		w, ok = cfg.Watcher, true
		kr.broadcast, _ = cfg.Watcher.(keystore.Broadcaster)
	}
	if ok && !cfg.DisableWatch {
		kr.watch(w)
	}
	return kr, nil
}

func loadIDKey(ctx context.Context, kms keystore.KMS, store keystore.Store) ([]byte, error) {
	ad := []byte(idKeyAssociatedData)
	fresh := make([]byte, KeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("keys: generating keystore identifier key: %w", err)
	}
	wrapped, err := kms.Wrap(ctx, fresh, ad)
	if err != nil {
		return nil, fmt.Errorf("keys: wrapping keystore identifier key: %w", err)
	}
	stored, err := store.InitMeta(ctx, idKeyMetaName, wrapped)
	if errors.Is(err, ErrCheckValueMissing) {
		return nil, fmt.Errorf("keys: open: %w", ErrCheckValueMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: recording root key check value: %w", err)
	}
	idKey, err := kms.Unwrap(ctx, stored, ad)
	if errors.Is(err, keystore.ErrUnwrap) {
		return nil, fmt.Errorf("%w: the keystore's check value does not unwrap under this root key; "+
			"configure the root key the keystore was created with", ErrRootKeyMismatch)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: verifying root key: %w", err)
	}
	if len(idKey) != KeySize {
		return nil, fmt.Errorf("%w: check value has the wrong length", ErrRootKeyMismatch)
	}
	return idKey, nil
}

// SubjectRef returns the keystore's reference for subject.
func (kr *Keyring) SubjectRef(subject string) (SubjectRef, error) {
	if err := ValidateSubject(subject); err != nil {
		return SubjectRef{}, err
	}
	return kr.subjectRef(subject), nil
}

func (kr *Keyring) subjectRef(subject string) SubjectRef {
	m := hmac.New(sha256.New, kr.idKey)
	m.Write([]byte("fieldcrypt/subject/v1\x00"))
	m.Write([]byte(subject))
	var r SubjectRef
	copy(r[:], m.Sum(nil))
	return r
}

func (kr *Keyring) keyID(ref SubjectRef, purpose string) KeyID {
	m := hmac.New(sha256.New, kr.idKey)
	m.Write([]byte("fieldcrypt/key-id/v1\x00"))
	m.Write(ref[:])
	m.Write([]byte(purpose))
	var id KeyID
	copy(id[:], m.Sum(nil))
	return id
}

func (kr *Keyring) emit(ctx context.Context, e Event) {
	e.Time = kr.now()
	kr.appendAudit(ctx, e)
	if kr.audit != nil {
		kr.audit.Audit(ctx, e)
	}
}

// Current returns the current key of (subject, purpose), creating version 1
// on first use. It fails with ErrKeyDestroyed if the subject was forgotten.
//
// It is safe for concurrent use and scales with cores on a cached key: a
// hit takes no lock. Concurrent first uses of one (subject, purpose) share
// one keystore read and one KMS unwrap; a caller whose ctx ends stops
// waiting without failing the others.
func (kr *Keyring) Current(ctx context.Context, subject, purpose string) (*Key, error) {
	if k, now := kr.cache.getCurrent(subject, purpose); k != nil {
		kr.life.active(k, now)
		return k, nil
	}
	if err := ValidateSubject(subject); err != nil {
		return nil, err
	}
	if err := ValidatePurpose(purpose); err != nil {
		return nil, err
	}
	k, err := kr.currentLoads.do(ctx, kr.cache, currentKey{subject, purpose}, func(ctx context.Context, t loadTicket) (*Key, error) {
		return kr.loadCurrent(ctx, t, subject, purpose)
	})
	if err != nil {
		return nil, err
	}
	kr.life.active(k, 0)
	return k, nil
}

// loadCurrent reads (creating it if need be), unwraps and caches the
// current key of (subject, purpose): Current's cold path, run once for
// all its concurrent callers.
func (kr *Keyring) loadCurrent(ctx context.Context, ticket loadTicket, subject, purpose string) (*Key, error) {
	ref := kr.subjectRef(subject)
	id := kr.keyID(ref, purpose)
	rec, err := kr.store.LatestKey(ctx, id)
	if next, ok := restartVersion(rec, err); ok {
		// Not found, or its purpose was destroyed by an expiry or a
		// withdrawal: start (again) with a fresh version.
		if err = kr.mayCreate(ctx, ref); err == nil {
			rec, err = kr.create(ctx, ref, id, purpose, next)
			if err == nil && next > 1 { // create audits version 1 only
				kr.emit(ctx, Event{Type: EventCreated, Subject: ref, Key: id, Purpose: purpose, Version: next})
			}
		}
		if errors.Is(err, keystore.ErrKeyExists) { // another process created it first
			rec, err = kr.store.LatestKey(ctx, id)
		}
	}
	if err != nil {
		return nil, kr.fail(ctx, err, Event{Subject: ref, Key: id, Purpose: purpose})
	}
	k, err := kr.unwrap(ctx, rec)
	if err != nil {
		return nil, err
	}
	kr.cache.put(k, &currentKey{subject, purpose}, ticket)
	return k, nil
}

// KeyVersion returns one version of the key id, as named by a ciphertext. It
// fails with ErrKeyDestroyed if the subject was forgotten and with
// ErrKeyNotFound if the keystore never held that key. Like Current, it
// takes no lock on a cached key, and concurrent loads of one uncached
// version share one keystore read and one KMS unwrap.
func (kr *Keyring) KeyVersion(ctx context.Context, id KeyID, version uint32) (*Key, error) {
	if k := kr.cache.getVersion(id, version); k != nil {
		return k, nil
	}
	if version == 0 || version > MaxVersion {
		return nil, fmt.Errorf("%w: version %d is out of range", ErrKeyNotFound, version)
	}
	return kr.versionLoads.do(ctx, kr.cache, versionKey{id, version}, func(ctx context.Context, t loadTicket) (*Key, error) {
		return kr.loadVersion(ctx, t, id, version)
	})
}

// loadVersion reads, unwraps and caches one key version: KeyVersion's cold
// path, run once for all its concurrent callers.
func (kr *Keyring) loadVersion(ctx context.Context, ticket loadTicket, id KeyID, version uint32) (*Key, error) {
	rec, err := kr.store.GetKey(ctx, id, version)
	if err != nil {
		return nil, kr.fail(ctx, err, Event{Key: id, Version: version})
	}
	k, err := kr.unwrap(ctx, rec)
	if err != nil {
		return nil, err
	}
	kr.cache.put(k, nil, ticket)
	return k, nil
}

// LiveKeys returns every live version of the (subject, purpose) key,
// newest (current) first: what an equality lookup must compute its
// deterministic values under, since rows written before a Rotate hold
// values of older versions. Unlike Current it creates nothing: a subject
// without a key has no live versions (nil, nil). Versions whose material is
// gone are skipped; a forgotten subject fails with ErrKeyDestroyed.
//
// Cost: with the versions in the cache (the common case, since reads keep
// them there), one cache lookup per version and one slice allocation;
// otherwise one keystore read and one KMS unwrap per missing version, after
// which they are cached like any key (they count against
// Config.CacheEntries). The versions are 1 to the current one, so the work
// grows with the number of rotations; versions destroyed by
// [Keyring.DestroyVersionsBelow] are neither listed nor read past the
// highest of them (one keystore read). The current version is the one this
// process knows: a Rotate in another process is seen within
// Config.CacheMaxAge, as for Current.
func (kr *Keyring) LiveKeys(ctx context.Context, subject, purpose string) ([]*Key, error) {
	cur, _ := kr.cache.getCurrent(subject, purpose)
	if cur == nil {
		if err := ValidateSubject(subject); err != nil {
			return nil, err
		}
		if err := ValidatePurpose(purpose); err != nil {
			return nil, err
		}
		var err error
		cur, err = kr.liveCurrentLoads.do(ctx, kr.cache, currentKey{subject, purpose}, func(ctx context.Context, t loadTicket) (*Key, error) {
			return kr.loadLiveCurrent(ctx, t, subject, purpose)
		})
		if err != nil || cur == nil {
			return nil, err
		}
	}
	out := make([]*Key, 1, min(cur.version, 8))
	out[0] = cur
	for v := cur.version - 1; v >= 1; v-- {
		k := kr.cache.getVersion(cur.id, v)
		if k == nil {
			var err error
			k, err = kr.liveVersionLoads.do(ctx, kr.cache, versionKey{cur.id, v}, func(ctx context.Context, t loadTicket) (*Key, error) {
				return kr.loadLiveVersion(ctx, t, cur.id, v)
			})
			switch {
			case errors.Is(err, ErrKeyNotFound):
				continue
			case errors.Is(err, ErrVersionDestroyed):
				// DestroyVersionsBelow destroyed this one and every
				// version under it: no need to read them.
				return out, nil
			case errors.Is(err, ErrKeyDestroyed):
				// A destroyed old version leaves nothing to search under;
				// a forgotten subject fails on its current version instead.
				continue
			case err != nil:
				return nil, err
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// loadLiveCurrent is LiveKeys' cold path for the current key, run once for
// all concurrent callers: like loadCurrent but creating nothing, (nil, nil)
// when there is no key.
func (kr *Keyring) loadLiveCurrent(ctx context.Context, ticket loadTicket, subject, purpose string) (*Key, error) {
	ref := kr.subjectRef(subject)
	id := kr.keyID(ref, purpose)
	rec, err := kr.store.LatestKey(ctx, id)
	if _, none := restartVersion(rec, err); none {
		return nil, nil // no key, or its purpose was destroyed
	}
	if err != nil {
		return nil, kr.fail(ctx, err, Event{Subject: ref, Key: id, Purpose: purpose})
	}
	k, err := kr.unwrap(ctx, rec)
	if err != nil {
		return nil, err
	}
	kr.cache.put(k, &currentKey{subject, purpose}, ticket)
	return k, nil
}

// loadLiveVersion is LiveKeys' cold path for an older version, run once
// for all concurrent callers. Missing and destroyed versions are expected
// there: they are returned as the sentinels, unaudited (unlike
// loadVersion, which audits a refusal).
func (kr *Keyring) loadLiveVersion(ctx context.Context, ticket loadTicket, id KeyID, v uint32) (*Key, error) {
	rec, err := kr.store.GetKey(ctx, id, v)
	switch {
	case errors.Is(err, ErrKeyNotFound), errors.Is(err, ErrKeyDestroyed):
		return nil, err
	case err != nil:
		return nil, kr.fail(ctx, err, Event{Key: id, Version: v})
	}
	k, err := kr.unwrap(ctx, rec)
	if err != nil {
		return nil, err
	}
	kr.cache.put(k, nil, ticket)
	return k, nil
}

// Rotate adds a new version of the (subject, purpose) key and makes it
// current in this process; other processes switch within their cache
// MaxAge. Old versions keep decrypting. It returns the new version.
func (kr *Keyring) Rotate(ctx context.Context, subject, purpose string) (uint32, error) {
	if err := ValidateSubject(subject); err != nil {
		return 0, err
	}
	if err := ValidatePurpose(purpose); err != nil {
		return 0, err
	}
	ref := kr.subjectRef(subject)
	id := kr.keyID(ref, purpose)
	for attempt := 0; attempt < 8; attempt++ {
		next := uint32(1)
		rec, err := kr.store.LatestKey(ctx, id)
		switch {
		case err == nil:
			next = rec.Version + 1
		case !errors.Is(err, ErrKeyNotFound):
			return 0, kr.fail(ctx, err, Event{Subject: ref, Key: id, Purpose: purpose})
		}
		if next > MaxVersion {
			return 0, fmt.Errorf("keys: rotate: key has reached the maximum version %d", MaxVersion)
		}
		_, err = kr.create(ctx, ref, id, purpose, next)
		if errors.Is(err, keystore.ErrKeyExists) {
			continue // a concurrent rotation won; build on top of it
		}
		if err != nil {
			return 0, kr.fail(ctx, err, Event{Subject: ref, Key: id, Purpose: purpose})
		}
		kr.cache.evictCurrent(subject, purpose)
		kr.emit(ctx, Event{Type: EventRotated, Subject: ref, Key: id, Purpose: purpose, Version: next})
		return next, nil
	}
	return 0, errors.New("keys: rotate: too many concurrent rotations of one key")
}

// Forget crypto-shreds subject: the material of every version of every
// purpose is deleted from the store, a tombstone with the time and reason is
// kept, and the keys are evicted from the cache of every Keyring of this
// process open on the same keystore (through this Store or another one on the
// same database). Once Forget returns, no operation started in this process
// obtains the subject's keys, and none will ever be created again; other
// processes stop within their watcher's latency, at most the cache MaxAge
// (see [keystore.Watcher]). Once the tombstone is stored, the
// [Keyring.OnForget] subscribers of those Keyrings are told, and
// Config.Watcher, if it is a [keystore.Broadcaster], announces the Forget
// to the other processes (a failure to announce is logged, not returned).
//
// Forget is idempotent: forgetting a forgotten subject returns the first
// tombstone (time, reason). It still destroys any key material it finds
// under the tombstone — brought back by a restore, replication lag or a
// migration — and reports how much in Tombstone.DestroyedNow (normally 0).
//
// reason is stored and logged: use a ticket reference, not personal data.
// It is at most 256 bytes.
//
// On a Store implementing keystore.LifecycleStore, Forget honours the
// retention policies' legal minimums and the holds (Config.Lifecycle): it
// is [Keyring.Erase], which keeps such keys and schedules them, and
// returns a Tombstone whose Scheduled counts them and whose ForgottenAt
// stays zero until the sweep has destroyed the last of them.
func (kr *Keyring) Forget(ctx context.Context, subject, reason string) (Tombstone, error) {
	if err := ValidateSubject(subject); err != nil {
		return Tombstone{}, err
	}
	if len(reason) > 256 {
		return Tombstone{}, errors.New("keys: forget: reason longer than 256 bytes")
	}
	if kr.life.enabled() {
		// Retention policies or holds may keep some purposes for now.
		e, err := kr.Erase(ctx, subject, reason)
		return e.Tombstone, err
	}
	ref := kr.subjectRef(subject)
	now := kr.now().UTC().Truncate(time.Microsecond)
	t, err := kr.store.Forget(ctx, Tombstone{Subject: ref, ForgottenAt: now, Reason: reason})
	// Evict even on error: the store may have committed before failing.
	evictEverywhere(kr, ref)
	if err != nil {
		return Tombstone{}, fmt.Errorf("keys: forget: %w", err)
	}
	notifyEverywhere(kr, ref)
	kr.announce(ctx, t)
	kr.emit(ctx, Event{Type: EventForgotten, Subject: ref, Reason: t.Reason, Destroyed: t.DestroyedNow,
		Repeated: !t.ForgottenAt.Equal(now)})
	return t, nil
}

// Status describes a subject's state in the keystore.
type Status struct {
	Subject   SubjectRef
	Forgotten bool
	Tombstone Tombstone // set when Forgotten
}

// Status reports whether subject was forgotten, with its tombstone.
func (kr *Keyring) Status(ctx context.Context, subject string) (Status, error) {
	if err := ValidateSubject(subject); err != nil {
		return Status{}, err
	}
	ref := kr.subjectRef(subject)
	t, err := kr.store.Tombstone(ctx, ref)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return Status{Subject: ref}, nil
	case err != nil:
		return Status{}, fmt.Errorf("keys: status: %w", err)
	}
	return Status{Subject: ref, Forgotten: true, Tombstone: t}, nil
}

// Forgotten reports whether subject was forgotten.
func (kr *Keyring) Forgotten(ctx context.Context, subject string) (bool, error) {
	s, err := kr.Status(ctx, subject)
	return s.Forgotten, err
}

// Evict drops every cached key of the subject with reference ref, so the
// next use reads the keystore. Like Forget, it also stops any load of a key
// that started before Evict from putting its result into the cache. The
// invalidation watcher (see [keystore.Watcher]) calls it when another process
// forgets a subject; most users won't need it.
func (kr *Keyring) Evict(ref SubjectRef) { kr.cache.evictSubject(ref) }

// EvictAll empties the key cache.
func (kr *Keyring) EvictAll() { kr.cache.evictAll() }

// CacheMaxAge returns how long this Keyring serves a key from memory
// (Config.CacheMaxAge, or its default): the bound on how long it takes to
// notice a Rotate made by another process.
func (kr *Keyring) CacheMaxAge() time.Duration { return kr.cache.maxAge }

// CacheStats returns the key cache's counters.
func (kr *Keyring) CacheStats() CacheStats { return kr.cache.stats() }

func (kr *Keyring) create(ctx context.Context, ref SubjectRef, id KeyID, purpose string, version uint32) (keystore.KeyRecord, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return keystore.KeyRecord{}, fmt.Errorf("keys: generating key: %w", err)
	}
	wrapped, err := kr.kms.Wrap(ctx, secret, wrapAssociatedData(id, version))
	clear(secret)
	if err != nil {
		return keystore.KeyRecord{}, fmt.Errorf("keys: wrapping key: %w", err)
	}
	rec := keystore.KeyRecord{
		ID: id, Version: version, Subject: ref, Purpose: purpose,
		Wrapped: wrapped, CreatedAt: kr.now().UTC().Truncate(time.Microsecond),
	}
	if err := kr.store.CreateKey(ctx, rec); err != nil {
		return keystore.KeyRecord{}, err
	}
	if version == 1 {
		kr.emit(ctx, Event{Type: EventCreated, Subject: ref, Key: id, Purpose: purpose, Version: version})
	}
	return rec, nil
}

func (kr *Keyring) unwrap(ctx context.Context, rec keystore.KeyRecord) (*Key, error) {
	if rec.Wrapped == nil {
		return nil, ErrKeyDestroyed
	}
	// The key identifier is derived from (subject, purpose), so a record
	// whose subject or purpose column was changed is caught here: the
	// wrapped material binds only the identifier and version.
	if kr.keyID(rec.Subject, rec.Purpose) != rec.ID {
		return nil, fmt.Errorf("keys: key %s v%d: the stored subject or purpose does not match the key identifier: %w",
			rec.ID, rec.Version, keystore.ErrUnwrap)
	}
	secret, err := kr.kms.Unwrap(ctx, rec.Wrapped, wrapAssociatedData(rec.ID, rec.Version))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrapping key %s v%d: %w", rec.ID, rec.Version, err)
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("keys: unwrapping key %s v%d: %w", rec.ID, rec.Version, keystore.ErrUnwrap)
	}
	return &Key{id: rec.ID, version: rec.Version, subject: rec.Subject, purpose: rec.Purpose,
		created: rec.CreatedAt, secret: secret}, nil
}

// fail audits a refusal of a destroyed key and wraps err.
func (kr *Keyring) fail(ctx context.Context, err error, e Event) error {
	// The store's own wrapping adds nothing a caller can act on here.
	if errors.Is(err, ErrKeyDestroyed) {
		e.Type = EventDenied
		kr.emit(ctx, e)
		if errors.Is(err, ErrVersionDestroyed) {
			return ErrVersionDestroyed
		}
		return ErrKeyDestroyed
	}
	if errors.Is(err, ErrKeyNotFound) {
		return ErrKeyNotFound
	}
	return fmt.Errorf("keys: keystore: %w", err)
}
