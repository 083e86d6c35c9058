//go:build amd64 && !purego

#include "textflag.h"

// func rotateAVX512(out, x, cos, sin *float32, T, H, Dh, half int, inverse bool)
//
// Registers: DI out row, SI x row, R8 cos row, R9 sin row, R10 tokens left, R11 H,
// R12 Dh·4 (row stride in bytes), R13 half·4, BX heads left, CX i (bytes), DX x + half.
TEXT ·rotateAVX512(SB), NOSPLIT, $0-65
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ cos+16(FP), R8
	MOVQ sin+24(FP), R9
	MOVQ T+32(FP), R10
	MOVQ H+40(FP), R11
	MOVQ Dh+48(FP), R12
	SHLQ $2, R12
	MOVQ half+56(FP), R13
	SHLQ $2, R13
	MOVBLZX inverse+64(FP), AX
	TESTQ R10, R10
	JEQ done
	TESTQ AX, AX
	JNE inv

fwd_token:
	MOVQ R11, BX
fwd_head:
	XORQ CX, CX
	LEAQ (SI)(R13*1), DX
	LEAQ (DI)(R13*1), AX
fwd_loop:
	VMOVUPS (R8)(CX*1), Z0        // c
	VMOVUPS (R9)(CX*1), Z1        // s
	VMOVUPS (SI)(CX*1), Z2        // a = x[i]
	VMOVUPS (DX)(CX*1), Z3        // b = x[i+half]
	VMULPS Z0, Z2, Z4             // a·c
	VMULPS Z1, Z3, Z5             // b·s
	VMULPS Z0, Z3, Z6             // b·c
	VMULPS Z1, Z2, Z7             // a·s
	VSUBPS Z5, Z4, Z4             // a·c − b·s
	VADDPS Z7, Z6, Z6             // b·c + a·s
	VMOVUPS Z4, (DI)(CX*1)
	VMOVUPS Z6, (AX)(CX*1)
	ADDQ $64, CX
	CMPQ CX, R13
	JLT fwd_loop
	ADDQ R12, SI
	ADDQ R12, DI
	DECQ BX
	JNE fwd_head
	ADDQ R13, R8
	ADDQ R13, R9
	DECQ R10
	JNE fwd_token
	JMP done

inv:
inv_token:
	MOVQ R11, BX
inv_head:
	XORQ CX, CX
	LEAQ (SI)(R13*1), DX
	LEAQ (DI)(R13*1), AX
inv_loop:
	VMOVUPS (R8)(CX*1), Z0
	VMOVUPS (R9)(CX*1), Z1
	VMOVUPS (SI)(CX*1), Z2
	VMOVUPS (DX)(CX*1), Z3
	VMULPS Z0, Z2, Z4             // a·c
	VMULPS Z1, Z3, Z5             // b·s
	VMULPS Z0, Z3, Z6             // b·c
	VMULPS Z1, Z2, Z7             // a·s
	VADDPS Z5, Z4, Z4             // a·c + b·s
	VSUBPS Z7, Z6, Z6             // b·c − a·s
	VMOVUPS Z4, (DI)(CX*1)
	VMOVUPS Z6, (AX)(CX*1)
	ADDQ $64, CX
	CMPQ CX, R13
	JLT inv_loop
	ADDQ R12, SI
	ADDQ R12, DI
	DECQ BX
	JNE inv_head
	ADDQ R13, R8
	ADDQ R13, R9
	DECQ R10
	JNE inv_token

done:
	VZEROUPPER
	RET
