package attention

import (
	simdpath "github.com/glmflow/glmflow/kernels/internal/simd"
	"math"

	"github.com/glmflow/glmflow/kernels/gemm" // serial tile GEMM (AVX-512 / AVX2 microkernels)
	"github.com/glmflow/glmflow/kernels/vec"  // SIMD exp and row reductions
)

// Compute paths of this package, the best the CPU supports (kernels/internal/simd), switched by tests only
// (not while a call runs):
//   - pathAVX512, pathAVX2: tile products on gemm.SgemmSerial, row max/sum/exp/scale on
//     package vec (each of which dispatches on its own; gemm.ForcePath switches the GEMM), and
//     this package's assembly for dS = P ⊙ (dP − D) (ds_amd64.s) at that vector width;
//   - pathGo: everything in plain Go in this file — the fallback on other GOARCHes, the purego
//     tag and CPUs without AVX2+FMA.
const (
	pathGo     = simdpath.Generic
	pathAVX2   = simdpath.AVX2
	pathAVX512 = simdpath.AVX512
)

var path = simdpath.Best()

// available reports whether this build and CPU can run path p.
func available(p int) bool { return simdpath.Available(p) }

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

// packed is a B operand op(B) [k, n] that several tile products share: packed once for
// gemm.SgemmPackedB on the SIMD paths, kept as the source matrix for mmGo on pathGo.
type packed struct {
	pb     gemm.PackedB
	transB bool
	b      []float32
	ldb    int
}

// pack records op(B) [k, n] (B stored [k, n], or [n, k] when transB, leading dimension ldb).
func (x *packed) pack(transB bool, k, n int, b []float32, ldb int) {
	x.transB, x.b, x.ldb = transB, b, ldb
	if simd() {
		x.pb.Pack(transB, k, n, b, ldb)
	}
}

// mmP is C = alpha·A·op(B)[:k, :n] + beta·C with op(B) from x (A row-major, read in place by
// the GEMM when lda == ldt).
func mmP(m, n, k int, alpha float32, a []float32, lda int, x *packed, beta float32, c []float32, ldc int) {
	if simd() {
		gemm.SgemmPackedB(m, n, k, alpha, a, lda, &x.pb, beta, c, ldc)
		return
	}
	mmGo(false, x.transB, m, n, k, alpha, a, lda, x.b, x.ldb, beta, c, ldc)
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

// maxBc bounds the key tile width (gemm.PackedMaxK: score tiles are read in place as A).
const maxBc = 512

// expSum sets x[i] = exp(x[i] − m) and returns Σ x[i], in one pass on the SIMD paths; inputs
// satisfy x[i] − m ≤ 88.7 (m is the row max or the row's logsumexp), and −Inf gives 0.
func expSum(x []float32, m float32) float32 {
	if simd() && len(x) > 0 {
		return expSumAsm(x, m)
	}
	return expSumGo(x, m)
}

func expSumGo(x []float32, m float32) float32 {
	var s float32
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v - m)))
		s += x[i]
	}
	return s
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

// softmaxTile is the online-softmax step of one score tile s [R, nc] (leading dim ldt): per row
// r, with m_new = max(m[r], max_c s[r,c]), it sets s[r,c] = exp(s[r,c] − m_new),
// l[r] = l[r]·exp(m[r] − m_new) + Σ_c s[r,c], acc[r, :Dh] *= exp(m[r] − m_new) and m[r] = m_new.
// Rows with nothing visible yet (m_new = −Inf) get P = 0 and keep l = 0, acc = 0. al [R] is
// scratch.
func softmaxTile(s []float32, R, nc int, m, l, al, acc []float32, Dh int) {
	rs := al[R:]
	for r := range R {
		row := s[r*ldt : r*ldt+nc]
		mNew := max(m[r], rowMax(row))
		if mNew == negInf {
			clear(row)
			al[r], rs[r] = 0, 0
			continue
		}
		rs[r] = expSum(row, mNew)
		al[r] = m[r] - mNew // exp → 0 when m[r] = −Inf
		m[r] = mNew
	}
	expRow(al[:R])
	for r := range R {
		l[r] = l[r]*al[r] + rs[r]
		if al[r] != 1 {
			scale(al[r], acc[r*Dh:(r+1)*Dh])
		}
	}
}

// probsDS turns the scores S [R, nc] in P (leading dim ldt) into P = exp(S − lse[r]) and the
// dP [R, nc] in dS (leading dim ldt) into dS = P ⊙ (dP − D[r]).
func probsDS(P, dS []float32, R, nc int, lse, D []float32) {
	for r := range R {
		p := P[r*ldt : r*ldt+nc]
		expSum(p, lse[r]) // lse = +Inf → 0
		dsRow(p, dS[r*ldt:r*ldt+nc], D[r])
	}
}

// expSubRow sets x[i] = exp(x[i] − v[i]) (v per element: the transposed backward's lse; +Inf
// gives 0). The difference is one rounded subtraction and the exponential that of expSum, so
// each element has expSum's bits.
func expSubRow(x, v []float32) {
	if simd() {
		vec.Axpy(-1, v, x) // fl(x − v): an exact negation, then one rounded add
		vec.Exp(x, x)
		return
	}
	for i, a := range x {
		x[i] = float32(math.Exp(float64(a - v[i])))
	}
}

// dsSubRow sets dp[i] = p[i]·(dp[i] − d[i]) (dsRow with d per element), with dsRow's bits.
func dsSubRow(p, dp, d []float32) {
	if simd() && len(p) > 0 {
		vec.Axpy(-1, d, dp[:len(p)])
		dsAsm(p, dp, 0)
		return
	}
	dp = dp[:len(p)]
	for i, v := range p {
		dp[i] = v * (dp[i] - d[i])
	}
}

// dsRow sets dp[i] = p[i]·(dp[i] − d): one rounded subtraction and one rounded product, so every
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
		dp[i] = v * (dp[i] - d)
	}
}
