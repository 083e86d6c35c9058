package gemm

import "fmt"

// Grouped GEMMs for mixture-of-experts layers: tokens are sorted by expert, so expert g owns
// the row block offs[g]..offs[g+1] (possibly empty) of the activations, and the expert
// weights are one contiguous tensor [E, ...] with a fixed stride between experts. Every
// group's tiles go into one task list, so small groups still keep all threads busy.

// GroupedSgemm computes, for every group g (G = len(offs)-1, rows = offs[g]:offs[g+1]):
//
//	C[rows, 0:n] = alpha · A[rows, 0:k] · op(B_g) + beta · C[rows, 0:n]
//
// A is [offs[G], k] (lda), C is [offs[G], n] (ldc), and B_g = b[g·strideB:] is stored
// [k, n] (ldb), or [n, k] when transB. For expert weights W [E, out, in] (strideB = out·in):
//
//	forward     Y_g [m_g, out] = X_g [m_g, in] · W_gᵀ    transB = true,  n = out, k = in, ldb = in
//	input grad  dX_g [m_g, in] = dY_g [m_g, out] · W_g   transB = false, n = in, k = out, ldb = in
//
// offs must be non-decreasing and start at 0 or above. Panics like Sgemm on bad shapes.
func GroupedSgemm(transB bool, offs []int, n, k int, alpha float32, a []float32, lda int, b []float32, ldb, strideB int, beta float32, c []float32, ldc int) {
	ps := make([]problem, 0, max(len(offs)-1, 0))
	for g := 0; g+1 < len(offs); g++ {
		r0, r1 := offs[g], offs[g+1]
		if r0 < 0 || r1 < r0 {
			panic(fmt.Sprintf("gemm.GroupedSgemm: offs not non-decreasing at group %d: %d..%d", g, r0, r1))
		}
		p := problem{transB: transB, m: r1 - r0, n: n, k: k, alpha: alpha, beta: beta,
			a: tail(a, r0*lda), lda: lda, b: tail(b, g*strideB), ldb: ldb, c: tail(c, r0*ldc), ldc: ldc}
		p.check("GroupedSgemm", 1, 0, 0, 0)
		ps = append(ps, p)
	}
	run(ps, Threads())
}

// GroupedSgemmTN is the weight-gradient form: groups split the reduction dimension.
// For every group g (rows = offs[g]:offs[g+1]):
//
//	C_g[m, n] = alpha · A[rows, 0:m]ᵀ · B[rows, 0:n] + beta · C_g
//
// A is [offs[G], m] (lda), B is [offs[G], n] (ldb), C_g = c[g·strideC:] is [m, n] (ldc).
// With dY [T, n_out], X [T, n_in] and dW [E, n_out, n_in]: A = dY, B = X, m = n_out,
// n = n_in, strideC = n_out·n_in. An empty group still sets C_g = beta·C_g.
func GroupedSgemmTN(offs []int, m, n int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc, strideC int) {
	ps := make([]problem, 0, max(len(offs)-1, 0))
	if len(offs) > 2 && strideC < extent(m, n, ldc) {
		panic(fmt.Sprintf("gemm.GroupedSgemmTN: strideC=%d overlaps outputs (need ≥ %d)", strideC, extent(m, n, ldc)))
	}
	for g := 0; g+1 < len(offs); g++ {
		r0, r1 := offs[g], offs[g+1]
		if r0 < 0 || r1 < r0 {
			panic(fmt.Sprintf("gemm.GroupedSgemmTN: offs not non-decreasing at group %d: %d..%d", g, r0, r1))
		}
		p := problem{transA: true, m: m, n: n, k: r1 - r0, alpha: alpha, beta: beta,
			a: tail(a, r0*lda), lda: lda, b: tail(b, r0*ldb), ldb: ldb, c: tail(c, g*strideC), ldc: ldc}
		p.check("GroupedSgemmTN", 1, 0, 0, 0)
		ps = append(ps, p)
	}
	run(ps, Threads())
}
