package envelope

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
)

// Nonces are random. Reading the operating system's CSPRNG costs about
// 3 ns per byte on the machines fieldcrypt is measured on, as much as the
// rest of sealing a small field, so nonces come from a few ChaCha8
// generators (math/rand/v2's cryptographically strong generator), each
// seeded with 32 bytes from crypto/rand and reseeded after every MiB it
// produces. GCM needs nonces that never repeat, not secret ones; output of
// a generator seeded from crypto/rand collides no more often than output
// of crypto/rand itself, so the 2^32 messages per key limit is unchanged.
// A shard is used by one goroutine at a time, under its lock.
type nonceShard struct {
	mu       sync.Mutex
	rng      mrand.ChaCha8
	seeded   bool
	produced int
}

const reseedAfter = 1 << 20

var nonceShards [16]nonceShard

// readNonce fills dst with fresh random bytes.
func readNonce(dst []byte) error {
	// The shard choice only spreads goroutines; it supplies no nonce bytes.
	s := &nonceShards[mrand.Uint32()%uint32(len(nonceShards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seeded || s.produced >= reseedAfter {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return fmt.Errorf("envelope: seeding nonce generator: %w", err)
		}
		s.rng.Seed(seed)
		clear(seed[:])
		s.seeded, s.produced = true, 0
	}
	var b [16]byte
	binaryPut(b[:8], s.rng.Uint64())
	binaryPut(b[8:], s.rng.Uint64())
	copy(dst, b[:])
	s.produced += 16
	return nil
}

func binaryPut(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	b[4], b[5], b[6], b[7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
}
