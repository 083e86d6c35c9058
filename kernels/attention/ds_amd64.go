//go:build amd64 && !purego

package attention

import simdpath "github.com/glmflow/glmflow/kernels/internal/simd"

// dsAVX512 and dsAVX2 (ds_amd64.s) set dp[i] = p[i]·(dp[i] − d) for i < n; n ≥ 0.

//go:noescape
func dsAVX512(p, dp *float32, n int, d float32)

//go:noescape
func dsAVX2(p, dp *float32, n int, d float32)

// dsAsm is dS = P ⊙ (dP − d) into dp on one row with the active path; len(p) > 0, len(dp) ≥ len(p).
func dsAsm(p, dp []float32, d float32) {
	dp = dp[:len(p)]
	if path == pathAVX512 {
		dsAVX512(&p[0], &dp[0], len(p), d)
	} else {
		dsAVX2(&p[0], &dp[0], len(p), d)
	}
}

// expSumAVX512 and expSumAVX2 (softmax_amd64.s) set x[i] = e^(x[i] − m) for i < n and return
// the sum; n ≥ 0, x[i] − m ≤ 88.7.

//go:noescape
func expSumAVX512(x *float32, n int, m float32) float32

//go:noescape
func expSumAVX2(x *float32, n int, m float32) float32

// expSumAsm is expSum with the active SIMD path; len(x) > 0.
func expSumAsm(x []float32, m float32) float32 {
	if path == pathAVX512 {
		return expSumAVX512(&x[0], len(x), m)
	}
	return expSumAVX2(&x[0], len(x), m)
}

// probsDS16AVX512 (softmax_amd64.s) does one row of the dense transposed backward for
// i < 16·n16: P = e^(st[i] − lse[i]), dS = P·(dpt[i] − d[i]), stored only as bf16 into p16
// and ds16, with the bits of expSubRow, dsSubRow and tensors.F32ToBF16. With cvt != 0
// (AVX512_BF16) the rounding is VCVTNEPS2BF16's, one instruction instead of nine: the same
// bits except that float32 denormals (|x| < 2⁻¹²⁶) become ±0 and NaNs are quieted with their
// top payload bits kept. P and dS rows only feed VDPBF16PS, which reads bf16 denormals as zero
// anyway; what differs is a denormal that F32ToBF16 rounds up to ±2⁻¹²⁶, a product change
// below 2⁻¹²⁶·|b|.
//
//go:noescape
func probsDS16AVX512(st, dpt, lse, d *float32, p16, ds16 *uint16, n16, cvt int)

// cvt16 selects the VCVTNEPS2BF16 rounding of probsDS16AVX512 and expSum16AVX512 (where the
// CPU has AVX512_BF16; tests turn it off to compare with ROUND16).
var cvt16 = b2i(simdpath.BF16())

// probsDSRow16 runs probsDS16AVX512 on a row when the path and length allow it (a multiple of
// 16 on the AVX-512 path) and reports whether it did.
func probsDSRow16(st, dpt, lse, d []float32, p16, ds16 []uint16) bool {
	n := len(st)
	if path != pathAVX512 || n == 0 || n%16 != 0 {
		return false
	}
	_, _, _, _, _ = dpt[n-1], lse[n-1], d[n-1], p16[n-1], ds16[n-1]
	probsDS16AVX512(&st[0], &dpt[0], &lse[0], &d[0], &p16[0], &ds16[0], n/16, cvt16)
	return true
}

// expSum16AVX512 (softmax_amd64.s) is expSumAVX512 for n = 16·n16 that writes e^(x[i] − m)
// only as bf16 into p16 (x unchanged); the sum has expSumAVX512's bits. cvt selects
// VCVTNEPS2BF16 rounding as in probsDS16AVX512.
//
//go:noescape
func expSum16AVX512(x *float32, n16 int, m float32, p16 *uint16, cvt int) float32

// expSumRow16 is expSum followed by tensors.F32ToBF16 into p16 in one pass, without the
// float32 probabilities, when the path and length allow it (AVX-512, a multiple of 16); ok
// reports whether it ran.
func expSumRow16(x []float32, m float32, p16 []uint16) (sum float32, ok bool) {
	n := len(x)
	if path != pathAVX512 || n == 0 || n%16 != 0 {
		return 0, false
	}
	_ = p16[n-1]
	return expSum16AVX512(&x[0], n/16, m, &p16[0], cvt16), true
}
