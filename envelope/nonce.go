package envelope

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
)

// Nonces are random, drawn from the operating system's CSPRNG through
// crypto/rand. To keep that call off the per-message path, random bytes are
// read 1 KiB at a time into a few locked buffers; each byte is handed out
// once and a buffer's offset only moves forward until it is refilled, so no
// two messages receive the same bytes. math/rand only picks a buffer to
// spread goroutines; it never supplies nonce bytes.
type nonceShard struct {
	mu  sync.Mutex
	off int
	buf [1024]byte
	_   [64]byte // keep shards on separate cache lines
}

var nonceShards [16]nonceShard

func init() {
	for i := range nonceShards {
		nonceShards[i].off = len(nonceShards[i].buf)
	}
}

// readNonce fills dst (at most 1 KiB) with fresh random bytes.
func readNonce(dst []byte) error {
	s := &nonceShards[mrand.Uint32()%uint32(len(nonceShards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off+len(dst) > len(s.buf) {
		if _, err := rand.Read(s.buf[:]); err != nil {
			return fmt.Errorf("envelope: reading random nonce: %w", err)
		}
		s.off = 0
	}
	s.off += copy(dst, s.buf[s.off:])
	return nil
}
