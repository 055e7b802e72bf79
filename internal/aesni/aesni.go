// Package aesni is AES encryption on the CPU's AES instructions with a key
// schedule fieldcrypt's own assembly can read: the rounds of FF1
// (tokenize/fpe) and the CMAC and CTR of AES-SIV (internal/aessiv), which
// keep blocks in registers and run several blocks per call where
// crypto/aes's cipher.Block takes one block through memory per call.
//
// It exists on amd64 with AES-NI and SSE4.1 only, for 16- and 32-byte
// keys, and never in FIPS 140-3 mode, where every AES operation stays in
// Go's validated module: [New] returns nil then, and callers use
// crypto/aes. The tests check it against FIPS 197 and crypto/aes.
package aesni

// Block is an AES-128 or AES-256 encryption key schedule. It is immutable
// after New and safe for concurrent use.
type Block struct {
	// XK holds round keys 0..NR, 16 bytes each, for assembly that takes
	// the schedule as a *[240]byte.
	XK [240]byte
	NR int // 10 or 14 rounds
}

// New returns the schedule of key, or nil when this machine, build or key
// size has none (see the package documentation).
func New(key []byte) *Block {
	if !Available {
		return nil
	}
	b := new(Block)
	switch len(key) {
	case 16:
		expandKey128(&key[0], &b.XK)
		b.NR = 10
	case 32:
		expandKey256(&key[0], &b.XK)
		b.NR = 14
	default:
		return nil
	}
	return b
}

// Encrypt encrypts src into dst, which may be the same block.
func (b *Block) Encrypt(dst, src *[16]byte) { encryptBlock(&b.XK, b.NR, dst, src) }

// CBCMAC runs CBC-MAC over the full blocks of p: for each 16-byte block,
// x = E(x XOR block). len(p) must be a multiple of 16.
func (b *Block) CBCMAC(x *[16]byte, p []byte) {
	if len(p)%16 != 0 {
		panic("aesni: CBCMAC of a partial block")
	}
	if len(p) > 0 {
		cbcMAC(&b.XK, b.NR, x, &p[0], len(p)/16)
	}
}

// CBCMACLast is CMAC's last step: x = E(x XOR p XOR k), with k the
// subkey for p (RFC 4493 section 2.4).
func (b *Block) CBCMACLast(x, p, k *[16]byte) { cbcMACLast(&b.XK, b.NR, x, p, k) }

// CTR XORs the full blocks of src with the keystream E(hi||lo),
// E(hi||lo + 1), … into dst, where hi||lo is a 128-bit big-endian counter
// that wraps around. len(src) must be a multiple of 16 and dst at least as
// long; dst and src may be the same slice but must not overlap otherwise.
func (b *Block) CTR(hi, lo uint64, dst, src []byte) {
	if len(src)%16 != 0 {
		panic("aesni: CTR of a partial block")
	}
	if len(dst) < len(src) {
		panic("aesni: CTR output smaller than input")
	}
	if len(src) > 0 {
		ctrBlocks(&b.XK, b.NR, hi, lo, &dst[0], &src[0], len(src)/16)
	}
}
