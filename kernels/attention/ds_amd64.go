//go:build amd64 && !purego

package attention

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
