package main

// expConsts are the constants expNeg reads (as memory operands or AVX-512 registers).
var expConsts = []string{"LOG2E", "LN2HI", "LN2LO", "EC6", "EC5", "EC4", "EC3", "EC2", "ONE", "I127"}

// expNeg returns a new temporary holding e^x for x ≤ 0 (x is preserved), by kernels/vec's
// reduction: n = rne(x·log2e), r = x − n·ln2hi − n·ln2lo, p = Σ EC_k·r^k (Horner), e^x = p·2^n.
// Unlike EXP512/EXP2 it has no range checks: arguments must be ≥ EXPMIN (or pass clamp, which
// needs the regConst EXPMIN and keeps NaN), so 2^n ≥ 2^−151 and the one scaling rounding gives
// the same bits on both paths: VSCALEFPS on AVX-512, (p·2^(n>>1))·2^(n−(n>>1)) on AVX2 (the
// first factor is exact). Results below 2^−126 are correctly rounded subnormals.
//
// n, if not empty, is a register to use for n (it is overwritten). adjust, if not nil, is
// called with r after the reduction (GELU folds a correction term into it).
func (b *ctx) expNeg(x string, clamp bool, adjust func(r string)) string {
	if clamp {
		c := b.t()
		b.i("VMAXPS %s, %s, %s", x, b.s("EXPMIN"), c) // max(EXPMIN, x); NaN x stays NaN
		x = c
	}
	n, r, p, z := b.t(), b.t(), b.t(), b.t()
	b.i("VMULPS %s, %s, %s", b.c("LOG2E"), x, n)
	b.expTail(x, n, r, p, z, adjust)
	return p
}

// expTail finishes e^x from n = x·log2e (unrounded) into p, using r and z as scratch.
func (b *ctx) expTail(x, n, r, p, z string, adjust func(r string)) {
	if b.isa.vreg == "Z" {
		b.i("VRNDSCALEPS $8, %s, %s", n, n)
	} else {
		b.i("VROUNDPS $8, %s, %s", n, n)
	}
	b.i("VMOVAPS %s, %s", x, r)
	b.i("VFNMADD231PS %s, %s, %s", b.c("LN2HI"), n, r)
	b.i("VFNMADD231PS %s, %s, %s", b.c("LN2LO"), n, r)
	if adjust != nil {
		adjust(r)
	}
	b.expPoly(n, r, p, z, false)
}

// expPoly sets p = e^r·2^n from the reduced argument r and the integer-valued n (overwritten),
// with z as scratch. With u, r holds u = −2r and the UC coefficients are used (same bits).
func (b *ctx) expPoly(n, r, p, z string, u bool) {
	cs := []string{"EC6", "EC5", "EC4", "EC3", "EC2", "ONE", "ONE"}
	if u {
		cs = []string{"UC6", "UC5", "UC4", "UC3", "UC2", "UC1", "ONE"}
	}
	b.i("VMOVUPS %s, %s", b.c(cs[0]), p)
	for _, c := range cs[1:] {
		b.i("VFMADD213PS %s, %s, %s", b.c(c), r, p)
	}
	if b.isa.vreg == "Z" {
		b.i("VSCALEFPS %s, %s, %s", n, p, p)
		return
	}
	b.i("VCVTPS2DQ %s, %s", n, n)
	b.i("VPSRAD $1, %s, %s", n, z)
	b.i("VPSUBD %s, %s, %s", z, n, n)
	b.i("VPADDD %s, %s, %s", b.c("I127"), z, z)
	b.i("VPSLLD $23, %s, %s", z, z)
	b.i("VMULPS %s, %s, %s", z, p, p)
	b.i("VPADDD %s, %s, %s", b.c("I127"), n, n)
	b.i("VPSLLD $23, %s, %s", n, n)
	b.i("VMULPS %s, %s, %s", n, p, p)
}
