package fpe

// regBlock is the AES encryption key schedule of FF1's assembly rounds
// (ff1Enc64, ff1Dec64, ff1Enc96, ff1Dec96), which keep the block in
// registers where cipher.Block needs it in memory. It exists only where
// the CPU has AES instructions (see useAESNI) and the key is 16 or 32
// bytes; elsewhere FF1 uses crypto/aes for every block. The tests check
// the schedule and the rounds against FIPS 197, crypto/aes and the Go
// rounds.
type regBlock struct {
	xk [240]byte // round keys 0..nr, 16 bytes each
	nr int       // 10 or 14 rounds
}

// newRegBlock returns the register-block schedule for key, or nil when
// this machine or key size has none.
func newRegBlock(key []byte) *regBlock {
	if !useAESNI {
		return nil
	}
	r := new(regBlock)
	switch len(key) {
	case 16:
		expandKey128(&key[0], &r.xk)
		r.nr = 10
	case 32:
		expandKey256(&key[0], &r.xk)
		r.nr = 14
	default:
		return nil
	}
	return r
}

// encrypt encrypts the block whose bytes are lo's then hi's, each
// little-endian: one block of the schedule on its own, which the tests
// check against FIPS 197 and crypto/aes (FF1's rounds are ff1Enc64 and
// its siblings).
func (r *regBlock) encrypt(lo, hi uint64) (uint64, uint64) {
	return encryptRegs(&r.xk, r.nr, lo, hi)
}
