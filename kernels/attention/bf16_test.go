package attention

import (
	"fmt"
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/tensors"
)

// testBF16 makes runFwdBwd set Params.BF16 and testVsReference use bf16Tol.
var testBF16 bool

// epsBF16 is the bf16 unit roundoff 2⁻⁸ (8 significand bits).
const epsBF16 = 1.0 / 256

// bf16Tol is the tolerance of the BF16 mode against the float64 reference: (c/2)·√n·2⁻⁸·mag for
// reduction length n. Each product rounds its operands to bf16 (relative error ≤ 2⁻⁹ each,
// independent between elements), so the error of a length-n sum of terms of size mag grows
// like √n·2⁻⁸·mag, not like the worst-case n·2⁻⁸·mag; the float32 part is far below it.
func bf16Tol(c float64, n int, mag float64) float64 {
	return c/2*math.Sqrt(float64(n))*epsBF16*mag + 1e-30
}

// TestVsReferenceBF16 is TestVsReference in BF16 mode on every path, the VDPBF16PS gemm path
// included, with bf16Tol, plus small tiles (online rescaling, many blocks).
func TestVsReferenceBF16(t *testing.T) {
	testBF16 = true
	defer func() { testBF16 = false }()
	forEachPath(t, testVsReference)
	t.Run("avx512-bf16", func(t *testing.T) {
		if !gemm.Available(gemm.PathAVX512BF16) || !available(pathAVX512) {
			t.Skip("no AVX512_BF16 on this CPU/build")
		}
		prevGemm, prevOwn := gemm.ForcePath(gemm.PathAVX512BF16), path
		path = pathAVX512
		defer func() { gemm.ForcePath(prevGemm); path = prevOwn }()
		testVsReference(t)
		r, b, f := rowsTarget, bc, bcFwd
		rowsTarget, bc, bcFwd = 24, 40, 8
		defer func() { rowsTarget, bc, bcFwd = r, b, f }()
		t.Run("small-tiles", testVsReference)
	})
}

// TestBF16Inputs: Forward16 and Backward16 on bf16 copies of q, k, v give the bits of Forward
// and Backward (Params.BF16) on the float32 tensors, on the dense and the flash paths; they
// refuse calls without Params.BF16 and inputs of the wrong length.
func TestBF16Inputs(t *testing.T) {
	for _, mode := range []int{denseAuto, denseNever} {
		prev := denseMode
		denseMode = mode
		for _, c := range cases {
			p := c.params()
			p.BF16 = true
			in := makeInputs(c, 3)
			nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
			out := func() [][]float32 {
				return [][]float32{make([]float32, nq), make([]float32, c.H*c.T), make([]float32, nq), make([]float32, nk), make([]float32, nk)}
			}
			want, got := out(), out()
			if err := Forward(want[0], want[1], in.q, in.k, in.v, p); err != nil {
				t.Fatal(err)
			}
			if err := Backward(want[2], want[3], want[4], in.do, in.q, in.k, in.v, want[0], want[1], p); err != nil {
				t.Fatal(err)
			}
			q16, k16, v16 := make([]uint16, nq), make([]uint16, nk), make([]uint16, nk)
			tensors.F32ToBF16(q16, in.q)
			tensors.F32ToBF16(k16, in.k)
			tensors.F32ToBF16(v16, in.v)
			if err := Forward16(got[0], got[1], q16, k16, v16, p); err != nil {
				t.Fatal(err)
			}
			if err := Backward16(got[2], got[3], got[4], in.do, q16, k16, v16, got[0], got[1], p); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("%s dense=%v, bf16 inputs vs float32", c.name, mode), got, want)
			p.BF16 = false
			if Forward16(got[0], got[1], q16, k16, v16, p) == nil || Backward16(got[2], got[3], got[4], in.do, q16, k16, v16, got[0], got[1], p) == nil {
				t.Errorf("%s: bf16 inputs without Params.BF16 accepted", c.name)
			}
			p.BF16 = true
			if Forward16(got[0], got[1], q16[1:], k16, v16, p) == nil || Backward16(got[2], got[3], got[4], in.do, q16, k16, v16[1:], got[0], got[1], p) == nil {
				t.Errorf("%s: short bf16 input accepted", c.name)
			}
		}
		denseMode = prev
	}
}
