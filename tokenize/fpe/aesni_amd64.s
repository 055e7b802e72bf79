//go:build !purego

#include "textflag.h"

// AESBLOCK runs rounds 1..nr (nr+8(FP)) of the schedule at BX on X0,
// which holds the block already XORed with round key 0; AX and X1 are
// scratch.
#define AESBLOCK \
	MOVQ BX, AX; \
	CMPQ nr+8(FP), $10; \
	JE aes10; \
	MOVUPS 16(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 32(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 48(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 64(AX), X1; \
	AESENC X1, X0; \
	ADDQ $64, AX; \
aes10: \
	MOVUPS 16(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 32(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 48(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 64(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 80(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 96(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 112(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 128(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 144(AX), X1; \
	AESENC X1, X0; \
	MOVUPS 160(AX), X1; \
	AESENCLAST X1, X0

// PRF sets AX to y, the first 8 bytes read big-endian of the PRF output
// of the round whose block is st0 || (R8 ^ R9 ^ x), with round key 0
// folded into X2 (the block's first word) and R8 (its second,
// byte-reversed). R10 and X0 are clobbered.
#define PRF(x) \
	MOVQ R8, R10; \
	XORQ R9, R10; \
	XORQ x, R10; \
	BSWAPQ R10; \
	MOVO X2, X0; \
	PINSRQ $1, R10, X0; \
	AESBLOCK; \
	MOVQ X0, AX; \
	BSWAPQ AX

// PRF96 is PRF for d = 12: it sets DX:AX to y, the output's first 12
// bytes read big-endian (DX holds the top 32 bits). R10, R11 and X0 are
// clobbered.
#define PRF96(x) \
	MOVQ R8, R10; \
	XORQ R9, R10; \
	XORQ x, R10; \
	BSWAPQ R10; \
	MOVO X2, X0; \
	PINSRQ $1, R10, X0; \
	AESBLOCK; \
	MOVQ X0, AX; \
	PEXTRQ $1, X0, R11; \
	BSWAPQ AX; \
	BSWAPQ R11; \
	MOVQ AX, DX; \
	SHRQ $32, DX; \
	SHLQ $32, AX; \
	SHRQ $32, R11; \
	ORQ R11, AX

// MOD96 sets DX = (DX:AX) mod R12 for DX < 2^32 with DIVQ; a modulus
// below 2^32 first reduces DX, so the quotient always fits. R11 is
// clobbered.
#define MOD96 \
	CMPQ R12, $0xffffffff; \
	JA mod96big; \
	MOVQ AX, R11; \
	MOVQ DX, AX; \
	XORQ DX, DX; \
	DIVQ R12; \
	MOVQ R11, AX; \
mod96big: \
	DIVQ R12

// SETUP loads the arguments shared by ff1Enc64 and ff1Dec64 and folds
// round key 0 into the block's constant words.
#define SETUP \
	MOVQ xk+0(FP), BX; \
	MOVQ st0+16(FP), X2; \
	MOVUPS 0(BX), X1; \
	PXOR X1, X2; \
	MOVQ 8(BX), AX; \
	BSWAPQ AX; \
	MOVQ st1+24(FP), R8; \
	XORQ AX, R8; \
	MOVQ a+48(FP), SI; \
	MOVQ b+56(FP), DI

// func encryptRegs(xk *[240]byte, nr int, lo, hi uint64) (olo, ohi uint64)
//
// encryptRegs encrypts the block whose bytes 0-7 are lo and bytes 8-15 hi,
// both little-endian, with nr = 10 or 14 rounds, and returns the
// ciphertext the same way. The block never goes through memory: FF1's
// rounds build it from registers, and a 16-byte load of two fresh 8-byte
// stores cannot be forwarded and stalls.
TEXT ·encryptRegs(SB), NOSPLIT, $0-48
	MOVQ xk+0(FP), AX
	MOVQ nr+8(FP), CX
	MOVQ lo+16(FP), X0
	MOVQ hi+24(FP), X1
	PUNPCKLQDQ X1, X0
	MOVUPS 0(AX), X1
	PXOR X1, X0
	CMPQ CX, $10
	JE last10
	MOVUPS 16(AX), X1
	AESENC X1, X0
	MOVUPS 32(AX), X1
	AESENC X1, X0
	MOVUPS 48(AX), X1
	AESENC X1, X0
	MOVUPS 64(AX), X1
	AESENC X1, X0
	ADDQ $64, AX
last10:
	MOVUPS 16(AX), X1
	AESENC X1, X0
	MOVUPS 32(AX), X1
	AESENC X1, X0
	MOVUPS 48(AX), X1
	AESENC X1, X0
	MOVUPS 64(AX), X1
	AESENC X1, X0
	MOVUPS 80(AX), X1
	AESENC X1, X0
	MOVUPS 96(AX), X1
	AESENC X1, X0
	MOVUPS 112(AX), X1
	AESENC X1, X0
	MOVUPS 128(AX), X1
	AESENC X1, X0
	MOVUPS 144(AX), X1
	AESENC X1, X0
	MOVUPS 160(AX), X1
	AESENCLAST X1, X0
	MOVQ X0, olo+32(FP)
	PSHUFD $0xee, X0, X0
	MOVQ X0, ohi+40(FP)
	PXOR X1, X1
	RET

// The rounds reduce y with one Barrett step: q = ⌊y·recip/2^64⌋ with
// recip = ⌊(2^64-1)/m⌋ is ⌊y/m⌋ or one less (TestBarrettOneSubtraction),
// so y - q·m is in [0, 2m). Adding (or subtracting) the other half in the
// same step leaves a value in [0, 3m) (or (-2m, m)), brought into [0, m)
// by two conditional moves instead of two dependent conditional
// subtractions: the ten rounds are one chain of dependent instructions,
// and its length is FF1's time.

// func ff1Enc64(xk *[240]byte, nr int, st0, st1, step, end, a, b, mu, ru, mv, rv uint64) (ra, rb uint64)
//
// ff1Enc64 is the ten encryption rounds of FF1.rounds64 with the block in
// registers: st0 is the block's first word byte-reversed, st1 its second
// word big-endian before [i] and B are XORed in, step = 1 << 8b where [i]
// goes, end = 10·step; mu/ru and mv/rv are the moduli of the even and odd
// rounds with their reciprocals.
TEXT ·ff1Enc64(SB), NOSPLIT, $0-112
	SETUP
	MOVQ mu+64(FP), R12
	NEGQ R12
	MOVQ ru+72(FP), R13
	MOVQ mv+80(FP), CX
	NEGQ CX
	MOVQ rv+88(FP), R14
	XORQ R9, R9

encLoop:
	PRF(DI)
	// A, B = B, (A + y) mod m with R12 = -m
	LEAQ (SI)(AX*1), R11
	MULQ R13
	IMULQ R12, DX
	ADDQ DX, R11
	LEAQ (R11)(R12*1), R10
	LEAQ (R11)(R12*2), AX
	TESTQ R10, R10
	CMOVQGE R10, R11
	TESTQ AX, AX
	CMOVQGE AX, R11
	MOVQ DI, SI
	MOVQ R11, DI
	XCHGQ R12, CX
	XCHGQ R13, R14
	ADDQ step+32(FP), R9
	CMPQ R9, end+40(FP)
	JNE encLoop

	MOVQ SI, ra+96(FP)
	MOVQ DI, rb+104(FP)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	RET

// func ff1Dec64(xk *[240]byte, nr int, st0, st1, step, start, a, b, mu, ru, mv, rv uint64) (ra, rb uint64)
//
// ff1Dec64 is ff1Enc64's inverse: start = 9·step, the position of the
// first round's [i].
TEXT ·ff1Dec64(SB), NOSPLIT, $0-112
	SETUP
	MOVQ start+40(FP), R9
	MOVQ mv+80(FP), R12
	MOVQ rv+88(FP), R13
	MOVQ mu+64(FP), CX
	MOVQ ru+72(FP), R14

decLoop:
	PRF(SI)
	// A, B = (B - y) mod m, A
	MOVQ DI, R10
	SUBQ AX, R10
	MULQ R13
	IMULQ R12, DX
	ADDQ DX, R10
	LEAQ (R10)(R12*2), AX
	LEAQ (R10)(R12*1), DX
	TESTQ DX, DX
	CMOVQGE DX, AX
	TESTQ R10, R10
	CMOVQGE R10, AX
	MOVQ SI, DI
	MOVQ AX, SI
	XCHGQ R12, CX
	XCHGQ R13, R14
	SUBQ step+32(FP), R9
	JGE decLoop

	MOVQ SI, ra+96(FP)
	MOVQ DI, rb+104(FP)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	RET

// func ff1Enc96(xk *[240]byte, nr int, st0, st1, step, end, a, b, mu, mv uint64) (ra, rb uint64)
//
// ff1Enc96 is ff1Enc64 for FF1.rounds96 (d = 12, moduli below 2^56):
// y is 96 bits, reduced with DIVQ as rounds96 does with bits.Div64.
TEXT ·ff1Enc96(SB), NOSPLIT, $0-96
	SETUP
	MOVQ mu+64(FP), R12
	MOVQ mv+72(FP), CX
	XORQ R9, R9

enc96Loop:
	PRF96(DI)
	MOD96
	// A, B = B, (A + y) mod m; A + y < 2m < 2^57
	LEAQ (SI)(DX*1), R11
	MOVQ R11, R10
	SUBQ R12, R10
	CMOVQCC R10, R11
	MOVQ DI, SI
	MOVQ R11, DI
	XCHGQ R12, CX
	ADDQ step+32(FP), R9
	CMPQ R9, end+40(FP)
	JNE enc96Loop

	MOVQ SI, ra+80(FP)
	MOVQ DI, rb+88(FP)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	RET

// func ff1Dec96(xk *[240]byte, nr int, st0, st1, step, start, a, b, mu, mv uint64) (ra, rb uint64)
TEXT ·ff1Dec96(SB), NOSPLIT, $0-96
	SETUP
	MOVQ start+40(FP), R9
	MOVQ mv+72(FP), R12
	MOVQ mu+64(FP), CX

dec96Loop:
	PRF96(SI)
	MOD96
	// A, B = (B - y) mod m, A
	MOVQ DI, R10
	SUBQ DX, R10
	SBBQ AX, AX
	ANDQ R12, AX
	ADDQ AX, R10
	MOVQ SI, DI
	MOVQ R10, SI
	XCHGQ R12, CX
	SUBQ step+32(FP), R9
	JGE dec96Loop

	MOVQ SI, ra+80(FP)
	MOVQ DI, rb+88(FP)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	RET
