package keys

import (
	"crypto/sha256"
	"sync"
	"weak"
)

// The process-wide registry of open Keyrings, by keystore, so that a Forget
// evicts the subject from every Keyring of the process on that keystore —
// two libraries in one binary, a test harness, a second Store opened on the
// same database — before it returns. A keystore is named by a hash of its
// identifier key, which is the same for every Keyring that opened it (and
// for a copy of it, where evicting too much is harmless). Weak pointers
// keep the registry from holding a Keyring nobody uses any more.
var registry struct {
	mu sync.Mutex
	m  map[[32]byte][]weak.Pointer[Keyring]
}

func keystoreName(idKey []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("fieldcrypt/keystore-name/v1\x00"))
	h.Write(idKey)
	var n [32]byte
	h.Sum(n[:0])
	return n
}

func register(kr *Keyring) {
	kr.keystore = keystoreName(kr.idKey)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.m == nil {
		registry.m = make(map[[32]byte][]weak.Pointer[Keyring])
	}
	live := registry.m[kr.keystore][:0]
	for _, p := range registry.m[kr.keystore] {
		if p.Value() != nil {
			live = append(live, p)
		}
	}
	registry.m[kr.keystore] = append(live, weak.Make(kr))
}

// evictEverywhere evicts ref from kr and from every other live Keyring of
// the process on kr's keystore.
func evictEverywhere(kr *Keyring, ref SubjectRef) {
	kr.cache.evictSubject(ref)
	for _, o := range sameKeystore(kr) {
		o.cache.evictSubject(ref)
	}
}

// notifyEverywhere queues ref for the OnForget subscriptions of kr and of
// every other live Keyring of the process on kr's keystore.
func notifyEverywhere(kr *Keyring, ref SubjectRef) {
	kr.hooks.notify(ref)
	for _, o := range sameKeystore(kr) {
		o.hooks.notify(ref)
	}
}

// sameKeystore returns the other live Keyrings of the process on kr's
// keystore.
func sameKeystore(kr *Keyring) []*Keyring {
	registry.mu.Lock()
	others := make([]*Keyring, 0, len(registry.m[kr.keystore]))
	for _, p := range registry.m[kr.keystore] {
		if o := p.Value(); o != nil && o != kr {
			others = append(others, o)
		}
	}
	registry.mu.Unlock()
	return others
}
