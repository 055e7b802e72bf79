//go:build !purego

package fpe

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
