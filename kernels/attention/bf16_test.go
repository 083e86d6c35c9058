package attention

import (
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
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
