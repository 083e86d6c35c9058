package softmax

import (
	"math"
	"runtime"
	"slices"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

var rcShapes = [][2]int{{1, 1}, {3, 7}, {5, 130}, {4, 5000}, {2, Chunk + 3}}

func TestSoftmaxVsReference(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for k, s := range rcShapes {
			R, C := s[0], s[1]
			r := kt.RNG(uint64(k))
			x := kt.Normal(r, R*C, 3)
			dy := kt.Normal(r, R*C, 1)
			y := make([]float32, R*C)
			kt.Poison(y)
			if err := Forward(y, x, R, C); err != nil {
				t.Fatal(err)
			}
			want := make([]float64, R*C)
			RefForward(want, kt.F64(x), R, C)
			// Per element: the row sum (C terms, relative error ≤ C·eps) and exp of a rounded
			// x − max (relative error ≤ eps·|x − max|).
			spread := xSpread(x, R, C)
			name := kt.Shape(R, C)
			kt.Close(t, name+" y", y, want, func(i int) float64 {
				return kt.Tol(4, C+int(spread[i/C])+4, kt.Eps32, want[i], 1e-37)
			})

			// Backward on the same fp32 y in both precisions: only backward's own rounding counts.
			dx := make([]float32, R*C)
			kt.Poison(dx)
			if err := Backward(dx, y, dy, R, C); err != nil {
				t.Fatal(err)
			}
			y64, dy64 := kt.F64(y), kt.F64(dy)
			wantDx := make([]float64, R*C)
			RefBackward(wantDx, y64, dy64, R, C)
			dmag := make([]float64, R) // Σ|dy·y| per row
			for i := range y64 {
				dmag[i/C] += math.Abs(dy64[i] * y64[i])
			}
			kt.Close(t, name+" dx", dx, wantDx, func(i int) float64 {
				return kt.Tol(4, C+2, kt.Eps32, math.Abs(y64[i])*(math.Abs(dy64[i])+dmag[i/C]), 1e-37)
			})

			// In place.
			yi := slices.Clone(x)
			dxi := slices.Clone(dy)
			if err := Forward(yi, yi, R, C); err != nil {
				t.Fatal(err)
			}
			if err := Backward(dxi, y, dxi, R, C); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(yi, y) || !slices.Equal(dxi, dx) {
				t.Errorf("%s: in-place results differ", name)
			}
		}
	})
}

// xSpread is max(x) − min(x) of each row, the largest |x − max| exp sees.
func xSpread(x []float32, R, C int) []float64 {
	out := make([]float64, R)
	for r := range R {
		lo, hi := slices.Min(x[r*C:(r+1)*C]), slices.Max(x[r*C:(r+1)*C])
		out[r] = float64(hi - lo)
	}
	return out
}

func TestSoftmaxRefGradCheck(t *testing.T) {
	const R, C = 3, 9
	r := kt.RNG(40)
	x, w := kt.F64(kt.Normal(r, R*C, 2)), kt.F64(kt.Normal(r, R*C, 1))
	y := make([]float64, R*C)
	RefForward(y, x, R, C)
	dx := make([]float64, R*C)
	RefBackward(dx, y, w, R, C)
	kt.GradCheck(t, "softmax", x, dx, func(x []float64) float64 {
		RefForward(y, x, R, C)
		return kt.Dot64(y, w)
	}, 1e-6, 1e-6, 1e-9, 0)
}

func TestSoftmaxHuge(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const R, C = 2, 300
		x := kt.Normal(kt.RNG(41), R*C, 1e4)
		y := make([]float32, R*C)
		if err := Forward(y, x, R, C); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, R*C)
		RefForward(want, kt.F64(x), R, C)
		spread := xSpread(x, R, C)
		kt.Close(t, "huge y", y, want, func(i int) float64 {
			return kt.Tol(4, C+int(spread[i/C])+4, kt.Eps32, want[i], 1e-37)
		})
	})
}

func TestSoftmaxThreadInvariant(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const R, C = 64, 1000
		x := kt.Normal(kt.RNG(42), R*C, 3)
		dy := kt.Normal(kt.RNG(43), R*C, 1)
		both := func() ([]float32, []float32) {
			y, dx := make([]float32, R*C), make([]float32, R*C)
			if err := Forward(y, x, R, C); err != nil {
				t.Fatal(err)
			}
			if err := Backward(dx, y, dy, R, C); err != nil {
				t.Fatal(err)
			}
			return y, dx
		}
		prev := runtime.GOMAXPROCS(1)
		y1, d1 := both()
		runtime.GOMAXPROCS(max(prev, 2))
		y2, d2 := both()
		runtime.GOMAXPROCS(prev)
		if !slices.Equal(y1, y2) || !slices.Equal(d1, d2) {
			t.Error("softmax depends on the thread count")
		}
	})
}

func TestSoftmaxErrors(t *testing.T) {
	x := make([]float32, 12)
	for i, err := range []error{
		Forward(x[:11], x, 3, 4),
		Forward(x, x, 3, 0),
		Forward(x, x, -1, 4),
		Backward(x, x[:11], x, 3, 4),
	} {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
