package softmax

import (
	"math"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
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

// TestPathsAgree checks that the AVX2 and AVX-512 kernels give identical bits (same operations
// per element, lane-fixed sums), over lengths that exercise every tail.
func TestPathsAgree(t *testing.T) {
	var ps []int
	for _, p := range []int{pathAVX2, pathAVX512} {
		if available(p) {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		t.Skip("needs both assembly paths")
	}
	saved := path
	defer setPath(saved)
	for _, C := range []int{1, 5, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, Chunk + 99} {
		const R = 3
		r := kt.RNG(uint64(C))
		x := kt.Normal(r, R*C, 30) // spreads past exp's underflow
		dy := kt.Normal(r, R*C, 1)
		targets := []int32{0, int32(C - 1), IgnoreIndex}
		run := func() [][]float32 {
			y, dx, dl, st := make([]float32, R*C), make([]float32, R*C), make([]float32, R*C), make([]float32, 2*R)
			_ = Forward(y, x, R, C)
			_ = Backward(dx, y, dy, R, C)
			loss, _, _ := CrossEntropy(dl, st, x, targets, R, C, 0.3)
			return [][]float32{y, dx, dl, st, {float32(loss)}}
		}
		setPath(ps[0])
		want := run()
		setPath(ps[1])
		got := run()
		for k := range want {
			for i := range want[k] {
				if math.Float32bits(want[k][i]) != math.Float32bits(got[k][i]) {
					t.Fatalf("C=%d output %d elem %d: %s %g, %s %g", C, k, i, pathNames[ps[0]], want[k][i], pathNames[ps[1]], got[k][i])
				}
			}
		}
	}
}
