#include "textflag.h"

// AVX2 accurate integer IDCT, bit-exact with idctGo (and so with
// libjpeg-turbo's jsimd_idct_islow_avx2). Layout: one XMM register holds one
// row of eight int16 values; each 1-D pass works on eight columns at once,
// widening to int32 lanes (YMM) through VPMADDWD on interleaved pairs, so the
// products and sums are exactly the 32-bit ones of the reference. Between
// passes the 8x8 int16 matrix is transposed in registers.

// Pairs for VPMADDWD: (a, b) repeated; x*a + y*b for interleaved (x, y).

#define PAIR(sym, a, b) \
	DATA sym+0x00(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x04(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x08(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x0c(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x10(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x14(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x18(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	DATA sym+0x1c(SB)/4, $(((b)&0xffff)<<16 | ((a)&0xffff)); \
	GLOBL sym(SB), RODATA, $32

PAIR(ctmp3<>, 10703, 4433)            // in2*(F0541+F0765) + in6*F0541
PAIR(ctmp2<>, 4433, -10704)           // in2*F0541 + in6*(F0541-F1847)
PAIR(cz3<>, -6436, 9633)              // z3*(F1175-F1961) + z4*F1175
PAIR(cz4<>, 9633, 6437)               // z3*F1175 + z4*(F1175-F0390)
PAIR(ct0<>, -4927, -7373)             // in7*(F0298-F0899) + in1*(-F0899)
PAIR(ct3<>, -7373, 4926)              // in7*(-F0899) + in1*(F1501-F0899)
PAIR(ct1<>, -4176, -20995)            // in5*(F2053-F2562) + in3*(-F2562)
PAIR(ct2<>, -20995, 4177)             // in5*(-F2562) + in3*(F3072-F2562)

#define DW8(sym, v) \
	DATA sym+0x00(SB)/4, $v; DATA sym+0x04(SB)/4, $v; DATA sym+0x08(SB)/4, $v; DATA sym+0x0c(SB)/4, $v; \
	DATA sym+0x10(SB)/4, $v; DATA sym+0x14(SB)/4, $v; DATA sym+0x18(SB)/4, $v; DATA sym+0x1c(SB)/4, $v; \
	GLOBL sym(SB), RODATA, $32

DW8(round1<>, 1024)
DW8(round2<>, 131072)
DW8(c128<>, 0x80808080)

// OUT(a, b, op, round, shift, off): ws[off] = sat16((a op b + round) >> shift)
#define OUT(a, b, op, round, shift, off) \
	op b, a, Y13; \
	VPADDD round, Y13, Y13; \
	VPSRAD $shift, Y13, Y13; \
	VEXTRACTI128 $1, Y13, X14; \
	VPACKSSDW X14, X13, X13; \
	VMOVDQU X13, off(R8)

// IDCT1D: inputs X0..X7 (rows of int16), outputs 8 rows at 0..112(R8).
#define IDCT1D(round, shift) \
	VPADDW X4, X0, X8; \
	VPSUBW X4, X0, X9; \
	VPMOVSXWD X8, Y8; \
	VPSLLD $13, Y8, Y8; \
	VPMOVSXWD X9, Y9; \
	VPSLLD $13, Y9, Y9; \
	VPUNPCKLWD X6, X2, X10; \
	VPUNPCKHWD X6, X2, X11; \
	VINSERTI128 $1, X11, Y10, Y10; \
	VPMADDWD ctmp3<>(SB), Y10, Y11; \
	VPMADDWD ctmp2<>(SB), Y10, Y10; \
	VPADDD Y11, Y8, Y12; \
	VPSUBD Y11, Y8, Y8; \
	VPADDD Y10, Y9, Y11; \
	VPSUBD Y10, Y9, Y9; \
	VPADDW X3, X7, X0; \
	VPADDW X1, X5, X2; \
	VPUNPCKLWD X2, X0, X4; \
	VPUNPCKHWD X2, X0, X6; \
	VINSERTI128 $1, X6, Y4, Y4; \
	VPMADDWD cz3<>(SB), Y4, Y0; \
	VPMADDWD cz4<>(SB), Y4, Y2; \
	VPUNPCKLWD X1, X7, X4; \
	VPUNPCKHWD X1, X7, X6; \
	VINSERTI128 $1, X6, Y4, Y4; \
	VPUNPCKLWD X3, X5, X6; \
	VPUNPCKHWD X3, X5, X7; \
	VINSERTI128 $1, X7, Y6, Y6; \
	VPMADDWD ct0<>(SB), Y4, Y1; \
	VPADDD Y0, Y1, Y1; \
	VPMADDWD ct3<>(SB), Y4, Y4; \
	VPADDD Y2, Y4, Y4; \
	VPMADDWD ct1<>(SB), Y6, Y3; \
	VPADDD Y2, Y3, Y3; \
	VPMADDWD ct2<>(SB), Y6, Y6; \
	VPADDD Y0, Y6, Y6; \
	OUT(Y12, Y4, VPADDD, round, shift, 0); \
	OUT(Y12, Y4, VPSUBD, round, shift, 112); \
	OUT(Y11, Y6, VPADDD, round, shift, 16); \
	OUT(Y11, Y6, VPSUBD, round, shift, 96); \
	OUT(Y9, Y3, VPADDD, round, shift, 32); \
	OUT(Y9, Y3, VPSUBD, round, shift, 80); \
	OUT(Y8, Y1, VPADDD, round, shift, 48); \
	OUT(Y8, Y1, VPSUBD, round, shift, 64)

// LOADT: load 8 rows from 0..112(R8) and transpose into X0..X7.
#define LOADT \
	VMOVDQU 0(R8), X0; \
	VMOVDQU 16(R8), X1; \
	VMOVDQU 32(R8), X2; \
	VMOVDQU 48(R8), X3; \
	VMOVDQU 64(R8), X4; \
	VMOVDQU 80(R8), X5; \
	VMOVDQU 96(R8), X6; \
	VMOVDQU 112(R8), X7; \
	TRANSPOSE

#define TRANSPOSE \
	VPUNPCKLWD X1, X0, X8; \
	VPUNPCKHWD X1, X0, X9; \
	VPUNPCKLWD X3, X2, X10; \
	VPUNPCKHWD X3, X2, X11; \
	VPUNPCKLWD X5, X4, X12; \
	VPUNPCKHWD X5, X4, X13; \
	VPUNPCKLWD X7, X6, X14; \
	VPUNPCKHWD X7, X6, X15; \
	VPUNPCKLDQ X10, X8, X0; \
	VPUNPCKHDQ X10, X8, X1; \
	VPUNPCKLDQ X11, X9, X2; \
	VPUNPCKHDQ X11, X9, X3; \
	VPUNPCKLDQ X14, X12, X4; \
	VPUNPCKHDQ X14, X12, X5; \
	VPUNPCKLDQ X15, X13, X6; \
	VPUNPCKHDQ X15, X13, X7; \
	VPUNPCKLQDQ X4, X0, X8; \
	VPUNPCKHQDQ X4, X0, X9; \
	VPUNPCKLQDQ X5, X1, X10; \
	VPUNPCKHQDQ X5, X1, X11; \
	VPUNPCKLQDQ X6, X2, X12; \
	VPUNPCKHQDQ X6, X2, X13; \
	VPUNPCKLQDQ X7, X3, X14; \
	VPUNPCKHQDQ X7, X3, X15; \
	VMOVDQA X8, X0; \
	VMOVDQA X9, X1; \
	VMOVDQA X10, X2; \
	VMOVDQA X11, X3; \
	VMOVDQA X12, X4; \
	VMOVDQA X13, X5; \
	VMOVDQA X14, X6; \
	VMOVDQA X15, X7

// func idctAVX2(coef *[64]int16, q *[64]int16, dst *uint8, stride int)
TEXT ·idctAVX2(SB), NOSPLIT, $128-32
	MOVQ coef+0(FP), SI
	MOVQ q+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ stride+24(FP), BX
	MOVQ SP, R8

	VMOVDQU 0(SI), X0
	VPMULLW 0(DX), X0, X0

	// Rows 1..7 of the coefficients all zero: pass 1 is a 16-bit shift.
	VMOVDQU 16(SI), X8
	VPOR 32(SI), X8, X8
	VPOR 48(SI), X8, X8
	VPOR 64(SI), X8, X8
	VPOR 80(SI), X8, X8
	VPOR 96(SI), X8, X8
	VPOR 112(SI), X8, X8
	VPTEST X8, X8
	JNZ full
	VPSLLW $2, X0, X0
	VMOVDQA X0, X1
	VMOVDQA X0, X2
	VMOVDQA X0, X3
	VMOVDQA X0, X4
	VMOVDQA X0, X5
	VMOVDQA X0, X6
	VMOVDQA X0, X7
	TRANSPOSE
	JMP pass2

full:
	VMOVDQU 16(SI), X1
	VPMULLW 16(DX), X1, X1
	VMOVDQU 32(SI), X2
	VPMULLW 32(DX), X2, X2
	VMOVDQU 48(SI), X3
	VPMULLW 48(DX), X3, X3
	VMOVDQU 64(SI), X4
	VPMULLW 64(DX), X4, X4
	VMOVDQU 80(SI), X5
	VPMULLW 80(DX), X5, X5
	VMOVDQU 96(SI), X6
	VPMULLW 96(DX), X6, X6
	VMOVDQU 112(SI), X7
	VPMULLW 112(DX), X7, X7
	IDCT1D(round1<>(SB), 11)
	LOADT

pass2:
	IDCT1D(round2<>(SB), 18)
	LOADT

	VMOVDQU c128<>(SB), X15
	VPACKSSWB X1, X0, X8
	VPACKSSWB X3, X2, X9
	VPACKSSWB X5, X4, X10
	VPACKSSWB X7, X6, X11
	VPADDB X15, X8, X8
	VPADDB X15, X9, X9
	VPADDB X15, X10, X10
	VPADDB X15, X11, X11
	MOVQ X8, (DI)
	VPEXTRQ $1, X8, (DI)(BX*1)
	LEAQ (DI)(BX*2), DI
	MOVQ X9, (DI)
	VPEXTRQ $1, X9, (DI)(BX*1)
	LEAQ (DI)(BX*2), DI
	MOVQ X10, (DI)
	VPEXTRQ $1, X10, (DI)(BX*1)
	LEAQ (DI)(BX*2), DI
	MOVQ X11, (DI)
	VPEXTRQ $1, X11, (DI)(BX*1)
	VZEROUPPER
	RET
