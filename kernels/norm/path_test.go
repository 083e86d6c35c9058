package norm

import (
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// forEachPath runs f once per code path this CPU supports, restoring the default after.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	saved := path
	defer setPath(saved)
	for p := range pathNames {
		t.Run(pathNames[p], func(t *testing.T) {
			if !available(p) {
				t.Skipf("%s path not available on this CPU/build", pathNames[p])
			}
			setPath(p)
			f(t)
		})
	}
}

// asmPaths returns the assembly paths this CPU supports.
func asmPaths() []int {
	var ps []int
	for _, p := range []int{pathAVX2, pathAVX512} {
		if available(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// TestPathsAgree checks that the AVX2 and AVX-512 kernels give identical bits: the row
// reductions use the same 32- (or 16-) lane layout and lane tree on both paths.
func TestPathsAgree(t *testing.T) {
	ps := asmPaths()
	if len(ps) < 2 {
		t.Skip("needs both assembly paths")
	}
	saved := path
	defer setPath(saved)
	for _, sh := range [][2]int{{3, 1}, {2, 7}, {70, 33}, {5, 47}, {3, 1000}, {2, 4099}} {
		T, D := sh[0], sh[1]
		r := kerneltest.RNG(uint64(T + D))
		x := kerneltest.Normal(r, T*D, 2)
		w := kerneltest.Uniform(r, D, 0.5, 1.5)
		b := kerneltest.Uniform(r, D, -1, 1)
		dy := kerneltest.Normal(r, T*D, 1)
		run := func() []float32 {
			y, m, rs := make([]float32, T*D), make([]float32, T), make([]float32, T)
			dx, dw, db := make([]float32, T*D), make([]float32, D), make([]float32, D)
			_ = RMSNormForward(y, rs, x, w, T, D, 1e-5)
			_ = RMSNormBackward(dx, dw, dy, x, w, rs, T, D)
			out := append(append(append(append([]float32(nil), y...), rs...), dx...), dw...)
			_ = LayerNormForward(y, m, rs, x, w, b, T, D, 1e-5)
			_ = LayerNormBackward(dx, dw, db, dy, x, w, m, rs, T, D)
			return append(append(append(append(append(append(out, y...), m...), rs...), dx...), dw...), db...)
		}
		setPath(ps[0])
		want := run()
		setPath(ps[1])
		got := run()
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%s: output element %d: %s %g, %s %g", kerneltest.Shape(T, D), i, pathNames[ps[0]], want[i], pathNames[ps[1]], got[i])
			}
		}
	}
}
