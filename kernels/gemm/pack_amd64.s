//go:build amd64 && !purego

#include "textflag.h"

// func transpose8x8(dst, src *float32, ds, ls, r8, c8 int)
//
// dst[j*ds+i] = src[i*ls+j] for i < 8·r8, j < 8·c8, one 8×8 block at a time.
// Each block: rows i and i+4 share a YMM register (low/high 128-bit lane), so the
// 8×8 transpose becomes two in-lane 4×4 transposes (unpack lo/hi, then shufps).
//
// Registers: SI src block row, DI dst block column, AX/CX moving src/dst block,
// R8 = ls·4, R9 = 3·ls·4, R10 = AX+4·ls·4 (rows 4..7), R11 = ds·4, R12 = 3·ds·4,
// R13 = CX+4·ds·4 (dst rows 4..7), BX row-block counter, DX column-block counter.
TEXT ·transpose8x8(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ds+16(FP), R11
	SHLQ $2, R11
	MOVQ ls+24(FP), R8
	SHLQ $2, R8
	MOVQ r8+32(FP), BX
	LEAQ (R8)(R8*2), R9
	LEAQ (R11)(R11*2), R12

rowloop:
	MOVQ SI, AX
	MOVQ DI, CX
	MOVQ c8+40(FP), DX

colloop:
	LEAQ (AX)(R8*4), R10
	LEAQ (CX)(R11*4), R13
	VMOVUPS     (AX), X0
	VINSERTF128 $1, (R10), Y0, Y0
	VMOVUPS     (AX)(R8*1), X1
	VINSERTF128 $1, (R10)(R8*1), Y1, Y1
	VMOVUPS     (AX)(R8*2), X2
	VINSERTF128 $1, (R10)(R8*2), Y2, Y2
	VMOVUPS     (AX)(R9*1), X3
	VINSERTF128 $1, (R10)(R9*1), Y3, Y3
	VMOVUPS     16(AX), X4
	VINSERTF128 $1, 16(R10), Y4, Y4
	VMOVUPS     16(AX)(R8*1), X5
	VINSERTF128 $1, 16(R10)(R8*1), Y5, Y5
	VMOVUPS     16(AX)(R8*2), X6
	VINSERTF128 $1, 16(R10)(R8*2), Y6, Y6
	VMOVUPS     16(AX)(R9*1), X7
	VINSERTF128 $1, 16(R10)(R9*1), Y7, Y7

	// columns 0..3
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VSHUFPS   $0x44, Y10, Y8, Y12
	VSHUFPS   $0xEE, Y10, Y8, Y13
	VSHUFPS   $0x44, Y11, Y9, Y14
	VSHUFPS   $0xEE, Y11, Y9, Y15
	VMOVUPS   Y12, (CX)
	VMOVUPS   Y13, (CX)(R11*1)
	VMOVUPS   Y14, (CX)(R11*2)
	VMOVUPS   Y15, (CX)(R12*1)

	// columns 4..7
	VUNPCKLPS Y5, Y4, Y8
	VUNPCKHPS Y5, Y4, Y9
	VUNPCKLPS Y7, Y6, Y10
	VUNPCKHPS Y7, Y6, Y11
	VSHUFPS   $0x44, Y10, Y8, Y12
	VSHUFPS   $0xEE, Y10, Y8, Y13
	VSHUFPS   $0x44, Y11, Y9, Y14
	VSHUFPS   $0xEE, Y11, Y9, Y15
	VMOVUPS   Y12, (R13)
	VMOVUPS   Y13, (R13)(R11*1)
	VMOVUPS   Y14, (R13)(R11*2)
	VMOVUPS   Y15, (R13)(R12*1)

	ADDQ $32, AX
	LEAQ (CX)(R11*8), CX
	DECQ DX
	JNE  colloop

	LEAQ (SI)(R8*8), SI
	ADDQ $32, DI
	DECQ BX
	JNE  rowloop
	VZEROUPPER
	RET

// func packK6(dst, src *float32, lds, kc int)
//
// dst[q*6 + r] = src[q*lds + r] for q < kc, r < 6: a k-major A panel of 6 rows from Aᵀ
// (TN, TT). Per k step one 16-byte and one 8-byte move. SI src row, DI dst, R8 = lds·4,
// CX counter.
TEXT ·packK6(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	TESTQ CX, CX
	JEQ  k6done

k6loop:
	MOVUPS (SI), X0
	MOVQ   16(SI), AX
	MOVUPS X0, (DI)
	MOVQ   AX, 16(DI)
	ADDQ   R8, SI
	ADDQ   $24, DI
	DECQ   CX
	JNE    k6loop

k6done:
	RET

// func widenBF16(dst *float32, src *uint16, n8 int)
//
// dst[i] = float32 with bits src[i]<<16, for i < 8·n8 (AVX2: zero-extend 8 words, shift).
TEXT ·widenBF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n8+16(FP), CX
	TESTQ CX, CX
	JEQ  wdone

wloop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNE       wloop
	VZEROUPPER

wdone:
	RET

// func interleave16(dst, r0, r1 *uint16, n16 int)
//
// dst[2i] = r0[i], dst[2i+1] = r1[i] for i < 16·n16 (bf16 k pairs, pack16.go): each row's 16
// words are zero-extended to dwords, r1's shifted up 16 bits and OR-ed in. AVX512F+BW.
TEXT ·interleave16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n16+24(FP), CX

illoop:
	VPMOVZXWD (SI), Z0
	VPMOVZXWD (DX), Z1
	VPSLLD    $16, Z1, Z1
	VPORD     Z1, Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $64, DI
	DECQ      CX
	JNE       illoop
	VZEROUPPER
	RET

// func interleaveK6(dst, r0, r1 *uint16, n48, panelBytes int)
//
// The k-major bf16 A pack of one k pair for 6-row panels (pack16.go): for c < 48·n48, the
// pair (r0[c], r1[c]) goes to the 32-bit slot c%6 of panel c/6, panels panelBytes apart from
// dst. 48 columns (8 panels) per iteration: three vectors of 16 pairs, each panel's 6 pairs
// shifted down with VALIGND and written with a 6-lane masked store.
TEXT ·interleaveK6(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n48+24(FP), CX
	MOVQ panelBytes+32(FP), R8
	MOVL $0x3f, AX
	KMOVW AX, K1
	LEAQ (R8)(R8*2), R9          // 3 panels
	LEAQ (R8)(R8*4), R10         // 5 panels
	LEAQ (R9)(R9*1), R11         // 6 panels
	LEAQ (R11)(R8*1), R12        // 7 panels

k6loop:
	VPMOVZXWD (SI), Z0
	VPMOVZXWD (DX), Z3
	VPSLLD    $16, Z3, Z3
	VPORD     Z3, Z0, Z0           // pairs 0..15
	VPMOVZXWD 32(SI), Z1
	VPMOVZXWD 32(DX), Z3
	VPSLLD    $16, Z3, Z3
	VPORD     Z3, Z1, Z1           // pairs 16..31
	VPMOVZXWD 64(SI), Z2
	VPMOVZXWD 64(DX), Z3
	VPSLLD    $16, Z3, Z3
	VPORD     Z3, Z2, Z2           // pairs 32..47

	VMOVDQU32 Z0, K1, (DI)               // pairs 0..5
	VALIGND   $6, Z0, Z0, Z3
	VMOVDQU32 Z3, K1, (DI)(R8*1)         // 6..11
	VALIGND   $12, Z0, Z1, Z3
	VMOVDQU32 Z3, K1, (DI)(R8*2)         // 12..17
	VALIGND   $2, Z1, Z1, Z3
	VMOVDQU32 Z3, K1, (DI)(R9*1)         // 18..23
	VALIGND   $8, Z1, Z1, Z3
	VMOVDQU32 Z3, K1, (DI)(R8*4)         // 24..29
	VALIGND   $14, Z1, Z2, Z3
	VMOVDQU32 Z3, K1, (DI)(R10*1)        // 30..35
	VALIGND   $4, Z2, Z2, Z3
	VMOVDQU32 Z3, K1, (DI)(R11*1)        // 36..41
	VALIGND   $10, Z2, Z2, Z3
	VMOVDQU32 Z3, K1, (DI)(R12*1)        // 42..47

	ADDQ $96, SI
	ADDQ $96, DX
	LEAQ (DI)(R8*8), DI
	DECQ CX
	JNE  k6loop
	VZEROUPPER
	RET

// func prefetchRows(a *uint16, rows, ldaBytes, lines int): PREFETCHT1 of lines cache lines
// from each of rows rows, ldaBytes apart (rows, lines ≥ 1).
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ldaBytes+16(FP), R8
	MOVQ lines+24(FP), R9
	TESTQ CX, CX
	JEQ pfdone
pfrow:
	MOVQ SI, DI
	MOVQ R9, DX
pfline:
	PREFETCHT1 (DI)
	ADDQ $64, DI
	DECQ DX
	JNZ pfline
	ADDQ R8, SI
	DECQ CX
	JNZ pfrow
pfdone:
	RET
