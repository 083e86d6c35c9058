package attention

import (
	"sync"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/tensors"
)

// bf16 tile products (Params.BF16). Every tile product reads bfloat16 operands (round to
// nearest even, tensors.F32ToBF16) and accumulates in float32 with gemm.SgemmBF16Serial
// (VDPBF16PS where the CPU has AVX512_BF16, the widening float32 kernels elsewhere):
//
//	forward:  S = scale·bf16(q)·bf16(k)ᵀ,  o += bf16(P)·bf16(v)
//	backward: S as above, dP = bf16(do)·bf16(v)ᵀ, dv += bf16(P)ᵀ·bf16(do),
//	          dk += scale·bf16(dS)ᵀ·bf16(q), dq += scale·bf16(dS)·bf16(k)
//
// Softmax, its statistics (m, l, lse), D = rowsum(do ⊙ o), dS = P ⊙ (dP − D), the output
// normalisation and every output stay float32. q, k, v (and do) are rounded once per call into
// whole-tensor copies; P and dS once per element (by the GEMM while it packs them,
// gemm.SgemmBF16RoundSerial, in the flash tiles; into bf16 rows in the dense path). The error is that of rounding each operand
// (relative 2⁻⁹) on top of the float32 one: about 2⁻⁸·(reduction length)·(magnitude) worst
// case, usually far less (the tests allow 2⁻⁸ per product in the chain).

// in16 holds the bf16 copies of one call's inputs.
type in16 struct {
	q, k, v, do []uint16 // [T, H, Dh], [T, K, Dh], [T, K, Dh], [T, H, Dh] (do: backward only)
}

// bufs16 recycles the whole-tensor bf16 copies between calls (fresh megabyte-sized slices
// would cost page faults and GC work comparable to the rounding itself).
var bufs16 sync.Pool

// round16 returns x rounded to bf16 in a recycled buffer (nil for nil); release returns it.
func round16(x []float32) []uint16 {
	if x == nil {
		return nil
	}
	var y []uint16
	if b, ok := bufs16.Get().(*[]uint16); ok && cap(*b) >= len(x) {
		y = (*b)[:len(x)]
	} else {
		y = make([]uint16, len(x))
	}
	tensors.F32ToBF16(y, x)
	return y
}

// release recycles the copies of in.
func (in *in16) release() {
	for _, b := range [][]uint16{in.q, in.k, in.v, in.do} {
		if b != nil {
			bufs16.Put(&b)
		}
	}
}

// mm16 is mm on bf16 operands (row-major, leading dimensions in elements).
func mm16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	gemm.SgemmBF16Serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gather16 copies the G·Dh values of kv group kh for tokens [i0, i0+n) of x [T, H, Dh] into
// dst [n·G, Dh].
func (p *plan) gather16(dst, x []uint16, i0, n, kh int) {
	w := p.groups * p.Dh
	for r := range n {
		copy(dst[r*w:(r+1)*w], x[(i0+r)*p.H*p.Dh+kh*w:][:w])
	}
}

// mmR16 is C += alpha·op(A)·B with A float32 (op(A) = A [m, k], or Aᵀ with A stored [k, m]
// when transA), rounded to bf16 while packed, and B [k, n] bf16.
func mmR16(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, c []float32, ldc int) {
	gemm.SgemmBF16RoundSerial(transA, false, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc)
}

// ensure16 sizes the scratch's bf16 buffers for R rows.
func (s *scratch) ensure16(p *plan) {
	if n := p.groups * p.br * p.Dh; len(s.qs16) < n {
		s.qs16, s.dos16 = make([]uint16, n), make([]uint16, n)
	}
}

// b2i is 1 for true, 0 for false (assembly flags).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
