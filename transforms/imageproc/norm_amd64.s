//go:build amd64 && !purego

#include "textflag.h"

// func normPlaneAVX512(dst *float32, src *uint8, n, tp, tstride int, mean, std *float32)
// For i in [0, n): v = (float32(float64(src[i]) · (1/255)) − *mean) / *std, stored at
// dst[t·tstride + i] for t in [0, tp). The same IEEE operations as normLUT, so the same bits.
TEXT ·normPlaneAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ tp+24(FP), R9
	MOVQ tstride+32(FP), R10
	SHLQ $2, R10
	MOVQ mean+40(FP), DX
	MOVQ std+48(FP), R8
	VBROADCASTSS (DX), Z6
	VBROADCASTSS (R8), Z7
	MOVQ $0x3F70101010101010, AX // float64(1/255)
	MOVQ AX, X5
	VBROADCASTSD X5, Z5
	KXNORW K1, K1, K1

chunk:
	TESTQ CX, CX
	JLE done
	CMPQ CX, $16
	JGE full
	// Tail: lanes [0, CX) only.
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1

full:
	VPMOVZXBD (SI), K1, Z0 // masked: reads only the active bytes
	VCVTDQ2PD Y0, Z1
	VEXTRACTI64X4 $1, Z0, Y2
	VCVTDQ2PD Y2, Z2
	VMULPD Z5, Z1, Z1
	VMULPD Z5, Z2, Z2
	VCVTPD2PS Z1, Y1
	VCVTPD2PS Z2, Y2
	VINSERTF32X8 $1, Y2, Z1, Z1
	VSUBPS Z6, Z1, Z1
	VDIVPS Z7, Z1, Z1
	MOVQ DI, BX
	MOVQ R9, R11

copies:
	VMOVUPS Z1, K1, (BX)
	ADDQ R10, BX
	DECQ R11
	JNZ copies

	ADDQ $16, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP chunk

done:
	VZEROUPPER
	RET

// func streamAVX512(dst, src *float32, n int)
// Copies n floats (n a multiple of 8) to a 32-byte aligned dst with non-temporal stores:
// one 32-byte store if dst is not 64-byte aligned, 64-byte stores, then a final 32-byte one
// if needed. The caller issues storeFence after its last call.
TEXT ·streamAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX // 32-byte units
	JZ sdone
	TESTQ $32, DI
	JZ body
	VMOVUPS (SI), Y0
	VMOVNTPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX

body:
	CMPQ CX, $2
	JLT last
	VMOVUPS (SI), Z0
	VMOVNTPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $2, CX
	JMP body

last:
	TESTQ CX, CX
	JZ sdone
	VMOVUPS (SI), Y0
	VMOVNTPS Y0, (DI)

sdone:
	VZEROUPPER
	RET

// func storeFence()
TEXT ·storeFence(SB), NOSPLIT, $0-0
	SFENCE
	RET
