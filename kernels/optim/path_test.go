package optim

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

// TestPathsAgree checks that the AVX2 and AVX-512 kernels give identical bits: AdamW issues the
// same operations per element, and the float64 sum of squares uses the same 32-lane layout
// and lane tree on both paths.
func TestPathsAgree(t *testing.T) {
	ps := asmPaths()
	if len(ps) < 2 {
		t.Skip("needs both assembly paths")
	}
	saved := path
	defer setPath(saved)
	c := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	for _, n := range []int{1, 3, 4, 5, 8, 9, 31, 33, 47, 4095, 4097, 10001} {
		r := kerneltest.RNG(uint64(n))
		p0, g := kerneltest.Normal(r, n, 1), kerneltest.Normal(r, n, 0.1)
		run := func() ([]float32, float64) {
			p, m, v := append([]float32(nil), p0...), make([]float32, n), make([]float32, n)
			for step := 1; step <= 3; step++ {
				_ = c.Step(p, g, m, v, step)
			}
			return append(append(p, m...), v...), GlobalNorm([][]float32{p0, g})
		}
		setPath(ps[0])
		want, wn := run()
		setPath(ps[1])
		got, gn := run()
		if wn != gn {
			t.Fatalf("n=%d: GlobalNorm %s %.17g, %s %.17g", n, pathNames[ps[0]], wn, pathNames[ps[1]], gn)
		}
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("n=%d: AdamW element %d: %s %g, %s %g", n, i, pathNames[ps[0]], want[i], pathNames[ps[1]], got[i])
			}
		}
	}
}
