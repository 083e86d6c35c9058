package moe

import "github.com/glmflow/glmflow/kernels/gemm" // fp32 GEMM: AVX-512/AVX2 assembly, pure-Go fallback

// GEMMs run in kernels/gemm: Sgemm for the router (threaded by gemm over gemm.Threads()),
// GroupedSgemm/GroupedSgemmTN for the experts. gemm's reduction blocking depends on k alone, so
// its results do not depend on its tiling or thread count either.

// mm is gemm.Sgemm with empty shapes handled here (gemm rejects leading dimensions of 0):
// k == 0 leaves C = beta·C with beta ∈ {0, 1}.
func mm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch {
	case m == 0 || n == 0:
	case k == 0:
		if beta == 0 {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
	default:
		gemm.Sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
	}
}

// offsInt converts expert offsets to the []int gemm's grouped calls take.
func offsInt(offs []int32) []int {
	o := make([]int, len(offs))
	for i, v := range offs {
		o[i] = int(v)
	}
	return o
}
