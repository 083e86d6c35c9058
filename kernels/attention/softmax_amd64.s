//go:build amd64 && !purego

#include "textflag.h"

// Fused softmax row step: x[i] = e^(x[i] − m) in place and Σ x[i], in one pass. e^y uses the
// algorithm and constants of package vec (Cephes-style: n = rne(y·log2e), two-part ln2
// reduction, degree-5 polynomial, scale by 2^n); y < −87.34 (−Inf included) gives exactly 0.
// Inputs must satisfy x[i] − m ≤ 88.7 (softmax: m is the row max or the logsumexp).

DATA smc<>+0(SB)/4, $0x3fb8aa3b
DATA smc<>+4(SB)/4, $0x3fb8aa3b
DATA smc<>+8(SB)/4, $0x3fb8aa3b
DATA smc<>+12(SB)/4, $0x3fb8aa3b
DATA smc<>+16(SB)/4, $0x3fb8aa3b
DATA smc<>+20(SB)/4, $0x3fb8aa3b
DATA smc<>+24(SB)/4, $0x3fb8aa3b
DATA smc<>+28(SB)/4, $0x3fb8aa3b
DATA smc<>+32(SB)/4, $0x3f318000
DATA smc<>+36(SB)/4, $0x3f318000
DATA smc<>+40(SB)/4, $0x3f318000
DATA smc<>+44(SB)/4, $0x3f318000
DATA smc<>+48(SB)/4, $0x3f318000
DATA smc<>+52(SB)/4, $0x3f318000
DATA smc<>+56(SB)/4, $0x3f318000
DATA smc<>+60(SB)/4, $0x3f318000
DATA smc<>+64(SB)/4, $0xb95e8083
DATA smc<>+68(SB)/4, $0xb95e8083
DATA smc<>+72(SB)/4, $0xb95e8083
DATA smc<>+76(SB)/4, $0xb95e8083
DATA smc<>+80(SB)/4, $0xb95e8083
DATA smc<>+84(SB)/4, $0xb95e8083
DATA smc<>+88(SB)/4, $0xb95e8083
DATA smc<>+92(SB)/4, $0xb95e8083
DATA smc<>+96(SB)/4, $0x39506967
DATA smc<>+100(SB)/4, $0x39506967
DATA smc<>+104(SB)/4, $0x39506967
DATA smc<>+108(SB)/4, $0x39506967
DATA smc<>+112(SB)/4, $0x39506967
DATA smc<>+116(SB)/4, $0x39506967
DATA smc<>+120(SB)/4, $0x39506967
DATA smc<>+124(SB)/4, $0x39506967
DATA smc<>+128(SB)/4, $0x3ab743ce
DATA smc<>+132(SB)/4, $0x3ab743ce
DATA smc<>+136(SB)/4, $0x3ab743ce
DATA smc<>+140(SB)/4, $0x3ab743ce
DATA smc<>+144(SB)/4, $0x3ab743ce
DATA smc<>+148(SB)/4, $0x3ab743ce
DATA smc<>+152(SB)/4, $0x3ab743ce
DATA smc<>+156(SB)/4, $0x3ab743ce
DATA smc<>+160(SB)/4, $0x3c088908
DATA smc<>+164(SB)/4, $0x3c088908
DATA smc<>+168(SB)/4, $0x3c088908
DATA smc<>+172(SB)/4, $0x3c088908
DATA smc<>+176(SB)/4, $0x3c088908
DATA smc<>+180(SB)/4, $0x3c088908
DATA smc<>+184(SB)/4, $0x3c088908
DATA smc<>+188(SB)/4, $0x3c088908
DATA smc<>+192(SB)/4, $0x3d2aa9c1
DATA smc<>+196(SB)/4, $0x3d2aa9c1
DATA smc<>+200(SB)/4, $0x3d2aa9c1
DATA smc<>+204(SB)/4, $0x3d2aa9c1
DATA smc<>+208(SB)/4, $0x3d2aa9c1
DATA smc<>+212(SB)/4, $0x3d2aa9c1
DATA smc<>+216(SB)/4, $0x3d2aa9c1
DATA smc<>+220(SB)/4, $0x3d2aa9c1
DATA smc<>+224(SB)/4, $0x3e2aaaaa
DATA smc<>+228(SB)/4, $0x3e2aaaaa
DATA smc<>+232(SB)/4, $0x3e2aaaaa
DATA smc<>+236(SB)/4, $0x3e2aaaaa
DATA smc<>+240(SB)/4, $0x3e2aaaaa
DATA smc<>+244(SB)/4, $0x3e2aaaaa
DATA smc<>+248(SB)/4, $0x3e2aaaaa
DATA smc<>+252(SB)/4, $0x3e2aaaaa
DATA smc<>+256(SB)/4, $0x3f000000
DATA smc<>+260(SB)/4, $0x3f000000
DATA smc<>+264(SB)/4, $0x3f000000
DATA smc<>+268(SB)/4, $0x3f000000
DATA smc<>+272(SB)/4, $0x3f000000
DATA smc<>+276(SB)/4, $0x3f000000
DATA smc<>+280(SB)/4, $0x3f000000
DATA smc<>+284(SB)/4, $0x3f000000
DATA smc<>+288(SB)/4, $0x3f800000
DATA smc<>+292(SB)/4, $0x3f800000
DATA smc<>+296(SB)/4, $0x3f800000
DATA smc<>+300(SB)/4, $0x3f800000
DATA smc<>+304(SB)/4, $0x3f800000
DATA smc<>+308(SB)/4, $0x3f800000
DATA smc<>+312(SB)/4, $0x3f800000
DATA smc<>+316(SB)/4, $0x3f800000
DATA smc<>+320(SB)/4, $0xc2aeac4f
DATA smc<>+324(SB)/4, $0xc2aeac4f
DATA smc<>+328(SB)/4, $0xc2aeac4f
DATA smc<>+332(SB)/4, $0xc2aeac4f
DATA smc<>+336(SB)/4, $0xc2aeac4f
DATA smc<>+340(SB)/4, $0xc2aeac4f
DATA smc<>+344(SB)/4, $0xc2aeac4f
DATA smc<>+348(SB)/4, $0xc2aeac4f
DATA smc<>+352(SB)/4, $0x0000007f
DATA smc<>+356(SB)/4, $0x0000007f
DATA smc<>+360(SB)/4, $0x0000007f
DATA smc<>+364(SB)/4, $0x0000007f
DATA smc<>+368(SB)/4, $0x0000007f
DATA smc<>+372(SB)/4, $0x0000007f
DATA smc<>+376(SB)/4, $0x0000007f
DATA smc<>+380(SB)/4, $0x0000007f
GLOBL smc<>(SB), RODATA|NOPTR, $384

#define C_LOG2E smc<>+0(SB)
#define C_LN2HI smc<>+32(SB)
#define C_LN2LO smc<>+64(SB)
#define C_P0 smc<>+96(SB)
#define C_P1 smc<>+128(SB)
#define C_P2 smc<>+160(SB)
#define C_P3 smc<>+192(SB)
#define C_P4 smc<>+224(SB)
#define C_P5 smc<>+256(SB)
#define C_ONE smc<>+288(SB)
#define C_LO smc<>+320(SB)
#define C_I127 smc<>+352(SB)

// tailmask<>: 8 all-ones int32 then 8 zeros; the 8 lanes at byte offset 4·(8−r) enable the
// first r lanes.
DATA tailmask<>+0(SB)/8, $0xffffffffffffffff
DATA tailmask<>+8(SB)/8, $0xffffffffffffffff
DATA tailmask<>+16(SB)/8, $0xffffffffffffffff
DATA tailmask<>+24(SB)/8, $0xffffffffffffffff
DATA tailmask<>+32(SB)/8, $0
DATA tailmask<>+40(SB)/8, $0
DATA tailmask<>+48(SB)/8, $0
DATA tailmask<>+56(SB)/8, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

// AVX-512: constants in Z16–Z26, m in Z27; EXPM512 sets P = e^(X − m) (X clobbered).
#define EXPM512(X, N, R, P, Z, KA) \
	VSUBPS       Z27, X, X \
	VMULPS       Z16, X, N \
	VRNDSCALEPS  $8, N, N \
	VMOVAPS      X, R \
	VFNMADD231PS Z17, N, R \
	VFNMADD231PS Z18, N, R \
	VMOVAPS      Z19, P \
	VFMADD213PS  Z20, R, P \
	VFMADD213PS  Z21, R, P \
	VFMADD213PS  Z22, R, P \
	VFMADD213PS  Z23, R, P \
	VFMADD213PS  Z24, R, P \
	VMULPS       R, R, Z \
	VFMADD213PS  R, Z, P \
	VADDPS       Z25, P, P \
	VSCALEFPS    N, P, P \
	VCMPPS       $0x11, Z26, X, KA \
	VPXORD       P, P, KA, P

// EXPCONST512 loads EXPM512's constants into Z16–Z26.
#define EXPCONST512 \
	VBROADCASTSS C_LOG2E, Z16 \
	VBROADCASTSS C_LN2HI, Z17 \
	VBROADCASTSS C_LN2LO, Z18 \
	VBROADCASTSS C_P0, Z19 \
	VBROADCASTSS C_P1, Z20 \
	VBROADCASTSS C_P2, Z21 \
	VBROADCASTSS C_P3, Z22 \
	VBROADCASTSS C_P4, Z23 \
	VBROADCASTSS C_P5, Z24 \
	VBROADCASTSS C_ONE, Z25 \
	VBROADCASTSS C_LO, Z26

// HSUM512 sets X0 to the sum of the 16 lanes of Z0 (halving pairwise; clobbers Z1).
#define HSUM512 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VMOVHLPS      X0, X0, X1 \
	VADDPS        X1, X0, X0 \
	VMOVSHDUP     X0, X1 \
	VADDSS        X1, X0, X0

// func expSumAVX512(x *float32, n int, m float32) float32
TEXT ·expSumAVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z27
	EXPCONST512
	VPXORD       Z10, Z10, Z10
	VPXORD       Z11, Z11, Z11

loop32:
	CMPQ    CX, $32
	JB      loop16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2)
	EXPM512(Z5, Z6, Z7, Z8, Z9, K3)
	VMOVUPS Z3, (SI)
	VMOVUPS Z8, 64(SI)
	VADDPS  Z3, Z10, Z10
	VADDPS  Z8, Z11, Z11
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     loop32

loop16:
	CMPQ    CX, $16
	JB      tail
	VMOVUPS (SI), Z0
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS Z3, (SI)
	VADDPS  Z3, Z10, Z10
	ADDQ    $64, SI
	SUBQ    $16, CX

tail:
	TESTQ     CX, CX
	JZ        reduce
	MOVQ      $1, AX
	SHLQ      CX, AX
	DECQ      AX
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z0
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS   Z3, K1, (SI)
	VADDPS    Z3, Z11, K1, Z11

reduce:
	VADDPS Z11, Z10, Z0
	HSUM512
	MOVSS  X0, ret+24(FP)
	VZEROUPPER
	RET

// AVX2: m in Y13, constants from memory; EXPM2 sets P = e^(X − m) (X clobbered), scaling by
// 2^n as (p·2^(n>>1))·2^(n−(n>>1)) through the exponent bits.
#define EXPM2(X, N, R, P, Z) \
	VSUBPS       Y13, X, X \
	VMULPS       C_LOG2E, X, N \
	VROUNDPS     $8, N, N \
	VMOVAPS      X, R \
	VFNMADD231PS C_LN2HI, N, R \
	VFNMADD231PS C_LN2LO, N, R \
	VMOVAPS      C_P0, P \
	VFMADD213PS  C_P1, R, P \
	VFMADD213PS  C_P2, R, P \
	VFMADD213PS  C_P3, R, P \
	VFMADD213PS  C_P4, R, P \
	VFMADD213PS  C_P5, R, P \
	VMULPS       R, R, Z \
	VFMADD213PS  R, Z, P \
	VADDPS       C_ONE, P, P \
	VCVTPS2DQ    N, N \
	VPSRAD       $1, N, Z \
	VPSUBD       Z, N, N \
	VPADDD       C_I127, Z, Z \
	VPSLLD       $23, Z, Z \
	VMULPS       Z, P, P \
	VPADDD       C_I127, N, N \
	VPSLLD       $23, N, N \
	VMULPS       N, P, P \
	VCMPPS       $0x11, C_LO, X, Z \
	VANDNPS      P, Z, P

// func expSumAVX2(x *float32, n int, m float32) float32
TEXT ·expSumAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y13
	VXORPS       Y10, Y10, Y10
	VXORPS       Y11, Y11, Y11

loop16:
	CMPQ    CX, $16
	JB      loop8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	EXPM2(Y0, Y1, Y2, Y3, Y4)
	EXPM2(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y3, (SI)
	VMOVUPS Y8, 32(SI)
	VADDPS  Y3, Y10, Y10
	VADDPS  Y8, Y11, Y11
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JB      tail
	VMOVUPS (SI), Y0
	EXPM2(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y3, (SI)
	VADDPS  Y3, Y10, Y10
	ADDQ    $32, SI
	SUBQ    $8, CX

tail:
	TESTQ      CX, CX
	JZ         reduce
	LEAQ       tailmask<>+32(SB), AX
	SHLQ       $2, CX
	SUBQ       CX, AX
	VMOVDQU    (AX), Y15
	VMASKMOVPS (SI), Y15, Y0
	EXPM2(Y0, Y1, Y2, Y3, Y4)
	VANDPS     Y15, Y3, Y3
	VMASKMOVPS Y3, Y15, (SI)
	VADDPS     Y3, Y11, Y11

reduce:
	VADDPS       Y11, Y10, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// ROUND16 stores the 16 float32 lanes of S to mem as bf16, rounded to nearest even with NaN
// kept quiet (tensors.F32ToBF16's bits). Needs Z10 = 0x7fff, Z11 = 1, Z12 = 0x7fffffff,
// Z13 = 0x7f800000, Z14 = 0x40; clobbers Z6–Z9, K1.
#define ROUND16(S, mem) \
	VPSRLD    $16, S, Z6 \
	VPANDD    Z11, Z6, Z7 \
	VPADDD    Z10, S, Z8 \
	VPADDD    Z7, Z8, Z8 \
	VPSRLD    $16, Z8, Z8 \
	VPANDD    Z12, S, Z9 \
	VPCMPUD   $6, Z13, Z9, K1 \
	VPORD     Z14, Z6, K1, Z8 \
	VPMOVDW   Z8, mem

// VCVTNEPS2BF16 (AVX512_BF16; the Go assembler lacks it, bytes from GNU as 2.40): round the
// 16 float32 lanes of a ZMM to bf16 in a YMM, to nearest even, DAZ/FTZ.
#define CVT16_Z3_Y6 BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xf3 // vcvtneps2bf16 ymm6, zmm3
#define CVT16_Z5_Y7 BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xfd // vcvtneps2bf16 ymm7, zmm5
#define CVT16_Z15_Y7 BYTE $0x62; BYTE $0xd2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xff // vcvtneps2bf16 ymm7, zmm15

// ROUNDCONST loads ROUND16's constants into Z10–Z14 (clobbers AX).
#define ROUNDCONST \
	MOVL         $0x7fff, AX \
	VPBROADCASTD AX, Z10 \
	MOVL         $1, AX \
	VPBROADCASTD AX, Z11 \
	MOVL         $0x7fffffff, AX \
	VPBROADCASTD AX, Z12 \
	MOVL         $0x7f800000, AX \
	VPBROADCASTD AX, Z13 \
	MOVL         $0x40, AX \
	VPBROADCASTD AX, Z14

// func probsDS16AVX512(st, dpt, lse, d *float32, p16, ds16 *uint16, n16, cvt int)
//
// One row of the dense transposed backward, 16 lanes at a time: P = e^(st − lse) (expSum's
// exponential, lse per lane), dS = P·(dpt − d) (dsRow's two roundings); P and dS are stored
// only as bf16, into p16 and ds16, rounded by ROUND16 (cvt == 0) or VCVTNEPS2BF16.
TEXT ·probsDS16AVX512(SB), NOSPLIT, $0-64
	MOVQ         st+0(FP), SI
	MOVQ         dpt+8(FP), DX
	MOVQ         lse+16(FP), R8
	MOVQ         d+24(FP), R9
	MOVQ         p16+32(FP), DI
	MOVQ         ds16+40(FP), R10
	MOVQ         n16+48(FP), CX
	MOVQ         cvt+56(FP), R11
	EXPCONST512
	ROUNDCONST

pdsloop:
	VMOVUPS (SI), Z0
	VMOVUPS (R8), Z27
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2) // Z3 = P
	VMOVUPS (DX), Z5
	VSUBPS  (R9), Z5, Z5            // dP − D
	VMULPS  Z3, Z5, Z5              // dS
	TESTQ   R11, R11
	JNZ     pdscvt
	ROUND16(Z3, (DI))
	ROUND16(Z5, (R10))
	JMP     pdsnext

pdscvt:
	CVT16_Z3_Y6
	VMOVDQU Y6, (DI)
	CVT16_Z5_Y7
	VMOVDQU Y7, (R10)

pdsnext:
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $32, DI
	ADDQ    $32, R10
	DECQ    CX
	JNZ     pdsloop
	VZEROUPPER
	RET

// func expSum16AVX512(x *float32, n16 int, m float32, p16 *uint16, cvt int) float32
//
// expSumAVX512 for n = 16·n16 that stores e^(x[i] − m) only as bf16 into p16 (x is left
// unchanged) and returns the float32 sum, summed as expSumAVX512 sums (two accumulators,
// 32 lanes per step, the same final reduction).
TEXT ·expSum16AVX512(SB), NOSPLIT, $0-44
	MOVQ         x+0(FP), SI
	MOVQ         n16+8(FP), CX
	VBROADCASTSS m+16(FP), Z27
	MOVQ         p16+24(FP), DI
	MOVQ         cvt+32(FP), R11
	EXPCONST512
	ROUNDCONST
	VPXORD       Z30, Z30, Z30
	VPXORD       Z31, Z31, Z31

e16loop32:
	CMPQ    CX, $2
	JB      e16loop16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2)
	EXPM512(Z5, Z1, Z2, Z15, Z4, K3)
	VADDPS  Z3, Z30, Z30
	VADDPS  Z15, Z31, Z31
	TESTQ   R11, R11
	JNZ     e16cvt32
	ROUND16(Z3, (DI))
	ROUND16(Z15, 32(DI))
	JMP     e16next32

e16cvt32:
	CVT16_Z3_Y6
	VMOVDQU Y6, (DI)
	CVT16_Z15_Y7
	VMOVDQU Y7, 32(DI)

e16next32:
	ADDQ    $128, SI
	ADDQ    $64, DI
	SUBQ    $2, CX
	JMP     e16loop32

e16loop16:
	TESTQ   CX, CX
	JZ      e16reduce
	VMOVUPS (SI), Z0
	EXPM512(Z0, Z1, Z2, Z3, Z4, K2)
	VADDPS  Z3, Z30, Z30
	TESTQ   R11, R11
	JNZ     e16cvt16
	ROUND16(Z3, (DI))
	JMP     e16reduce

e16cvt16:
	CVT16_Z3_Y6
	VMOVDQU Y6, (DI)

e16reduce:
	VADDPS Z31, Z30, Z0
	HSUM512
	MOVSS  X0, ret+40(FP)
	VZEROUPPER
	RET
