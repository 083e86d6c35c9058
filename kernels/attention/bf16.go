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
//
// The dense path takes them head-major (each head's rows contiguous, Dh apart): its
// whole-segment products then read and pack compact blocks instead of rows H·Dh apart,
// which measured 6–9% faster on the vision shape (8 × 256 tokens, 6 heads of 64) including
// the transposing copies. The copies are made while rounding (or by headMajor16 for bf16
// inputs); the products see the same values in the same order, so results are the same bits.
type in16 struct {
	q, k, v, do []uint16 // [T, H, Dh], [T, K, Dh], [T, K, Dh], [T, H, Dh] (do: backward only)
	// headMajor: q, do are stored [H, T, Dh] and k, v [K, T, Dh] instead.
	headMajor bool
}

// round16 returns the bf16 copies of q, k, v, do (any may be nil), head-major when the
// plan runs the dense path.
func (p *plan) round16(q, k, v, do []float32) *in16 {
	if !p.headMajor() {
		return &in16{q: round16(q), k: round16(k), v: round16(v), do: round16(do)}
	}
	hm := func(x []float32, heads int) []uint16 {
		if x == nil {
			return nil
		}
		y := buf16(len(x))
		for h := range heads {
			for t := range p.T {
				tensors.F32ToBF16(y[(h*p.T+t)*p.Dh:][:p.Dh], x[(t*heads+h)*p.Dh:][:p.Dh])
			}
		}
		return y
	}
	return &in16{q: hm(q, p.H), k: hm(k, p.K), v: hm(v, p.K), do: hm(do, p.H), headMajor: true}
}

// headMajor reports whether the plan takes head-major bf16 copies (the dense path).
func (p *plan) headMajor() bool { return p.dense() && !tokenMajor16 }

// tokenMajor16 keeps the dense path on token-major copies (BenchmarkDenseHeadMajor's baseline).
var tokenMajor16 bool

// headMajor16 returns a head-major copy of x [T, heads, Dh] (bf16) in a recycled buffer.
func (p *plan) headMajor16(x []uint16, heads int) []uint16 {
	y := buf16(len(x))
	for h := range heads {
		for t := range p.T {
			copy(y[(h*p.T+t)*p.Dh:][:p.Dh], x[(t*heads+h)*p.Dh:][:p.Dh])
		}
	}
	return y
}

// at is where a head's rows start in an in16 copy and their stride.
type at struct{ off, ld int }

// layout locates token t of query head h (h ≥ 0: q, do) or of kv head −1−h (k, v).
func (in *in16) layout(p *plan, t, h int) at {
	heads := p.H
	if h < 0 {
		h, heads = -1-h, p.K
	}
	if in.headMajor {
		return at{(h*p.T + t) * p.Dh, p.Dh}
	}
	return at{(t*heads + h) * p.Dh, heads * p.Dh}
}

// bufs16 recycles the whole-tensor bf16 copies between calls (fresh megabyte-sized slices
// would cost page faults and GC work comparable to the rounding itself).
var bufs16 sync.Pool

// round16 returns x rounded to bf16 in a recycled buffer (nil for nil); release returns it.
func round16(x []float32) []uint16 {
	if x == nil {
		return nil
	}
	y := buf16(len(x))
	tensors.F32ToBF16(y, x)
	return y
}

// buf16 returns a recycled (or new) buffer of n bf16 values, contents undefined.
func buf16(n int) []uint16 {
	if b, ok := bufs16.Get().(*[]uint16); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]uint16, n)
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
