package elementwise

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

// TestPathsAgree checks that the AVX2 and AVX-512 kernels give identical bits (they issue the
// same operations per element), over lengths that exercise every tail.
func TestPathsAgree(t *testing.T) {
	ps := asmPaths()
	if len(ps) < 2 {
		t.Skip("needs both assembly paths")
	}
	saved := path
	defer setPath(saved)
	r := kerneltest.RNG(17)
	for _, n := range []int{1, 5, 8, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 1000, 4099} {
		a := kerneltest.Uniform(r, n, -40, 40)
		b := kerneltest.Uniform(r, n, -3, 3)
		d := kerneltest.Uniform(r, n, -2, 2)
		run := func() [][]float32 {
			o := make([][]float32, 14)
			for i := range o {
				o[i] = make([]float32, n)
			}
			_ = SiLU(o[0], a)
			_ = SiLUBackward(o[1], d, a)
			_ = SwiGLU(o[2], a, b)
			_ = SwiGLUBackward(o[3], o[4], d, a, b)
			_ = Add(o[5], a, b)
			_ = Mul(o[6], a, b)
			_ = MulBackward(o[7], o[8], d, a, b)
			_ = GELU(o[9], b)
			_ = GELUBackward(o[10], d, b)
			o[11], o[12], o[13] = normalParts(a)
			return o
		}
		setPath(ps[0])
		want := run()
		setPath(ps[1])
		got := run()
		for k := range want {
			for i := range want[k] {
				if math.Float32bits(want[k][i]) != math.Float32bits(got[k][i]) {
					t.Fatalf("n=%d output %d elem %d: %s %g, %s %g", n, k, i, pathNames[ps[0]], want[k][i], pathNames[ps[1]], got[k][i])
				}
			}
		}
	}
}
