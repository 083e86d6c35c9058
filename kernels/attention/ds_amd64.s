//go:build amd64 && !purego

#include "textflag.h"

// func dsAVX512(p, dp *float32, n int, d float32)
// dp[i] = p[i] * (dp[i] - d) for i < n; 16 lanes, masked tail.
TEXT ·dsAVX512(SB), NOSPLIT, $0-28
	MOVQ         p+0(FP), DI
	MOVQ         dp+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS d+24(FP), Z2

loop:
	CMPQ    CX, $16
	JL      tail
	VMOVUPS (SI), Z1
	VSUBPS  Z2, Z1, Z1
	VMULPS  (DI), Z1, Z1
	VMOVUPS Z1, (SI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop

tail:
	TESTQ     CX, CX
	JZ        done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DI), K1, Z3
	VSUBPS    Z2, Z1, Z1
	VMULPS    Z3, Z1, Z1
	VMOVUPS   Z1, K1, (SI)

done:
	VZEROUPPER
	RET

// func dsAVX2(p, dp *float32, n int, d float32)
// dp[i] = p[i] * (dp[i] - d) for i < n; 8 lanes, scalar tail.
TEXT ·dsAVX2(SB), NOSPLIT, $0-28
	MOVQ         p+0(FP), DI
	MOVQ         dp+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS d+24(FP), Y2

loop:
	CMPQ    CX, $8
	JL      tail
	VMOVUPS (SI), Y1
	VSUBPS  Y2, Y1, Y1
	VMULPS  (DI), Y1, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     loop

tail:
	TESTQ  CX, CX
	JZ     done
	VMOVSS (SI), X1
	VSUBSS X2, X1, X1
	VMULSS (DI), X1, X1
	VMOVSS X1, (SI)
	ADDQ   $4, DI
	ADDQ   $4, SI
	DECQ   CX
	JMP    tail

done:
	VZEROUPPER
	RET
