//go:build amd64 && !purego

#include "textflag.h"

// Dword order that undoes VPACKUSDW/VPACKUSWB's per-lane interleave.
DATA permidx<>+0(SB)/4, $0
DATA permidx<>+4(SB)/4, $4
DATA permidx<>+8(SB)/4, $1
DATA permidx<>+12(SB)/4, $5
DATA permidx<>+16(SB)/4, $2
DATA permidx<>+20(SB)/4, $6
DATA permidx<>+24(SB)/4, $3
DATA permidx<>+28(SB)/4, $7
GLOBL permidx<>(SB), RODATA, $32

// func vpassAVX2(dst, src *uint8, stride, width int, k *int32, n int)
// dst[x] = clip8(2^21 + Σ_j k[j]·src[j·stride + x]) for x in [0, width), width a multiple of 32.
TEXT ·vpassAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), BX
	MOVQ width+24(FP), CX
	MOVQ k+32(FP), R8
	MOVQ n+40(FP), R9
	MOVQ $0x200000, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
	VMOVDQU permidx<>(SB), Y11
	XORQ R10, R10

loopx:
	CMPQ R10, CX
	JGE  done
	VMOVDQA Y14, Y0
	VMOVDQA Y14, Y1
	VMOVDQA Y14, Y2
	VMOVDQA Y14, Y3
	LEAQ (SI)(R10*1), R11
	XORQ R12, R12

loopk:
	VPBROADCASTD (R8)(R12*4), Y15
	VPMOVZXBD (R11), Y4
	VPMOVZXBD 8(R11), Y5
	VPMOVZXBD 16(R11), Y6
	VPMOVZXBD 24(R11), Y7
	VPMULLD Y15, Y4, Y4
	VPMULLD Y15, Y5, Y5
	VPMULLD Y15, Y6, Y6
	VPMULLD Y15, Y7, Y7
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	VPADDD Y6, Y2, Y2
	VPADDD Y7, Y3, Y3
	ADDQ BX, R11
	INCQ R12
	CMPQ R12, R9
	JLT  loopk

	VPSRAD $22, Y0, Y0
	VPSRAD $22, Y1, Y1
	VPSRAD $22, Y2, Y2
	VPSRAD $22, Y3, Y3
	VPACKUSDW Y1, Y0, Y0 // negatives saturate to 0
	VPACKUSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0 // > 255 saturates to 255
	VPERMD Y0, Y11, Y0
	VMOVDQU Y0, (DI)(R10*1)
	ADDQ $32, R10
	JMP  loopx

done:
	VZEROUPPER
	RET

// func scatterAVX2(dst, src *uint8, off *int, n, ps int)
// For i in [0, n): copies ps bytes (8 ≤ ps ≤ 16) from src + i·ps to dst + off[i], as two
// overlapping 8-byte moves.
TEXT ·scatterAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ off+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ ps+32(FP), DX
	LEAQ -8(DX), R9 // ps - 8

scatter:
	TESTQ CX, CX
	JZ    scatterdone
	MOVQ (R8), AX
	ADDQ DI, AX
	MOVQ (SI), R10
	MOVQ (SI)(R9*1), R11
	MOVQ R10, (AX)
	MOVQ R11, (AX)(R9*1)
	ADDQ DX, SI
	ADDQ $8, R8
	DECQ CX
	JMP  scatter

scatterdone:
	RET
