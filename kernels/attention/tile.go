package attention

import (
	"math"

	"github.com/glmflow/glmflow/kernels/gemm" // serial tile GEMM (AVX-512 / AVX2 microkernels)
	"github.com/glmflow/glmflow/kernels/vec"  // SIMD exp and row reductions
)

// Compute paths of this package, chosen at start-up (ds_amd64.go) and switched by tests only
// (not while a call runs):
//   - pathAVX512, pathAVX2: tile products on gemm.SgemmSerial, row max/sum/exp/scale on
//     package vec (each of which dispatches on its own; gemm.ForcePath switches the GEMM), and
//     this package's assembly for dS = P ⊙ (dP − D) (ds_amd64.s) at that vector width;
//   - pathGo: everything in plain Go in this file — the fallback on other GOARCHes, the purego
//     tag and CPUs without AVX2+FMA.
const (
	pathGo = iota
	pathAVX2
	pathAVX512
)

var path = pathGo

func simd() bool { return path != pathGo }

// mm is the tile product C = alpha·op(A)·op(B) + beta·C (row-major, leading dimensions lda,
// ldb, ldc), single-threaded: callers run it inside their own parallel tasks.
// op(A) is [m, k], op(B) is [k, n]. beta is 0 or 1.
func mm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if simd() {
		gemm.SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// mmGo is the plain-Go tile product (reference for mm and the no-SIMD path).
func mmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(cr)
		}
		for p := range k {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if transB {
				for j := range cr {
					cr[j] += av * b[j*ldb+p]
				}
			} else {
				br := b[p*ldb : p*ldb+n]
				for j, bv := range br {
					cr[j] += av * bv
				}
			}
		}
	}
}

// Row helpers.

func rowMax(x []float32) float32 {
	if simd() {
		return vec.Max(x)
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func rowSum(x []float32) float32 {
	if simd() {
		return vec.Sum(x)
	}
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

// ones is a row of 1s: vec.Axpy(c, ones, x) adds the constant c to x with SIMD (x + c·1 is
// exactly x + c, fused or not).
var ones = func() []float32 {
	o := make([]float32, maxBc)
	for i := range o {
		o[i] = 1
	}
	return o
}()

// maxBc bounds the key tile width (the length of ones).
const maxBc = 512

// expShift sets x[i] = exp(x[i] − m) for len(x) ≤ maxBc; exp(−Inf) and, on the SIMD
// path, anything below −87.3 give exactly 0.
func expShift(x []float32, m float32) {
	if simd() {
		vec.Axpy(-m, ones, x)
		vec.Exp(x, x)
		return
	}
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v - m)))
	}
}

// expRow sets x[i] = exp(x[i]).
func expRow(x []float32) {
	if simd() {
		vec.Exp(x, x)
		return
	}
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v)))
	}
}

func scale(alpha float32, x []float32) {
	if simd() {
		vec.Scale(alpha, x)
		return
	}
	for i := range x {
		x[i] *= alpha
	}
}

func dot(a, b []float32) float32 {
	if simd() {
		return vec.Dot(a, b)
	}
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// dsRow sets p[i] = p[i]·(dp[i] − d): one rounded subtraction and one rounded product, so every
// path gives the same bits.
func dsRow(p, dp []float32, d float32) {
	if simd() && len(p) > 0 {
		dsAsm(p, dp, d)
		return
	}
	dsGo(p, dp, d)
}

func dsGo(p, dp []float32, d float32) {
	dp = dp[:len(p)]
	for i, v := range p {
		p[i] = v * (dp[i] - d)
	}
}
