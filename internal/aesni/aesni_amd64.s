//go:build !purego

#include "textflag.h"

// The AES key schedule of FIPS 197 computed with AESKEYGENASSIST, as in
// Intel's "Advanced Encryption Standard (AES) New Instructions Set"
// white paper (2010), section 4. No step indexes memory with key bytes.

// ASSIST1 finishes one AES-128 step (or the first half of an AES-256
// step): X0 = the previous round key, X1 = AESKEYGENASSIST of the key
// word to rotate; X3 is scratch.
#define ASSIST1 \
	PSHUFD $0xff, X1, X1; \
	MOVO X0, X3; \
	PSLLO $4, X3; \
	PXOR X3, X0; \
	PSLLO $4, X3; \
	PXOR X3, X0; \
	PSLLO $4, X3; \
	PXOR X3, X0; \
	PXOR X1, X0

// ASSIST2 is the second half of an AES-256 step: X2 = the round key two
// back, updated from SubWord (without rotation) of X0's last word.
#define ASSIST2 \
	AESKEYGENASSIST $0x00, X0, X1; \
	PSHUFD $0xaa, X1, X1; \
	MOVO X2, X3; \
	PSLLO $4, X3; \
	PXOR X3, X2; \
	PSLLO $4, X3; \
	PXOR X3, X2; \
	PSLLO $4, X3; \
	PXOR X3, X2; \
	PXOR X1, X2

#define STEP128(rcon, off) \
	AESKEYGENASSIST $rcon, X0, X1; \
	ASSIST1; \
	MOVUPS X0, off(BX)

#define STEP256(rcon, off) \
	AESKEYGENASSIST $rcon, X2, X1; \
	ASSIST1; \
	MOVUPS X0, off(BX); \
	ASSIST2; \
	MOVUPS X2, (off+16)(BX)

// func expandKey128(key *byte, xk *[240]byte)
TEXT ·expandKey128(SB), NOSPLIT, $0-16
	MOVQ key+0(FP), AX
	MOVQ xk+8(FP), BX
	MOVUPS (AX), X0
	MOVUPS X0, 0(BX)
	STEP128(0x01, 16)
	STEP128(0x02, 32)
	STEP128(0x04, 48)
	STEP128(0x08, 64)
	STEP128(0x10, 80)
	STEP128(0x20, 96)
	STEP128(0x40, 112)
	STEP128(0x80, 128)
	STEP128(0x1b, 144)
	STEP128(0x36, 160)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X3, X3
	RET

// func expandKey256(key *byte, xk *[240]byte)
TEXT ·expandKey256(SB), NOSPLIT, $0-16
	MOVQ key+0(FP), AX
	MOVQ xk+8(FP), BX
	MOVUPS 0(AX), X0
	MOVUPS 16(AX), X2
	MOVUPS X0, 0(BX)
	MOVUPS X2, 16(BX)
	STEP256(0x01, 32)
	STEP256(0x02, 64)
	STEP256(0x04, 96)
	STEP256(0x08, 128)
	STEP256(0x10, 160)
	STEP256(0x20, 192)
	AESKEYGENASSIST $0x40, X2, X1
	ASSIST1
	MOVUPS X0, 224(BX)
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	PXOR X3, X3
	RET

// ROUNDS runs rounds 1..nr of the schedule at AX on X0 (already XORed with
// round key 0), CX = nr; X1 is scratch. It ends with X0 the ciphertext.
#define ROUNDS(lbl) \
	MOVQ AX, R9; \
	CMPQ CX, $10; \
	JE lbl; \
	MOVUPS 16(R9), X1; AESENC X1, X0; \
	MOVUPS 32(R9), X1; AESENC X1, X0; \
	MOVUPS 48(R9), X1; AESENC X1, X0; \
	MOVUPS 64(R9), X1; AESENC X1, X0; \
	ADDQ $64, R9; \
lbl: \
	MOVUPS 16(R9), X1; AESENC X1, X0; \
	MOVUPS 32(R9), X1; AESENC X1, X0; \
	MOVUPS 48(R9), X1; AESENC X1, X0; \
	MOVUPS 64(R9), X1; AESENC X1, X0; \
	MOVUPS 80(R9), X1; AESENC X1, X0; \
	MOVUPS 96(R9), X1; AESENC X1, X0; \
	MOVUPS 112(R9), X1; AESENC X1, X0; \
	MOVUPS 128(R9), X1; AESENC X1, X0; \
	MOVUPS 144(R9), X1; AESENC X1, X0; \
	MOVUPS 160(R9), X1; AESENCLAST X1, X0

// ROUNDS2 is ROUNDS on X0 and X2 side by side, X1 scratch.
#define ROUNDS2(lbl) \
	MOVQ AX, R9; \
	CMPQ CX, $10; \
	JE lbl; \
	MOVUPS 16(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 32(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 48(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 64(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	ADDQ $64, R9; \
lbl: \
	MOVUPS 16(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 32(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 48(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 64(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 80(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 96(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 112(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 128(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 144(R9), X1; AESENC X1, X0; AESENC X1, X2; \
	MOVUPS 160(R9), X1; AESENCLAST X1, X0; AESENCLAST X1, X2

// func encryptBlock(xk *[240]byte, nr int, dst, src *[16]byte)
TEXT ·encryptBlock(SB), NOSPLIT, $0-32
	MOVQ xk+0(FP), AX
	MOVQ nr+8(FP), CX
	MOVQ src+24(FP), SI
	MOVUPS (SI), X0
	MOVUPS (AX), X1
	PXOR X1, X0
	ROUNDS(eb10)
	MOVQ dst+16(FP), DI
	MOVUPS X0, (DI)
	PXOR X0, X0
	PXOR X1, X1
	RET

// func cbcMAC(xk *[240]byte, nr int, x *[16]byte, p *byte, n int)
//
// For each of the n 16-byte blocks of p: x = E(x XOR block).
TEXT ·cbcMAC(SB), NOSPLIT, $0-40
	MOVQ xk+0(FP), AX
	MOVQ nr+8(FP), CX
	MOVQ x+16(FP), DX
	MOVQ p+24(FP), SI
	MOVQ n+32(FP), DI
	MOVUPS (DX), X0
	TESTQ DI, DI
	JZ macdone
macloop:
	MOVUPS (SI), X1
	PXOR X1, X0
	MOVUPS (AX), X1
	PXOR X1, X0
	ROUNDS(mac10)
	ADDQ $16, SI
	DECQ DI
	JNZ macloop
macdone:
	MOVUPS X0, (DX)
	PXOR X0, X0
	PXOR X1, X1
	RET

// BLOCKCTR sets reg to the counter block hi || lo (each big-endian) XORed
// with round key 0 at AX; R10, R11 are scratch.
#define BLOCKCTR(reg) \
	MOVQ R12, R10; \
	BSWAPQ R10; \
	MOVQ R13, R11; \
	BSWAPQ R11; \
	MOVQ R10, reg; \
	PINSRQ $1, R11, reg; \
	MOVUPS (AX), X1; \
	PXOR X1, reg

// INCCTR adds one to the 128-bit counter R12:R13.
#define INCCTR \
	ADDQ $1, R13; \
	ADCQ $0, R12

// func ctrBlocks(xk *[240]byte, nr int, hi, lo uint64, dst, src *byte, n int)
//
// XORs n 16-byte blocks of src with the AES-CTR keystream E(hi||lo),
// E(hi||lo + 1), … (a 128-bit big-endian counter) into dst, two blocks at
// a time.
TEXT ·ctrBlocks(SB), NOSPLIT, $0-56
	MOVQ xk+0(FP), AX
	MOVQ nr+8(FP), CX
	MOVQ hi+16(FP), R12
	MOVQ lo+24(FP), R13
	MOVQ dst+32(FP), DI
	MOVQ src+40(FP), SI
	MOVQ n+48(FP), DX
ctrpair:
	CMPQ DX, $2
	JB ctrone
	BLOCKCTR(X0)
	INCCTR
	BLOCKCTR(X2)
	INCCTR
	ROUNDS2(ctr2x10)
	MOVUPS (SI), X1
	PXOR X1, X0
	MOVUPS 16(SI), X1
	PXOR X1, X2
	MOVUPS X0, (DI)
	MOVUPS X2, 16(DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $2, DX
	JMP ctrpair
ctrone:
	TESTQ DX, DX
	JZ ctrdone
	BLOCKCTR(X0)
	ROUNDS(ctr1x10)
	MOVUPS (SI), X1
	PXOR X1, X0
	MOVUPS X0, (DI)
ctrdone:
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	RET

// func cbcMACLast(xk *[240]byte, nr int, x, p, k *[16]byte)
//
// x = E(x XOR p XOR k): CMAC's last block p with its subkey k.
TEXT ·cbcMACLast(SB), NOSPLIT, $0-40
	MOVQ xk+0(FP), AX
	MOVQ nr+8(FP), CX
	MOVQ x+16(FP), DX
	MOVQ p+24(FP), SI
	MOVQ k+32(FP), DI
	MOVUPS (DX), X0
	MOVUPS (SI), X1
	PXOR X1, X0
	MOVUPS (DI), X1
	PXOR X1, X0
	MOVUPS (AX), X1
	PXOR X1, X0
	ROUNDS(last10)
	MOVUPS X0, (DX)
	PXOR X0, X0
	PXOR X1, X1
	RET
