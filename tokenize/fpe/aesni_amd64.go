//go:build !purego

package fpe

import (
	"crypto/fips140"

	"golang.org/x/sys/cpu"
)

// useAESNI reports whether FF1 runs its rounds on its own AES-NI key
// schedule. With FIPS 140-3 mode on, every AES operation stays inside Go's
// validated module (crypto/aes).
var useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE41 && !fips140.Enabled()

//go:noescape
func expandKey128(key *byte, xk *[240]byte)

//go:noescape
func expandKey256(key *byte, xk *[240]byte)

//go:noescape
func encryptRegs(xk *[240]byte, nr int, lo, hi uint64) (olo, ohi uint64)

//go:noescape
func ff1Enc64(xk *[240]byte, nr int, st0, st1, step, end, a, b, mu, ru, mv, rv uint64) (ra, rb uint64)

//go:noescape
func ff1Dec64(xk *[240]byte, nr int, st0, st1, step, start, a, b, mu, ru, mv, rv uint64) (ra, rb uint64)

//go:noescape
func ff1Enc96(xk *[240]byte, nr int, st0, st1, step, end, a, b, mu, mv uint64) (ra, rb uint64)

//go:noescape
func ff1Dec96(xk *[240]byte, nr int, st0, st1, step, start, a, b, mu, mv uint64) (ra, rb uint64)
