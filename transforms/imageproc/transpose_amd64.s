//go:build amd64 && !purego

#include "textflag.h"

// One unpack stage of the 16×16 byte transpose: B[2i] = interleave-low(A[i], A[i+4]),
// B[2i+1] = interleave-high(A[i], A[i+4]), per 128-bit lane.
#define STAGE(a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7) \
	VPUNPCKLBW a4, a0, b0; \
	VPUNPCKHBW a4, a0, b1; \
	VPUNPCKLBW a5, a1, b2; \
	VPUNPCKHBW a5, a1, b3; \
	VPUNPCKLBW a6, a2, b4; \
	VPUNPCKHBW a6, a2, b5; \
	VPUNPCKLBW a7, a3, b6; \
	VPUNPCKHBW a7, a3, b7

// func transpose16AVX2(dst *uint8, dstStride int, src *uint8, srcStride int, tiles int)
// For t in [0, tiles): the 16×16 byte tile at src + 16t (rows srcStride apart) is written
// transposed at dst + 16t·dstStride (rows dstStride apart).
//
// Register k of bank A holds source row k in its low lane and row k+8 in its high lane. Each
// stage rotates the 7-bit (in-lane register, byte) address left by one bit, so after three
// stages register k holds, per lane, column 2k then column 2k+1 (8 rows each, the lane giving
// the upper row bit); VPERMQ 0xD8 makes the low lane column 2k and the high lane column 2k+1.
TEXT ·transpose16AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), BX
	MOVQ tiles+32(FP), CX
	MOVQ DX, R9
	SHLQ $4, R9 // 16·dstStride: dst advance per tile
	LEAQ (BX)(BX*2), R10 // 3·srcStride
	LEAQ (DX)(DX*2), R11 // 3·dstStride

loop:
	TESTQ CX, CX
	JZ    done
	// Rows 0..7 into the low lanes, 8..15 into the high lanes.
	MOVQ SI, AX
	LEAQ (SI)(BX*8), R8
	VMOVDQU (AX), X0
	VINSERTI128 $1, (R8), Y0, Y0
	VMOVDQU (AX)(BX*1), X1
	VINSERTI128 $1, (R8)(BX*1), Y1, Y1
	VMOVDQU (AX)(BX*2), X2
	VINSERTI128 $1, (R8)(BX*2), Y2, Y2
	VMOVDQU (AX)(R10*1), X3
	VINSERTI128 $1, (R8)(R10*1), Y3, Y3
	LEAQ (AX)(BX*4), AX
	LEAQ (R8)(BX*4), R8
	VMOVDQU (AX), X4
	VINSERTI128 $1, (R8), Y4, Y4
	VMOVDQU (AX)(BX*1), X5
	VINSERTI128 $1, (R8)(BX*1), Y5, Y5
	VMOVDQU (AX)(BX*2), X6
	VINSERTI128 $1, (R8)(BX*2), Y6, Y6
	VMOVDQU (AX)(R10*1), X7
	VINSERTI128 $1, (R8)(R10*1), Y7, Y7

	STAGE(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	STAGE(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	STAGE(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

	VPERMQ $0xD8, Y8, Y8
	VPERMQ $0xD8, Y9, Y9
	VPERMQ $0xD8, Y10, Y10
	VPERMQ $0xD8, Y11, Y11
	VPERMQ $0xD8, Y12, Y12
	VPERMQ $0xD8, Y13, Y13
	VPERMQ $0xD8, Y14, Y14
	VPERMQ $0xD8, Y15, Y15

	// Register k holds output rows 2k (low lane) and 2k+1 (high lane).
	MOVQ DI, AX
	VMOVDQU X8, (AX)
	VEXTRACTI128 $1, Y8, (AX)(DX*1)
	VMOVDQU X9, (AX)(DX*2)
	VEXTRACTI128 $1, Y9, (AX)(R11*1)
	LEAQ (AX)(DX*4), AX
	VMOVDQU X10, (AX)
	VEXTRACTI128 $1, Y10, (AX)(DX*1)
	VMOVDQU X11, (AX)(DX*2)
	VEXTRACTI128 $1, Y11, (AX)(R11*1)
	LEAQ (AX)(DX*4), AX
	VMOVDQU X12, (AX)
	VEXTRACTI128 $1, Y12, (AX)(DX*1)
	VMOVDQU X13, (AX)(DX*2)
	VEXTRACTI128 $1, Y13, (AX)(R11*1)
	LEAQ (AX)(DX*4), AX
	VMOVDQU X14, (AX)
	VEXTRACTI128 $1, Y14, (AX)(DX*1)
	VMOVDQU X15, (AX)(DX*2)
	VEXTRACTI128 $1, Y15, (AX)(R11*1)

	ADDQ $16, SI
	ADDQ R9, DI
	DECQ CX
	JMP  loop

done:
	VZEROUPPER
	RET
