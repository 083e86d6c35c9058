//go:build amd64 && !purego

#include "textflag.h"

// Vectorised element conversions. Each routine converts n elements, n > 0 and a multiple of
// the vector width (16 for the AVX-512 forms, 8 for the AVX2/F16C forms); the Go wrappers in
// convert_amd64.go handle the tail. All forms are bit-identical to the scalar reference in
// convert.go (round to nearest even; NaN → quiet NaN with sign and top payload bits kept).

// func bf16ToF32AVX512(dst *float32, src *uint16, n int)
TEXT ·bf16ToF32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VPMOVZXWD (SI), Z0
	VPSLLD    $16, Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       loop
	VZEROUPPER
	RET

// func f32ToBF16AVX512(dst *uint16, src *float32, n int)
// Integer round-to-nearest-even on the f32 bits: (x + 0x7fff + ((x>>16)&1)) >> 16; NaN lanes
// (|x| > +Inf as integers) take (x>>16) | 0x40 instead. VCVTNEPS2BF16 is not used: it flushes
// f32 denormals to zero, which the scalar reference does not.
TEXT ·f32ToBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z10
	MOVL $1, AX
	VPBROADCASTD AX, Z11
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z12
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z13
	MOVL $0x40, AX
	VPBROADCASTD AX, Z14

loop:
	VMOVDQU32 (SI), Z0
	VPSRLD    $16, Z0, Z1     // top half: the truncated bf16 (and the NaN base)
	VPANDD    Z11, Z1, Z2     // its lowest bit, for ties to even
	VPADDD    Z10, Z0, Z3
	VPADDD    Z2, Z3, Z3
	VPSRLD    $16, Z3, Z3     // rounded
	VPANDD    Z12, Z0, Z4     // |x| bits
	VPCMPUD   $6, Z13, Z4, K1 // K1: |x| > Inf, i.e. NaN
	VPORD     Z14, Z1, K1, Z3 // NaN lanes: quiet the truncated NaN
	VPMOVDW   Z3, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JNZ       loop
	VZEROUPPER
	RET

// func f16ToF32AVX512(dst *float32, src *uint16, n int)
TEXT ·f16ToF32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VCVTPH2PS (SI), Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       loop
	VZEROUPPER
	RET

// func f32ToF16AVX512(dst *uint16, src *float32, n int)
// Rounding immediate 0: round to nearest even regardless of MXCSR.RC.
TEXT ·f32ToF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VMOVUPS   (SI), Z0
	VCVTPS2PH $0, Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JNZ       loop
	VZEROUPPER
	RET

// func bf16ToF32AVX2(dst *float32, src *uint16, n int)
TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       loop
	VZEROUPPER
	RET

// func f32ToBF16AVX2(dst *uint16, src *float32, n int)
// Same integer rounding as the AVX-512 form; NaN lanes picked with a signed compare (|x| is
// non-negative as int32) and a byte blend; dwords packed to words with VPACKUSDW (no lane
// exceeds 0xffff, so nothing saturates).
TEXT ·f32ToBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fff, AX
	MOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $1, AX
	MOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x7fffffff, AX
	MOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x7f800000, AX
	MOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x40, AX
	MOVD AX, X14
	VPBROADCASTD X14, Y14

loop:
	VMOVDQU      (SI), Y0
	VPSRLD       $16, Y0, Y1
	VPAND        Y11, Y1, Y2
	VPADDD       Y10, Y0, Y3
	VPADDD       Y2, Y3, Y3
	VPSRLD       $16, Y3, Y3
	VPAND        Y12, Y0, Y4
	VPCMPGTD     Y13, Y4, Y5       // Y5: |x| > Inf
	VPOR         Y14, Y1, Y6
	VPBLENDVB    Y5, Y6, Y3, Y3    // NaN lanes from Y6
	VEXTRACTI128 $1, Y3, X7
	VPACKUSDW    X7, X3, X3
	VMOVDQU      X3, (DI)
	ADDQ         $32, SI
	ADDQ         $16, DI
	SUBQ         $8, CX
	JNZ          loop
	VZEROUPPER
	RET

// func f16ToF32F16C(dst *float32, src *uint16, n int)
TEXT ·f16ToF32F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       loop
	VZEROUPPER
	RET

// func f32ToF16F16C(dst *uint16, src *float32, n int)
TEXT ·f32ToF16F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JNZ       loop
	VZEROUPPER
	RET
