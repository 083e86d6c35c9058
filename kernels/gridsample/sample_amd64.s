//go:build amd64 && !purego

#include "textflag.h"

// func sampleAVX512(out *float32, rows *[16]*float32, w *[8]float32, n16 int)
//
// Per 16 channels at byte offset CX:
//	r_i = fma(x0, T[i][0], x1·T[i][1]) + x2·T[i][2] + x3·T[i][3]         (i = 0..3)
//	out = fma(y3, r3, fma(y2, r2, fma(y1, r1, y0·r0)))
// Z16..Z19 = wx, Z20..Z23 = wy (broadcast); Z4..Z7 = r_i; Z0, Z1 scratch.
#define ROW(o0, o1, o2, o3, ri) \
	MOVQ o0(SI), R8; \
	MOVQ o1(SI), R9; \
	MOVQ o2(SI), R10; \
	MOVQ o3(SI), R11; \
	VMULPS (R9)(CX*1), Z17, ri; \
	VFMADD231PS (R8)(CX*1), Z16, ri; \
	VMULPS (R10)(CX*1), Z18, Z0; \
	VADDPS Z0, ri, ri; \
	VMULPS (R11)(CX*1), Z19, Z1; \
	VADDPS Z1, ri, ri

TEXT ·sampleAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ rows+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n16+24(FP), BX
	VBROADCASTSS 0(DX), Z16
	VBROADCASTSS 4(DX), Z17
	VBROADCASTSS 8(DX), Z18
	VBROADCASTSS 12(DX), Z19
	VBROADCASTSS 16(DX), Z20
	VBROADCASTSS 20(DX), Z21
	VBROADCASTSS 24(DX), Z22
	VBROADCASTSS 28(DX), Z23
	XORQ CX, CX

sloop:
	ROW(0, 8, 16, 24, Z4)
	ROW(32, 40, 48, 56, Z5)
	ROW(64, 72, 80, 88, Z6)
	ROW(96, 104, 112, 120, Z7)
	VMULPS Z4, Z20, Z0             // y0·r0
	VFMADD231PS Z5, Z21, Z0        // + y1·r1 (fused)
	VFMADD231PS Z6, Z22, Z0        // + y2·r2 (fused)
	VFMADD231PS Z7, Z23, Z0        // + y3·r3 (fused)
	VMOVUPS Z0, (DI)(CX*1)
	ADDQ $64, CX
	DECQ BX
	JNE sloop
	VZEROUPPER
	RET

// func scatterAVX512(d, src *float32, wx, wy float32, n16 int)
TEXT ·scatterAVX512(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ src+8(FP), SI
	VBROADCASTSS wx+16(FP), Z2
	VBROADCASTSS wy+20(FP), Z3
	MOVQ n16+24(FP), BX
	XORQ CX, CX

scloop:
	VMULPS (SI)(CX*1), Z2, Z0      // g·wx
	VMULPS Z3, Z0, Z0              // ·wy
	VADDPS (DI)(CX*1), Z0, Z0      // d + …
	VMOVUPS Z0, (DI)(CX*1)
	ADDQ $64, CX
	DECQ BX
	JNE scloop
	VZEROUPPER
	RET
