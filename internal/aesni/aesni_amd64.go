//go:build !purego

package aesni

import (
	"crypto/fips140"

	"golang.org/x/sys/cpu"
)

// Available reports whether New returns schedules: AES-NI and SSE4.1, and
// FIPS 140-3 mode off.
var Available = cpu.X86.HasAES && cpu.X86.HasSSE41 && !fips140.Enabled()

//go:noescape
func expandKey128(key *byte, xk *[240]byte)

//go:noescape
func expandKey256(key *byte, xk *[240]byte)

//go:noescape
func encryptBlock(xk *[240]byte, nr int, dst, src *[16]byte)

//go:noescape
func cbcMAC(xk *[240]byte, nr int, x *[16]byte, p *byte, n int)

//go:noescape
func ctrBlocks(xk *[240]byte, nr int, hi, lo uint64, dst, src *byte, n int)

//go:noescape
func cbcMACLast(xk *[240]byte, nr int, x, p, k *[16]byte)
