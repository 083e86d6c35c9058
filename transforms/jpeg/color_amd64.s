#include "textflag.h"

// AVX2 chroma upsampling and YCbCr→RGB, bit-exact with the Go code in color.go (and so
// with libjpeg-turbo's jdsample.c fancy upsampling and jdcolor.c tables).

#define W16(sym, v) \
	DATA sym+0x00(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x04(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x08(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x0c(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x10(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x14(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x18(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	DATA sym+0x1c(SB)/4, $(((v)&0xffff)<<16 | ((v)&0xffff)); \
	GLOBL sym(SB), RODATA, $32

W16(w128<>, 128)
W16(wcrr<>, 26345)  // FIX(1.40200) − 65536
W16(wcbb<>, -14942) // FIX(1.77200) − 131072
DATA gpair<>+0x00(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x04(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x08(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x0c(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x10(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x14(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x18(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
DATA gpair<>+0x1c(SB)/4, $((18734&0xffff)<<16 | (-22554&0xffff))
GLOBL gpair<>(SB), RODATA, $32

#define D8(sym, v) \
	DATA sym+0x00(SB)/4, $v; DATA sym+0x04(SB)/4, $v; DATA sym+0x08(SB)/4, $v; DATA sym+0x0c(SB)/4, $v; \
	DATA sym+0x10(SB)/4, $v; DATA sym+0x14(SB)/4, $v; DATA sym+0x18(SB)/4, $v; DATA sym+0x1c(SB)/4, $v; \
	GLOBL sym(SB), RODATA, $32

D8(d32768<>, 32768)

// Byte shuffles that interleave [R0..R7 G0..G7] (a) and [B0..B7 ...] (b) into R G B triples,
// per 128-bit lane: out[0:16] = shuf(a, m0) | shuf(b, m1); out[16:24] = shuf(a, m2) | shuf(b, m3).
#define Q2(sym, off, lo, hi) DATA sym+off(SB)/8, $lo; DATA sym+(off+8)(SB)/8, $hi
#define MASK(sym, lo, hi) Q2(sym, 0, lo, hi); Q2(sym, 16, lo, hi); GLOBL sym(SB), RODATA, $32
// bytes: 0,8,X,1,9,X,2,10 | X,3,11,X,4,12,X,5
MASK(shm0<>, 0x0a02800901800800, 0x05800c04800b0380)
// bytes: X,X,0,X,X,1,X,X | 2,X,X,3,X,X,4,X
MASK(shm1<>, 0x8080018080008080, 0x8004808003808002)
// bytes: 13,X,6,14,X,7,15,X | X*8
MASK(shm2<>, 0x800f07800e06800d, 0x8080808080808080)
// bytes: X,5,X,X,6,X,X,7 | X*8
MASK(shm3<>, 0x0780800680800580, 0x8080808080808080)

// MULROUND(x, c, t, dst): dst = (x·c + 32768) >> 16 for int16 lanes (hi + carry of lo).
#define MULROUND(x, c, t, dst) \
	VPMULLW c, x, t; \
	VPMULHW c, x, dst; \
	VPSRLW $15, t, t; \
	VPADDW t, dst, dst

// func yccRGBAVX2(out, y, cb, cr *uint8, n int)
// Converts n pixels (n a multiple of 16) to interleaved RGB.
TEXT ·yccRGBAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ cb+16(FP), R8
	MOVQ cr+24(FP), R9
	MOVQ n+32(FP), CX
	VMOVDQU w128<>(SB), Y15
	VMOVDQU wcrr<>(SB), Y14
	VMOVDQU wcbb<>(SB), Y13
	VMOVDQU gpair<>(SB), Y12
	VMOVDQU d32768<>(SB), Y11

ycc:
	CMPQ CX, $16
	JLT  yccdone
	VPMOVZXBW (SI), Y0 // Y
	VPMOVZXBW (R8), Y1 // Cb
	VPMOVZXBW (R9), Y2 // Cr
	VPSUBW Y15, Y1, Y1
	VPSUBW Y15, Y2, Y2

	// R = Y + Cr + ((26345·Cr + 32768) >> 16)
	MULROUND(Y2, Y14, Y4, Y3)
	VPADDW Y2, Y3, Y3
	VPADDW Y0, Y3, Y3
	// B = Y + 2·Cb + ((−14942·Cb + 32768) >> 16)
	MULROUND(Y1, Y13, Y5, Y4)
	VPADDW Y1, Y4, Y4
	VPADDW Y1, Y4, Y4
	VPADDW Y0, Y4, Y4
	// G = Y − Cr + ((−22554·Cb + 18734·Cr + 32768) >> 16)
	VPUNPCKLWD Y2, Y1, Y5
	VPUNPCKHWD Y2, Y1, Y6
	VPMADDWD Y12, Y5, Y5
	VPMADDWD Y12, Y6, Y6
	VPADDD Y11, Y5, Y5
	VPADDD Y11, Y6, Y6
	VPSRAD $16, Y5, Y5
	VPSRAD $16, Y6, Y6
	VPACKSSDW Y6, Y5, Y5
	VPSUBW Y2, Y5, Y5
	VPADDW Y0, Y5, Y5

	VPACKUSWB Y5, Y3, Y6 // per lane: R0..7 G0..7
	VPACKUSWB Y4, Y4, Y7 // per lane: B0..7 B0..7
	VPSHUFB shm0<>(SB), Y6, Y8
	VPSHUFB shm1<>(SB), Y7, Y9
	VPOR Y9, Y8, Y8
	VPSHUFB shm2<>(SB), Y6, Y9
	VPSHUFB shm3<>(SB), Y7, Y10
	VPOR Y10, Y9, Y9
	VMOVDQU X8, (DI)
	MOVQ X9, 16(DI)
	VEXTRACTI128 $1, Y8, 24(DI)
	VEXTRACTI128 $1, Y9, X9
	MOVQ X9, 40(DI)

	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $48, DI
	SUBQ $16, CX
	JMP  ycc

yccdone:
	VZEROUPPER
	RET

// func colsumAVX2(cs *int16, near, far *uint8, n int)
// cs[x] = 3·near[x] + far[x] for x < n rounded up to 16 (reads and writes up to 15 past n).
TEXT ·colsumAVX2(SB), NOSPLIT, $0-32
	MOVQ cs+0(FP), DI
	MOVQ near+8(FP), SI
	MOVQ far+16(FP), R8
	MOVQ n+24(FP), CX

colsum:
	TESTQ CX, CX
	JLE   colsumdone
	VPMOVZXBW (SI), Y0
	VPMOVZXBW (R8), Y1
	VPADDW Y0, Y1, Y1
	VPADDW Y0, Y0, Y0
	VPADDW Y0, Y1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $32, DI
	SUBQ $16, CX
	JMP  colsum

colsumdone:
	VZEROUPPER
	RET

// func upH2AVX2(dst *uint8, cs *int16, n int, r0, r1 int)
// cs points at a column-sum row with one replicated sample on each side (cs[0] = left pad,
// cs[1..n] the samples, cs[n+1] = right pad). For i < n rounded up to 16:
// dst[2i] = (3·cs[i+1] + cs[i] + r0) >> 4, dst[2i+1] = (3·cs[i+1] + cs[i+2] + r1) >> 4.
TEXT ·upH2AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ cs+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ r0+24(FP), AX
	MOVQ r1+32(FP), BX
	MOVQ AX, X14
	VPBROADCASTW X14, Y14
	MOVQ BX, X15
	VPBROADCASTW X15, Y15

up:
	TESTQ CX, CX
	JLE   updone
	VMOVDQU (SI), Y0   // left
	VMOVDQU 2(SI), Y1  // centre
	VMOVDQU 4(SI), Y2  // right
	VPADDW Y1, Y1, Y3
	VPADDW Y1, Y3, Y3  // 3·centre
	VPADDW Y3, Y0, Y0
	VPADDW Y14, Y0, Y0
	VPSRLW $4, Y0, Y0  // even outputs
	VPADDW Y3, Y2, Y2
	VPADDW Y15, Y2, Y2
	VPSRLW $4, Y2, Y2  // odd outputs
	VPUNPCKLWD Y2, Y0, Y4
	VPUNPCKHWD Y2, Y0, Y5
	VPACKUSWB Y5, Y4, Y4
	VMOVDQU Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JMP  up

updone:
	VZEROUPPER
	RET
