//go:build amd64 && !purego

#include "textflag.h"

#define C_LOG2E expc<>+0(SB)
#define C_LN2HI expc<>+32(SB)
#define C_LN2LO expc<>+64(SB)
#define C_P0 expc<>+96(SB)
#define C_P1 expc<>+128(SB)
#define C_P2 expc<>+160(SB)
#define C_P3 expc<>+192(SB)
#define C_P4 expc<>+224(SB)
#define C_P5 expc<>+256(SB)
#define C_ONE expc<>+288(SB)
#define C_HI expc<>+320(SB)
#define C_LO expc<>+352(SB)
#define C_INF expc<>+384(SB)
#define C_NINF expc<>+416(SB)
#define C_I127 expc<>+448(SB)

// expc<> holds each constant replicated 8 times (one YMM line each): log2e, ln2hi, ln2lo, p0, p1, p2, p3, p4, p5, one, hi, lo, inf, ninf, i127.
// The float values are those of the constants in generic.go; i127 is the int32 exponent bias.
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
DATA expc<>+32(SB)/4, $0x3f318000
DATA expc<>+36(SB)/4, $0x3f318000
DATA expc<>+40(SB)/4, $0x3f318000
DATA expc<>+44(SB)/4, $0x3f318000
DATA expc<>+48(SB)/4, $0x3f318000
DATA expc<>+52(SB)/4, $0x3f318000
DATA expc<>+56(SB)/4, $0x3f318000
DATA expc<>+60(SB)/4, $0x3f318000
DATA expc<>+64(SB)/4, $0xb95e8083
DATA expc<>+68(SB)/4, $0xb95e8083
DATA expc<>+72(SB)/4, $0xb95e8083
DATA expc<>+76(SB)/4, $0xb95e8083
DATA expc<>+80(SB)/4, $0xb95e8083
DATA expc<>+84(SB)/4, $0xb95e8083
DATA expc<>+88(SB)/4, $0xb95e8083
DATA expc<>+92(SB)/4, $0xb95e8083
DATA expc<>+96(SB)/4, $0x39506967
DATA expc<>+100(SB)/4, $0x39506967
DATA expc<>+104(SB)/4, $0x39506967
DATA expc<>+108(SB)/4, $0x39506967
DATA expc<>+112(SB)/4, $0x39506967
DATA expc<>+116(SB)/4, $0x39506967
DATA expc<>+120(SB)/4, $0x39506967
DATA expc<>+124(SB)/4, $0x39506967
DATA expc<>+128(SB)/4, $0x3ab743ce
DATA expc<>+132(SB)/4, $0x3ab743ce
DATA expc<>+136(SB)/4, $0x3ab743ce
DATA expc<>+140(SB)/4, $0x3ab743ce
DATA expc<>+144(SB)/4, $0x3ab743ce
DATA expc<>+148(SB)/4, $0x3ab743ce
DATA expc<>+152(SB)/4, $0x3ab743ce
DATA expc<>+156(SB)/4, $0x3ab743ce
DATA expc<>+160(SB)/4, $0x3c088908
DATA expc<>+164(SB)/4, $0x3c088908
DATA expc<>+168(SB)/4, $0x3c088908
DATA expc<>+172(SB)/4, $0x3c088908
DATA expc<>+176(SB)/4, $0x3c088908
DATA expc<>+180(SB)/4, $0x3c088908
DATA expc<>+184(SB)/4, $0x3c088908
DATA expc<>+188(SB)/4, $0x3c088908
DATA expc<>+192(SB)/4, $0x3d2aa9c1
DATA expc<>+196(SB)/4, $0x3d2aa9c1
DATA expc<>+200(SB)/4, $0x3d2aa9c1
DATA expc<>+204(SB)/4, $0x3d2aa9c1
DATA expc<>+208(SB)/4, $0x3d2aa9c1
DATA expc<>+212(SB)/4, $0x3d2aa9c1
DATA expc<>+216(SB)/4, $0x3d2aa9c1
DATA expc<>+220(SB)/4, $0x3d2aa9c1
DATA expc<>+224(SB)/4, $0x3e2aaaaa
DATA expc<>+228(SB)/4, $0x3e2aaaaa
DATA expc<>+232(SB)/4, $0x3e2aaaaa
DATA expc<>+236(SB)/4, $0x3e2aaaaa
DATA expc<>+240(SB)/4, $0x3e2aaaaa
DATA expc<>+244(SB)/4, $0x3e2aaaaa
DATA expc<>+248(SB)/4, $0x3e2aaaaa
DATA expc<>+252(SB)/4, $0x3e2aaaaa
DATA expc<>+256(SB)/4, $0x3f000000
DATA expc<>+260(SB)/4, $0x3f000000
DATA expc<>+264(SB)/4, $0x3f000000
DATA expc<>+268(SB)/4, $0x3f000000
DATA expc<>+272(SB)/4, $0x3f000000
DATA expc<>+276(SB)/4, $0x3f000000
DATA expc<>+280(SB)/4, $0x3f000000
DATA expc<>+284(SB)/4, $0x3f000000
DATA expc<>+288(SB)/4, $0x3f800000
DATA expc<>+292(SB)/4, $0x3f800000
DATA expc<>+296(SB)/4, $0x3f800000
DATA expc<>+300(SB)/4, $0x3f800000
DATA expc<>+304(SB)/4, $0x3f800000
DATA expc<>+308(SB)/4, $0x3f800000
DATA expc<>+312(SB)/4, $0x3f800000
DATA expc<>+316(SB)/4, $0x3f800000
DATA expc<>+320(SB)/4, $0x42b17217
DATA expc<>+324(SB)/4, $0x42b17217
DATA expc<>+328(SB)/4, $0x42b17217
DATA expc<>+332(SB)/4, $0x42b17217
DATA expc<>+336(SB)/4, $0x42b17217
DATA expc<>+340(SB)/4, $0x42b17217
DATA expc<>+344(SB)/4, $0x42b17217
DATA expc<>+348(SB)/4, $0x42b17217
DATA expc<>+352(SB)/4, $0xc2aeac4f
DATA expc<>+356(SB)/4, $0xc2aeac4f
DATA expc<>+360(SB)/4, $0xc2aeac4f
DATA expc<>+364(SB)/4, $0xc2aeac4f
DATA expc<>+368(SB)/4, $0xc2aeac4f
DATA expc<>+372(SB)/4, $0xc2aeac4f
DATA expc<>+376(SB)/4, $0xc2aeac4f
DATA expc<>+380(SB)/4, $0xc2aeac4f
DATA expc<>+384(SB)/4, $0x7f800000
DATA expc<>+388(SB)/4, $0x7f800000
DATA expc<>+392(SB)/4, $0x7f800000
DATA expc<>+396(SB)/4, $0x7f800000
DATA expc<>+400(SB)/4, $0x7f800000
DATA expc<>+404(SB)/4, $0x7f800000
DATA expc<>+408(SB)/4, $0x7f800000
DATA expc<>+412(SB)/4, $0x7f800000
DATA expc<>+416(SB)/4, $0xff800000
DATA expc<>+420(SB)/4, $0xff800000
DATA expc<>+424(SB)/4, $0xff800000
DATA expc<>+428(SB)/4, $0xff800000
DATA expc<>+432(SB)/4, $0xff800000
DATA expc<>+436(SB)/4, $0xff800000
DATA expc<>+440(SB)/4, $0xff800000
DATA expc<>+444(SB)/4, $0xff800000
DATA expc<>+448(SB)/4, $0x0000007f
DATA expc<>+452(SB)/4, $0x0000007f
DATA expc<>+456(SB)/4, $0x0000007f
DATA expc<>+460(SB)/4, $0x0000007f
DATA expc<>+464(SB)/4, $0x0000007f
DATA expc<>+468(SB)/4, $0x0000007f
DATA expc<>+472(SB)/4, $0x0000007f
DATA expc<>+476(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $480

// tailmask<>: 8 all-ones int32 then 8 zeros; the 8 lanes at byte offset 4·(8−r) enable the
// first r lanes (AVX2 VMASKMOVPS tails).
DATA tailmask<>+0(SB)/4, $0xffffffff
DATA tailmask<>+4(SB)/4, $0xffffffff
DATA tailmask<>+8(SB)/4, $0xffffffff
DATA tailmask<>+12(SB)/4, $0xffffffff
DATA tailmask<>+16(SB)/4, $0xffffffff
DATA tailmask<>+20(SB)/4, $0xffffffff
DATA tailmask<>+24(SB)/4, $0xffffffff
DATA tailmask<>+28(SB)/4, $0xffffffff
DATA tailmask<>+32(SB)/4, $0x00000000
DATA tailmask<>+36(SB)/4, $0x00000000
DATA tailmask<>+40(SB)/4, $0x00000000
DATA tailmask<>+44(SB)/4, $0x00000000
DATA tailmask<>+48(SB)/4, $0x00000000
DATA tailmask<>+52(SB)/4, $0x00000000
DATA tailmask<>+56(SB)/4, $0x00000000
DATA tailmask<>+60(SB)/4, $0x00000000
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

// ---------------------------------------------------------------------------------------------
// AVX-512. Exp constants live in Z16–Z29 (EXPCONST512); EXP512 computes e^X into P.

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
	VBROADCASTSS C_HI, Z26 \
	VBROADCASTSS C_LO, Z27 \
	VBROADCASTSS C_INF, Z28 \
	VPXORD       Z29, Z29, Z29

// n = rne(x·log2e); r = x − n·ln2hi − n·ln2lo; p = ((((p0·r+p1)·r+p2)·r+p3)·r+p4)·r+p5;
// p = p·r² + r + 1; e^x = p·2^n (VSCALEFPS), then +Inf above hi and 0 below lo.
#define EXP512(X, N, R, P, Z, KA, KB) \
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
	VCMPPS       $0x1e, Z26, X, KA \
	VCMPPS       $0x11, Z27, X, KB \
	VMOVAPS      Z28, KA, P \
	VMOVAPS      Z29, KB, P

// TAILMASK512 sets K1 to the low CX bits.
#define TAILMASK512 \
	MOVQ  $1, AX \
	SHLQ  CX, AX \
	DECQ  AX \
	KMOVW AX, K1

// func expAVX512(dst, x *float32, n int)
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512

exp512loop32:
	CMPQ    CX, $32
	JB      exp512loop16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	EXP512(Z5, Z6, Z7, Z8, Z9, K4, K5)
	VMOVUPS Z3, (DI)
	VMOVUPS Z8, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     exp512loop32

exp512loop16:
	CMPQ    CX, $16
	JB      exp512tail
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

exp512tail:
	TESTQ CX, CX
	JZ    exp512done
	TAILMASK512
	VMOVUPS.Z (SI), K1, Z0
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	VMOVUPS   Z3, K1, (DI)

exp512done:
	VZEROUPPER
	RET

// func sigmoidAVX512(dst, x *float32, n int)
// 1/(1 + e^−x).
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512

sig512loop32:
	CMPQ    CX, $32
	JB      sig512loop16
	VSUBPS  (SI), Z29, Z0
	VSUBPS  64(SI), Z29, Z5
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	EXP512(Z5, Z6, Z7, Z8, Z9, K4, K5)
	VADDPS  Z25, Z3, Z3
	VADDPS  Z25, Z8, Z8
	VDIVPS  Z3, Z25, Z3
	VDIVPS  Z8, Z25, Z8
	VMOVUPS Z3, (DI)
	VMOVUPS Z8, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     sig512loop32

sig512loop16:
	CMPQ    CX, $16
	JB      sig512tail
	VSUBPS  (SI), Z29, Z0
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	VADDPS  Z25, Z3, Z3
	VDIVPS  Z3, Z25, Z3
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

sig512tail:
	TESTQ CX, CX
	JZ    sig512done
	TAILMASK512
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z0, Z29, Z0
	EXP512(Z0, Z1, Z2, Z3, Z4, K2, K3)
	VADDPS    Z25, Z3, Z3
	VDIVPS    Z3, Z25, Z3
	VMOVUPS   Z3, K1, (DI)

sig512done:
	VZEROUPPER
	RET

// HSUM512 leaves Σ of the 16 lanes of Z0 in X0 (fixed pairwise order); clobbers Z1.
#define HSUM512 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VMOVHLPS      X0, X0, X1 \
	VADDPS        X1, X0, X0 \
	VMOVSHDUP     X0, X1 \
	VADDSS        X1, X0, X0

// func dotAVX512(a, b *float32, n int) float32
// Lane accumulators Z0–Z3 over 64-element blocks, 16-element blocks and the masked tail into
// Z0, then (Z0+Z1)+(Z2+Z3) and a pairwise horizontal sum.
TEXT ·dotAVX512(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

dot512loop64:
	CMPQ        CX, $64
	JB          dot512loop16
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	JMP         dot512loop64

dot512loop16:
	CMPQ        CX, $16
	JB          dot512tail
	VMOVUPS     (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         dot512loop16

dot512tail:
	TESTQ CX, CX
	JZ    dot512reduce
	TAILMASK512
	VMOVUPS.Z   (SI), K1, Z4
	VMOVUPS.Z   (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z0

dot512reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM512
	MOVSS  X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX512(x *float32, n int) float32
// Same accumulation order as dotAVX512.
TEXT ·sumAVX512(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

sum512loop64:
	CMPQ   CX, $64
	JB     sum512loop16
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ   $256, SI
	SUBQ   $64, CX
	JMP    sum512loop64

sum512loop16:
	CMPQ   CX, $16
	JB     sum512tail
	VADDPS (SI), Z0, Z0
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    sum512loop16

sum512tail:
	TESTQ CX, CX
	JZ    sum512reduce
	TAILMASK512
	VMOVUPS.Z (SI), K1, Z4
	VADDPS    Z4, Z0, Z0

sum512reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM512
	MOVSS  X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
// VMAXPS with the accumulator as the second source returns the accumulator when the element is
// NaN, so NaNs are ignored and the accumulators never hold one.
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS C_NINF, Z0
	VMOVAPS      Z0, Z1
	VMOVAPS      Z0, Z2
	VMOVAPS      Z0, Z3
	VMOVAPS      Z0, Z8

max512loop64:
	CMPQ    CX, $64
	JB      max512loop16
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VMAXPS  Z0, Z4, Z0
	VMAXPS  Z1, Z5, Z1
	VMAXPS  Z2, Z6, Z2
	VMAXPS  Z3, Z7, Z3
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     max512loop64

max512loop16:
	CMPQ    CX, $16
	JB      max512tail
	VMOVUPS (SI), Z4
	VMAXPS  Z0, Z4, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     max512loop16

max512tail:
	TESTQ CX, CX
	JZ    max512reduce
	TAILMASK512
	VMOVAPS Z8, Z4
	VMOVUPS (SI), K1, Z4
	VMAXPS  Z0, Z4, Z0

max512reduce:
	VMAXPS        Z1, Z0, Z0
	VMAXPS        Z3, Z2, Z2
	VMAXPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VMAXSS        X1, X0, X0
	MOVSS         X0, ret+16(FP)
	VZEROUPPER
	RET

// func axpyAVX512(alpha float32, x, y *float32, n int)
// y = fma(alpha, x, y).
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z31
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX

axpy512loop64:
	CMPQ        CX, $64
	JB          axpy512loop16
	VMOVUPS     (DI), Z0
	VMOVUPS     64(DI), Z1
	VMOVUPS     128(DI), Z2
	VMOVUPS     192(DI), Z3
	VFMADD231PS (SI), Z31, Z0
	VFMADD231PS 64(SI), Z31, Z1
	VFMADD231PS 128(SI), Z31, Z2
	VFMADD231PS 192(SI), Z31, Z3
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, 64(DI)
	VMOVUPS     Z2, 128(DI)
	VMOVUPS     Z3, 192(DI)
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	JMP         axpy512loop64

axpy512loop16:
	CMPQ        CX, $16
	JB          axpy512tail
	VMOVUPS     (DI), Z0
	VFMADD231PS (SI), Z31, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         axpy512loop16

axpy512tail:
	TESTQ CX, CX
	JZ    axpy512done
	TAILMASK512
	VMOVUPS.Z   (DI), K1, Z0
	VMOVUPS.Z   (SI), K1, Z1
	VFMADD231PS Z1, Z31, Z0
	VMOVUPS     Z0, K1, (DI)

axpy512done:
	VZEROUPPER
	RET

// func scaleAVX512(alpha float32, x *float32, n int)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Z31
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX

scale512loop64:
	CMPQ    CX, $64
	JB      scale512loop16
	VMULPS  (SI), Z31, Z0
	VMULPS  64(SI), Z31, Z1
	VMULPS  128(SI), Z31, Z2
	VMULPS  192(SI), Z31, Z3
	VMOVUPS Z0, (SI)
	VMOVUPS Z1, 64(SI)
	VMOVUPS Z2, 128(SI)
	VMOVUPS Z3, 192(SI)
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     scale512loop64

scale512loop16:
	CMPQ    CX, $16
	JB      scale512tail
	VMULPS  (SI), Z31, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     scale512loop16

scale512tail:
	TESTQ CX, CX
	JZ    scale512done
	TAILMASK512
	VMOVUPS.Z (SI), K1, Z0
	VMULPS    Z0, Z31, Z0
	VMOVUPS   Z0, K1, (SI)

scale512done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA. Constants are memory operands from expc<>; tails use VMASKMOVPS with the mask
// in Y15 (TAILMASK2 from CX = remaining count, 1..7).

#define TAILMASK2 \
	LEAQ    tailmask<>+32(SB), AX \
	SHLQ    $2, CX \
	SUBQ    CX, AX \
	VMOVDQU (AX), Y15

// EXP2 computes e^X into P by the same operations as EXP512, scaling by 2^n as
// (p·2^(n>>1))·2^(n−(n>>1)) through the exponent bits.
#define EXP2(X, N, R, P, Z) \
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
	VCMPPS       $0x1e, C_HI, X, Z \
	VBLENDVPS    Z, C_INF, P, P \
	VCMPPS       $0x11, C_LO, X, Z \
	VANDNPS      P, Z, P

// func expAVX2(dst, x *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

exp2loop16:
	CMPQ    CX, $16
	JB      exp2loop8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	EXP2(Y0, Y1, Y2, Y3, Y4)
	EXP2(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y3, (DI)
	VMOVUPS Y8, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     exp2loop16

exp2loop8:
	CMPQ    CX, $8
	JB      exp2tail
	VMOVUPS (SI), Y0
	EXP2(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX

exp2tail:
	TESTQ CX, CX
	JZ    exp2done
	TAILMASK2
	VMASKMOVPS (SI), Y15, Y0
	EXP2(Y0, Y1, Y2, Y3, Y4)
	VMASKMOVPS Y3, Y15, (DI)

exp2done:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, x *float32, n int)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ   dst+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   n+16(FP), CX
	VXORPS Y14, Y14, Y14

sig2loop8:
	CMPQ    CX, $8
	JB      sig2tail
	VSUBPS  (SI), Y14, Y0
	EXP2(Y0, Y1, Y2, Y3, Y4)
	VADDPS  C_ONE, Y3, Y3
	VMOVUPS C_ONE, Y5
	VDIVPS  Y3, Y5, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     sig2loop8

sig2tail:
	TESTQ CX, CX
	JZ    sig2done
	TAILMASK2
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS     Y0, Y14, Y0
	EXP2(Y0, Y1, Y2, Y3, Y4)
	VADDPS     C_ONE, Y3, Y3
	VMOVUPS    C_ONE, Y5
	VDIVPS     Y3, Y5, Y3
	VMASKMOVPS Y3, Y15, (DI)

sig2done:
	VZEROUPPER
	RET

// HSUM2 leaves Σ of the 8 lanes of Y0 in X0 (fixed pairwise order); clobbers Y1.
#define HSUM2 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVHLPS     X0, X0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVSHDUP    X0, X1 \
	VADDSS       X1, X0, X0

// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot2loop32:
	CMPQ        CX, $32
	JB          dot2loop8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot2loop32

dot2loop8:
	CMPQ        CX, $8
	JB          dot2tail
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot2loop8

dot2tail:
	TESTQ CX, CX
	JZ    dot2reduce
	TAILMASK2
	VMASKMOVPS  (SI), Y15, Y4
	VMASKMOVPS  (DI), Y15, Y5
	VFMADD231PS Y5, Y4, Y0

dot2reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM2
	MOVSS  X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

sum2loop32:
	CMPQ   CX, $32
	JB     sum2loop8
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	JMP    sum2loop32

sum2loop8:
	CMPQ   CX, $8
	JB     sum2tail
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    sum2loop8

sum2tail:
	TESTQ CX, CX
	JZ    sum2reduce
	TAILMASK2
	VMASKMOVPS (SI), Y15, Y4
	VADDPS     Y4, Y0, Y0

sum2reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM2
	MOVSS  X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS C_NINF, Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	VMOVAPS Y0, Y8

max2loop32:
	CMPQ    CX, $32
	JB      max2loop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS  Y0, Y4, Y0
	VMAXPS  Y1, Y5, Y1
	VMAXPS  Y2, Y6, Y2
	VMAXPS  Y3, Y7, Y3
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     max2loop32

max2loop8:
	CMPQ    CX, $8
	JB      max2tail
	VMOVUPS (SI), Y4
	VMAXPS  Y0, Y4, Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     max2loop8

max2tail:
	TESTQ CX, CX
	JZ    max2reduce
	TAILMASK2
	VMASKMOVPS (SI), Y15, Y4
	VBLENDVPS  Y15, Y4, Y8, Y4
	VMAXPS     Y0, Y4, Y0

max2reduce:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y14
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX

axpy2loop32:
	CMPQ        CX, $32
	JB          axpy2loop8
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     64(DI), Y2
	VMOVUPS     96(DI), Y3
	VFMADD231PS (SI), Y14, Y0
	VFMADD231PS 32(SI), Y14, Y1
	VFMADD231PS 64(SI), Y14, Y2
	VFMADD231PS 96(SI), Y14, Y3
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	VMOVUPS     Y2, 64(DI)
	VMOVUPS     Y3, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         axpy2loop32

axpy2loop8:
	CMPQ        CX, $8
	JB          axpy2tail
	VMOVUPS     (DI), Y0
	VFMADD231PS (SI), Y14, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axpy2loop8

axpy2tail:
	TESTQ CX, CX
	JZ    axpy2done
	TAILMASK2
	VMASKMOVPS  (DI), Y15, Y0
	VMASKMOVPS  (SI), Y15, Y1
	VFMADD231PS Y1, Y14, Y0
	VMASKMOVPS  Y0, Y15, (DI)

axpy2done:
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x *float32, n int)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Y14
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX

scale2loop32:
	CMPQ    CX, $32
	JB      scale2loop8
	VMULPS  (SI), Y14, Y0
	VMULPS  32(SI), Y14, Y1
	VMULPS  64(SI), Y14, Y2
	VMULPS  96(SI), Y14, Y3
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, 32(SI)
	VMOVUPS Y2, 64(SI)
	VMOVUPS Y3, 96(SI)
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     scale2loop32

scale2loop8:
	CMPQ    CX, $8
	JB      scale2tail
	VMULPS  (SI), Y14, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     scale2loop8

scale2tail:
	TESTQ CX, CX
	JZ    scale2done
	TAILMASK2
	VMASKMOVPS (SI), Y15, Y0
	VMULPS     Y0, Y14, Y0
	VMASKMOVPS Y0, Y15, (SI)

scale2done:
	VZEROUPPER
	RET
