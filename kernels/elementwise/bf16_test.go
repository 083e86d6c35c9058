package elementwise

import (
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

// TestSwiGLUBF16 checks the bf16-output variants on every path: bit for bit the float32 op
// followed by tensors.F32ToBF16 (lengths crossing the chunk and parallel-split boundaries),
// and within bf16 rounding (2⁻⁸ relative) of the float64 reference.
func TestSwiGLUBF16(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := kerneltest.RNG(23)
		for _, n := range []int{1, 17, chunk, chunk + 3, 3*chunk - 1, parallelMin + 5} {
			g, u, d := kerneltest.Uniform(r, n, -8, 8), kerneltest.Uniform(r, n, -3, 3), kerneltest.Uniform(r, n, -2, 2)
			o, dg, du := make([]float32, n), make([]float32, n), make([]float32, n)
			if err := SwiGLU(o, g, u); err != nil {
				t.Fatal(err)
			}
			if err := SwiGLUBackward(dg, du, d, g, u); err != nil {
				t.Fatal(err)
			}
			o16, dg16, du16 := make([]uint16, n), make([]uint16, n), make([]uint16, n)
			if err := SwiGLUBF16(o16, g, u); err != nil {
				t.Fatal(err)
			}
			if err := SwiGLUBackwardBF16(dg16, du16, d, g, u); err != nil {
				t.Fatal(err)
			}
			wo, wdg, wdu := make([]float64, n), make([]float64, n), make([]float64, n)
			RefSwiGLU(wo, kerneltest.F64(g), kerneltest.F64(u))
			RefSwiGLUBackward(wdg, wdu, kerneltest.F64(d), kerneltest.F64(g), kerneltest.F64(u))
			for _, c := range []struct {
				name string
				f32  []float32
				got  []uint16
				ref  []float64
			}{{"out", o, o16, wo}, {"dg", dg, dg16, wdg}, {"du", du, du16, wdu}} {
				want := make([]uint16, n)
				tensors.F32ToBF16(want, c.f32)
				for i := range want {
					if c.got[i] != want[i] {
						t.Fatalf("n=%d %s[%d] = %#04x, want %#04x (bf16 of the float32 op)", n, c.name, i, c.got[i], want[i])
					}
					v := float64(tensors.BF16ToF32Scalar(c.got[i]))
					if math.Abs(v-c.ref[i]) > math.Abs(c.ref[i])/256+1e-6 {
						t.Fatalf("n=%d %s[%d] = %g, reference %g", n, c.name, i, v, c.ref[i])
					}
				}
			}
		}
	})
}

func TestSwiGLUBF16Errors(t *testing.T) {
	x := make([]float32, 4)
	if err := SwiGLUBF16(make([]uint16, 3), x, x); err == nil {
		t.Error("SwiGLUBF16: short out accepted")
	}
	if err := SwiGLUBackwardBF16(make([]uint16, 4), make([]uint16, 5), x, x, x); err == nil {
		t.Error("SwiGLUBackwardBF16: long du accepted")
	}
	if err := SwiGLUBackwardBF16(make([]uint16, 4), make([]uint16, 4), x, x, x[:3]); err == nil {
		t.Error("SwiGLUBackwardBF16: short u accepted")
	}
}
