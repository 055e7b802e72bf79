// Package aessiv is AES-SIV (RFC 5297): S2V over AES-CMAC and AES-CTR,
// with everything that depends only on the key computed once in New, so
// that a message costs its AES blocks and nothing else.
//
// It is fieldcrypt's deterministic mode. [SIV.Seal] and [SIV.Open] take one
// associated-data component, exactly as Tink's DeterministicAEAD
// (daead/subtle.AESSIV) does, and produce byte-identical output;
// [SIV.SealJoined] treats two slices as that one component without joining
// them, and [SIV.SealComponents] is the general S2V of RFC 5297 with any
// number of components (its appendix A.2 uses three).
//
// Per key, New builds the two AES ciphers, the CMAC subkeys K1 and K2 and
// dbl(CMAC(0^128)), the S2V state before the first component. Where
// internal/aesni has schedules (AES-NI, 16- or 32-byte halves, FIPS 140-3
// mode off), CMAC absorbs a message's whole blocks in one call with the
// round keys in registers and CTR runs two blocks at a time, with no
// allocation at any length; elsewhere crypto/aes encrypts every block,
// short messages are CTR-encrypted block by block in pooled scratch, and
// long ones with crypto/cipher's CTR, which pipelines blocks but allocates.
// The tests check both against each other, RFC 5297, Wycheproof and Tink.
package aessiv

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/fieldcrypt/fieldcrypt/internal/aesni"
)

// Overhead is the length of the synthetic IV that leads every ciphertext.
const Overhead = aes.BlockSize

// ErrOpen is returned by Open for a ciphertext that does not authenticate.
var ErrOpen = errors.New("aessiv: message authentication failed")

// ErrKeySize is returned by New for a key that is not 32, 48 or 64 bytes.
var ErrKeySize = errors.New("aessiv: invalid key size")

// ctrBlocksOnStack is the longest message, in blocks, that crypto/aes
// CTR-encrypts with one Encrypt call per block. Longer ones pay
// crypto/cipher's CTR allocation and gain its pipelined blocks.
const ctrBlocksOnStack = 8

// SIV is AES-SIV under one key. It holds only immutable state after New and
// is safe for concurrent use.
type SIV struct {
	mac, ctr cipher.Block
	// macX and ctrX are the same keys' internal/aesni schedules, both set
	// or both nil: where they exist, CMAC runs its full blocks in one call
	// with the round keys in registers and CTR two blocks at a time.
	macX, ctrX *aesni.Block
	k1, k2     block // CMAC subkeys (RFC 4493 section 2.3)
	d0         block // dbl(CMAC(0^128)): the S2V state before any component
}

type block [aes.BlockSize]byte

// New returns AES-SIV under key: 32, 48 or 64 bytes, its first half the
// S2V (CMAC) key and its second half the CTR key, as RFC 5297 section 2.2
// splits it. AES-SIV-512 (64 bytes, two AES-256 keys) is what fieldcrypt
// uses. The key is expanded into the AES key schedules; the caller may
// clear it afterwards.
func New(key []byte) (*SIV, error) {
	switch len(key) {
	case 32, 48, 64:
	default:
		return nil, fmt.Errorf("%w: %d bytes, need 32, 48 or 64", ErrKeySize, len(key))
	}
	half := len(key) / 2
	mac, err := aes.NewCipher(key[:half])
	if err != nil {
		return nil, fmt.Errorf("aessiv: %w", err)
	}
	ctr, err := aes.NewCipher(key[half:])
	if err != nil {
		return nil, fmt.Errorf("aessiv: %w", err)
	}
	s := &SIV{mac: mac, ctr: ctr}
	if macX, ctrX := aesni.New(key[:half]), aesni.New(key[half:]); macX != nil && ctrX != nil {
		s.macX, s.ctrX = macX, ctrX
	}
	var l block
	mac.Encrypt(l[:], l[:]) // L = AES(K, 0^128)
	s.k1 = dbl(l)
	s.k2 = dbl(s.k1)
	var zero block
	s.d0 = dbl(s.cmac(new(scratch), nil, zero[:]))
	return s, nil
}

// dbl is multiplication by x in GF(2^128) (RFC 5297's "doubling"), without
// a branch on the secret top bit.
func dbl(b block) block {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	carry := hi >> 63
	hi = hi<<1 | lo>>63
	lo = lo<<1 ^ (-carry & 0x87)
	var out block
	binary.BigEndian.PutUint64(out[0:8], hi)
	binary.BigEndian.PutUint64(out[8:16], lo)
	return out
}

func xorInto(dst *block, src []byte) {
	_ = src[15]
	a := binary.LittleEndian.Uint64(dst[0:8]) ^ binary.LittleEndian.Uint64(src[0:8])
	b := binary.LittleEndian.Uint64(dst[8:16]) ^ binary.LittleEndian.Uint64(src[8:16])
	binary.LittleEndian.PutUint64(dst[0:8], a)
	binary.LittleEndian.PutUint64(dst[8:16], b)
}

// cmacState is AES-CMAC (RFC 4493) over a message given in pieces: x is the
// CBC-MAC state, buf[:n] the bytes not yet absorbed. The last block is held
// back until sum, which must treat it as the final one.
type cmacState struct {
	x   block
	buf block
	n   int
}

// scratch is the memory the AES calls work in. A slice passed to a
// cipher.Block method escapes (the call is through an interface), so stack
// arrays would be moved to the heap on every message; pooled scratch
// costs no allocation.
type scratch struct {
	st cmacState // the associated data's CMAC
	t  cmacState // the message's CMAC
	ks block     // CTR keystream
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	*sc = scratch{} // no key stream or message bytes stay behind
	scratchPool.Put(sc)
}

// absorb runs the CBC-MAC over p, whole blocks none of which is the last.
func (s *SIV) absorb(x *block, p []byte) {
	if s.macX != nil {
		s.macX.CBCMAC((*[16]byte)(x), p)
		return
	}
	for ; len(p) > 0; p = p[aes.BlockSize:] {
		xorInto(x, p[:aes.BlockSize])
		s.mac.Encrypt(x[:], x[:])
	}
}

func (s *SIV) write(st *cmacState, p []byte) {
	if len(p) == 0 {
		return
	}
	if st.n > 0 {
		k := copy(st.buf[st.n:], p)
		st.n += k
		p = p[k:]
		if len(p) == 0 {
			return // the buffered block may be the last one
		}
		s.absorb(&st.x, st.buf[:])
		st.n = 0
	}
	// All whole blocks but the last byte's: the final block is held back.
	full := (len(p) - 1) &^ (aes.BlockSize - 1)
	s.absorb(&st.x, p[:full])
	st.n = copy(st.buf[:], p[full:])
}

func (s *SIV) sum(st *cmacState) block {
	k := &s.k1
	if st.n < aes.BlockSize {
		clear(st.buf[st.n:])
		st.buf[st.n] = 0x80
		k = &s.k2
	}
	if s.macX != nil {
		s.macX.CBCMACLast((*[16]byte)(&st.x), (*[16]byte)(&st.buf), (*[16]byte)(k))
		return st.x
	}
	xorInto(&st.buf, k[:])
	xorInto(&st.x, st.buf[:])
	s.mac.Encrypt(st.x[:], st.x[:])
	return st.x
}

// cmac returns CMAC(head || tail).
func (s *SIV) cmac(sc *scratch, head, tail []byte) block {
	sc.st = cmacState{}
	s.write(&sc.st, head)
	s.write(&sc.st, tail)
	return s.sum(&sc.st)
}

// msgStart begins CMAC(msg xorend d) before d is known: msg xorend d
// changes only the last 16 bytes, so the full blocks before the block they
// start in are absorbed into sc.t straight from msg. Called before the
// associated data is absorbed, these AES calls do not wait for that chain
// and the processor overlaps the two. It returns how many bytes it took.
func (s *SIV) msgStart(sc *scratch, msg []byte) int {
	sc.t = cmacState{}
	if len(msg) < 2*aes.BlockSize {
		return 0
	}
	start := (len(msg) - aes.BlockSize) &^ (aes.BlockSize - 1)
	s.absorb(&sc.t.x, msg[:start]) // more follows: never the final block
	return start
}

// final is S2V's last step: given the state d after the associated-data
// components, CMAC(msg xorend d) for a message of at least a block (its
// first start bytes already absorbed by msgStart), CMAC(dbl(d) xor
// pad(msg)) for a shorter one.
func (s *SIV) final(sc *scratch, d block, msg []byte, start int) block {
	n := len(msg)
	if n < aes.BlockSize {
		t := dbl(d)
		var p block
		copy(p[:], msg)
		p[n] = 0x80
		xorInto(&t, p[:])
		return s.cmac(sc, nil, t[:])
	}
	// The rest (16 to 31 bytes) from a copy with d XORed into its last 16.
	var tail [2 * aes.BlockSize]byte
	k := copy(tail[:], msg[start:])
	off := k - aes.BlockSize
	xorInto((*block)(tail[off:off+aes.BlockSize]), d[:])
	s.write(&sc.t, tail[:k])
	return s.sum(&sc.t)
}

// s2v is S2V with one associated-data component, adHead || adTail.
func (s *SIV) s2v(sc *scratch, adHead, adTail, msg []byte) block {
	start := s.msgStart(sc, msg)
	d := s.d0
	m := s.cmac(sc, adHead, adTail)
	xorInto(&d, m[:])
	return s.final(sc, d, msg, start)
}

// ADPrefix is the S2V state after a fixed start of the one associated-data
// component, made once by [SIV.NewADPrefix] for bytes that begin many
// messages' associated data (a header naming the key, say), so that they
// are not absorbed again per message. It is immutable and belongs to the
// SIV that made it.
type ADPrefix struct {
	s  *SIV
	st cmacState
}

// NewADPrefix absorbs prefix, all but its last (up to 16) bytes, which
// CMAC must hold back until it knows whether more follow.
func (s *SIV) NewADPrefix(prefix []byte) *ADPrefix {
	p := &ADPrefix{s: s}
	sc := new(scratch)
	s.write(&sc.st, prefix)
	p.st = sc.st
	return p
}

func (s *SIV) s2vPrefixed(sc *scratch, pre *ADPrefix, ad, msg []byte) block {
	if pre.s != s {
		panic("aessiv: ADPrefix of another SIV")
	}
	start := s.msgStart(sc, msg)
	sc.st = pre.st
	s.write(&sc.st, ad)
	m := s.sum(&sc.st)
	d := s.d0
	xorInto(&d, m[:])
	return s.final(sc, d, msg, start)
}

// SealPrefixed is Seal with the associated-data component prefix || ad,
// where pre was made from prefix: the same output as
// SealJoined(dst, plaintext, prefix, ad).
func (s *SIV) SealPrefixed(dst, plaintext []byte, pre *ADPrefix, ad []byte) []byte {
	sc := getScratch()
	defer putScratch(sc)
	v := s.s2vPrefixed(sc, pre, ad, plaintext)
	return s.seal(sc, dst, plaintext, &v)
}

// OpenPrefixed is Open for SealPrefixed.
func (s *SIV) OpenPrefixed(dst, ciphertext []byte, pre *ADPrefix, ad []byte) ([]byte, error) {
	sc := getScratch()
	defer putScratch(sc)
	out, pt, v, ok := s.decrypt(sc, dst, ciphertext)
	if !ok {
		return dst, ErrOpen
	}
	want := s.s2vPrefixed(sc, pre, ad, pt)
	return verify(dst, out, pt, &v, &want)
}

// ctrXOR writes in XOR the AES-CTR keystream under iv (the synthetic IV
// with bits 31 and 63 of its last two words cleared) to out.
func (s *SIV) ctrXOR(sc *scratch, out, in []byte, v *block) {
	ks := &sc.ks
	*ks = *v
	ks[8] &= 0x7f
	ks[12] &= 0x7f
	if s.ctrX != nil {
		hi := binary.BigEndian.Uint64(ks[0:8])
		lo := binary.BigEndian.Uint64(ks[8:16])
		full := len(in) &^ (aes.BlockSize - 1)
		s.ctrX.CTR(hi, lo, out[:full], in[:full])
		if rest := in[full:]; len(rest) > 0 {
			n := uint64(full / aes.BlockSize)
			lo += n
			if lo < n {
				hi++
			}
			binary.BigEndian.PutUint64(ks[0:8], hi)
			binary.BigEndian.PutUint64(ks[8:16], lo)
			s.ctrX.Encrypt((*[16]byte)(ks), (*[16]byte)(ks))
			for i := range rest {
				out[full+i] = rest[i] ^ ks[i]
			}
		}
		return
	}
	if len(in) > ctrBlocksOnStack*aes.BlockSize {
		cipher.NewCTR(s.ctr, ks[:]).XORKeyStream(out, in)
		return
	}
	hi := binary.BigEndian.Uint64(ks[0:8])
	lo := binary.BigEndian.Uint64(ks[8:16])
	for len(in) > 0 {
		binary.BigEndian.PutUint64(ks[0:8], hi)
		binary.BigEndian.PutUint64(ks[8:16], lo)
		s.ctr.Encrypt(ks[:], ks[:])
		if len(in) >= aes.BlockSize {
			_ = out[aes.BlockSize-1]
			a := binary.LittleEndian.Uint64(in[0:8]) ^ binary.LittleEndian.Uint64(ks[0:8])
			b := binary.LittleEndian.Uint64(in[8:16]) ^ binary.LittleEndian.Uint64(ks[8:16])
			binary.LittleEndian.PutUint64(out[0:8], a)
			binary.LittleEndian.PutUint64(out[8:16], b)
			in, out = in[aes.BlockSize:], out[aes.BlockSize:]
		} else {
			for i := range in {
				out[i] = in[i] ^ ks[i]
			}
			in = nil
		}
		lo++
		if lo == 0 { // the counter is 128 bits wide (RFC 5297 section 2.5)
			hi++
		}
	}
}

// grow returns dst extended by n bytes and the extension.
func grow(dst []byte, n int) (whole, tail []byte) {
	total := len(dst) + n
	if cap(dst) >= total {
		whole = dst[:total]
	} else {
		whole = append(dst, make([]byte, n)...)
	}
	return whole, whole[len(dst):]
}

// Seal appends V || C to dst: the synthetic IV S2V(ad, plaintext) and the
// CTR encryption of plaintext under it, with ad as the one associated-data
// component (Tink's DeterministicAEAD: an empty or nil ad is still a
// component). It panics if the bytes appended to dst would overlap
// plaintext.
func (s *SIV) Seal(dst, plaintext, ad []byte) []byte {
	return s.SealJoined(dst, plaintext, nil, ad)
}

// SealJoined is Seal with the associated-data component adHead || adTail,
// absorbed without joining the two slices.
func (s *SIV) SealJoined(dst, plaintext, adHead, adTail []byte) []byte {
	sc := getScratch()
	defer putScratch(sc)
	v := s.s2v(sc, adHead, adTail, plaintext)
	return s.seal(sc, dst, plaintext, &v)
}

// SealComponents is RFC 5297's S2V with the associated-data components ad
// (possibly none) before the plaintext, then CTR. A nonce, if any, is the
// last component (RFC 5297 section 3).
func (s *SIV) SealComponents(dst, plaintext []byte, ad [][]byte) []byte {
	sc := getScratch()
	defer putScratch(sc)
	v := s.s2vComponents(sc, ad, plaintext)
	return s.seal(sc, dst, plaintext, &v)
}

func (s *SIV) seal(sc *scratch, dst, plaintext []byte, v *block) []byte {
	out, tail := grow(dst, Overhead+len(plaintext))
	if overlap(tail, plaintext) {
		panic("aessiv: invalid buffer overlap")
	}
	copy(tail, v[:])
	s.ctrXOR(sc, tail[Overhead:], plaintext, v)
	return out
}

func (s *SIV) s2vComponents(sc *scratch, ad [][]byte, msg []byte) block {
	start := s.msgStart(sc, msg)
	d := s.d0
	if len(ad) == 0 {
		// d0 is dbl(CMAC(0)); with no component before the message, S2V
		// starts from CMAC(0) itself.
		var zero block
		d = s.cmac(sc, nil, zero[:])
	} else {
		for i, c := range ad {
			if i > 0 {
				d = dbl(d)
			}
			m := s.cmac(sc, nil, c)
			xorInto(&d, m[:])
		}
	}
	return s.final(sc, d, msg, start)
}

// Open authenticates and decrypts V || C sealed by Seal with the same ad
// and appends the plaintext to dst. On failure it returns ErrOpen and dst
// unextended (the bytes decrypted into its spare capacity are cleared).
// It panics if the bytes appended to dst would overlap ciphertext. The
// associated data must not overlap them either.
func (s *SIV) Open(dst, ciphertext, ad []byte) ([]byte, error) {
	return s.OpenJoined(dst, ciphertext, nil, ad)
}

// OpenJoined is Open for SealJoined.
func (s *SIV) OpenJoined(dst, ciphertext, adHead, adTail []byte) ([]byte, error) {
	sc := getScratch()
	defer putScratch(sc)
	out, pt, v, ok := s.decrypt(sc, dst, ciphertext)
	if !ok {
		return dst, ErrOpen
	}
	want := s.s2v(sc, adHead, adTail, pt)
	return verify(dst, out, pt, &v, &want)
}

// OpenComponents is Open for SealComponents.
func (s *SIV) OpenComponents(dst, ciphertext []byte, ad [][]byte) ([]byte, error) {
	sc := getScratch()
	defer putScratch(sc)
	out, pt, v, ok := s.decrypt(sc, dst, ciphertext)
	if !ok {
		return dst, ErrOpen
	}
	want := s.s2vComponents(sc, ad, pt)
	return verify(dst, out, pt, &v, &want)
}

// decrypt CTR-decrypts the body of ciphertext into dst's extension pt.
func (s *SIV) decrypt(sc *scratch, dst, ciphertext []byte) (out, pt []byte, v block, ok bool) {
	if len(ciphertext) < Overhead {
		return nil, nil, v, false
	}
	copy(v[:], ciphertext[:Overhead])
	out, pt = grow(dst, len(ciphertext)-Overhead)
	if overlap(pt, ciphertext) {
		panic("aessiv: invalid buffer overlap")
	}
	s.ctrXOR(sc, pt, ciphertext[Overhead:], &v)
	return out, pt, v, true
}

// verify returns out if the synthetic IV v is the one recomputed, want;
// otherwise it clears the unauthenticated plaintext pt and returns dst.
func verify(dst, out, pt []byte, v, want *block) ([]byte, error) {
	if !equal(v, want) {
		clear(pt)
		return dst, ErrOpen
	}
	return out, nil
}

// overlap reports whether x and y share any memory.
func overlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	xs, ys := uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	return xs < ys+uintptr(len(y)) && ys < xs+uintptr(len(x))
}

// equal compares two blocks in constant time.
func equal(a, b *block) bool {
	x := binary.LittleEndian.Uint64(a[0:8]) ^ binary.LittleEndian.Uint64(b[0:8])
	x |= binary.LittleEndian.Uint64(a[8:16]) ^ binary.LittleEndian.Uint64(b[8:16])
	return x == 0
}
