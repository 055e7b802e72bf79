package fpe

import "github.com/fieldcrypt/fieldcrypt/internal/aesni"

// regBlock is the AES encryption key schedule of FF1's assembly rounds
// (ff1Enc64, ff1Dec64, ff1Enc96, ff1Dec96), which keep the block in
// registers where cipher.Block needs it in memory: internal/aesni's, so it
// exists only where that package has one (AES-NI, FIPS 140-3 mode off)
// and the key is 16 or 32 bytes; elsewhere FF1 uses crypto/aes for every
// block. The tests check the schedule and the rounds against FIPS 197,
// crypto/aes and the Go rounds.
type regBlock struct{ aesni.Block }

// useAESNI reports whether FF1 runs its rounds on its own AES-NI key
// schedule.
var useAESNI = aesni.Available

// newRegBlock returns the register-block schedule for key, or nil when
// this machine or key size has none.
func newRegBlock(key []byte) *regBlock {
	b := aesni.New(key)
	if b == nil {
		return nil
	}
	return &regBlock{*b}
}

// encrypt encrypts the block whose bytes are lo's then hi's, each
// little-endian: one block of the schedule on its own, which the tests
// check against FIPS 197 and crypto/aes (FF1's rounds are ff1Enc64 and
// its siblings).
func (r *regBlock) encrypt(lo, hi uint64) (uint64, uint64) {
	return encryptRegs(&r.XK, r.NR, lo, hi)
}
