package attention

import (
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// testPaths are the compute paths every numerical test runs on: this package's plain-Go path,
// its AVX2 and AVX-512 paths with the matching gemm microkernel, and AVX-512 with gemm's
// portable kernel. Package vec keeps its own best path (it has no
// exported switch; its tests force its paths).
var testPaths = []struct {
	name string
	own  int
	gemm gemm.Path
}{
	{"go", pathGo, gemm.PathGeneric},
	{"avx2", pathAVX2, gemm.PathAVX2},
	{"avx512", pathAVX512, gemm.PathAVX512},
	{"avx512-gemm-generic", pathAVX512, gemm.PathGeneric},
}

// forEachPath runs f as a subtest per path, skipping (with the reason) paths this CPU lacks.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	for _, tp := range testPaths {
		t.Run(tp.name, func(t *testing.T) {
			if !gemm.Available(tp.gemm) || !available(tp.own) {
				t.Skipf("path %s not available on this CPU/build", tp.name)
			}
			prevGemm, prevOwn := gemm.ForcePath(tp.gemm), path
			path = tp.own
			defer func() { gemm.ForcePath(prevGemm); path = prevOwn }()
			f(t)
		})
	}
}

// TestDSRowPaths checks the dS assembly against the Go loop, bit for bit, for every length up
// to a few vectors (masked and scalar tails) and with NaN/Inf-free random data.
func TestDSRowPaths(t *testing.T) {
	for _, own := range []int{pathAVX2, pathAVX512} {
		if !available(own) {
			t.Logf("path %d not available on this CPU/build: skipped", own)
			continue
		}
		prev := path
		path = own
		for n := 0; n <= 70; n++ {
			p := kerneltest.Normal(kerneltest.RNG(uint64(n)), n+1, 1)
			dp := kerneltest.Normal(kerneltest.RNG(uint64(100+n)), n+1, 1)
			want := append([]float32(nil), dp...)
			dsGo(p[:n], want, 0.37)
			got := append([]float32(nil), dp...)
			dsRow(p[:n], got, 0.37)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					path = prev
					t.Fatalf("path %d n=%d: element %d = %g, want %g (element n must be untouched)", own, n, i, got[i], want[i])
				}
			}
		}
		path = prev
	}
}

// TestExpSumPaths checks the fused exp-and-sum assembly against the float64 exp for every
// length up to a few vectors (masked and scalar tails), with −Inf and underflowing entries
// (exactly 0) and the element past the row untouched.
func TestExpSumPaths(t *testing.T) {
	for _, own := range []int{pathAVX2, pathAVX512} {
		if !available(own) {
			t.Logf("path %d not available on this CPU/build: skipped", own)
			continue
		}
		prev := path
		path = own
		for n := 0; n <= 70; n++ {
			x := kerneltest.Normal(kerneltest.RNG(uint64(200+n)), n+1, 4)
			if n > 3 {
				x[1], x[n-2] = float32(math.Inf(-1)), -95
			}
			const m = 3.5
			got := append([]float32(nil), x...)
			sum := expSum(got[:n], m)
			var want float64
			for i := range n {
				y := x[i] - m // the kernel rounds x − m to float32 first
				w := math.Exp(float64(y))
				if y < -87.33654 { // below the smallest normal result: flushed to 0
					if got[i] != 0 {
						t.Fatalf("path %d n=%d: exp(%g) = %g, want exactly 0", own, n, y, got[i])
					}
					continue
				}
				if math.Abs(float64(got[i])-w) > 2.5e-7*w {
					t.Fatalf("path %d n=%d: element %d = %g, want %g", own, n, i, got[i], w)
				}
				want += float64(got[i])
			}
			if math.Abs(float64(sum)-want) > 1e-6*want+1e-30 {
				t.Fatalf("path %d n=%d: sum %g, want %g", own, n, sum, want)
			}
			if math.Float32bits(got[n]) != math.Float32bits(x[n]) {
				t.Fatalf("path %d n=%d: element n changed", own, n)
			}
		}
		path = prev
	}
}
