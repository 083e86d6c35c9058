package norm

import (
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

// TestRMSNormBF16 checks RMSNormForwardBF16 on every path: rstd and the bf16 y bit for bit
// those of RMSNormForward followed by tensors.F32ToBF16, and y within bf16 rounding of the
// float64 reference.
func TestRMSNormBF16(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := kerneltest.RNG(31)
		for _, sz := range [][2]int{{1, 1}, {3, 17}, {5, 384}, {130, 72}} {
			T, D := sz[0], sz[1]
			x, w := kerneltest.Normal(r, T*D, 2), kerneltest.Uniform(r, D, 0.5, 1.5)
			y, rs := make([]float32, T*D), make([]float32, T)
			if err := RMSNormForward(y, rs, x, w, T, D, 1e-6); err != nil {
				t.Fatal(err)
			}
			y16, rs16 := make([]uint16, T*D), make([]float32, T)
			if err := RMSNormForwardBF16(y16, rs16, x, w, T, D, 1e-6); err != nil {
				t.Fatal(err)
			}
			want := make([]uint16, T*D)
			tensors.F32ToBF16(want, y)
			wy, wr := make([]float64, T*D), make([]float64, T)
			RefRMSNormForward(wy, wr, kerneltest.F64(x), kerneltest.F64(w), T, D, 1e-6)
			for i := range want {
				if y16[i] != want[i] {
					t.Fatalf("T=%d D=%d: y[%d] = %#04x, want %#04x", T, D, i, y16[i], want[i])
				}
				if v := float64(tensors.BF16ToF32Scalar(y16[i])); math.Abs(v-wy[i]) > math.Abs(wy[i])/256+1e-6 {
					t.Fatalf("T=%d D=%d: y[%d] = %g, reference %g", T, D, i, v, wy[i])
				}
			}
			for i := range rs {
				if math.Float32bits(rs16[i]) != math.Float32bits(rs[i]) {
					t.Fatalf("T=%d D=%d: rstd[%d] = %g, want %g", T, D, i, rs16[i], rs[i])
				}
			}
		}
	})
	x := make([]float32, 8)
	if err := RMSNormForwardBF16(make([]uint16, 7), make([]float32, 2), x, x[:4], 2, 4, 1e-6); err == nil {
		t.Error("short y accepted")
	}
	if err := RMSNormForwardBF16(make([]uint16, 8), make([]float32, 2), x, x[:4], 2, 4, -1); err == nil {
		t.Error("negative eps accepted")
	}
}
