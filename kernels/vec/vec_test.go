package vec

import (
	"fmt"
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// forEachPath runs f once per code path this CPU supports, restoring the default after.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	saved := path
	defer func() { path = saved }()
	for p := range pathNames {
		t.Run(pathNames[p], func(t *testing.T) {
			if !available(p) {
				t.Skipf("%s path not available on this CPU/build", pathNames[p])
			}
			path = p
			f(t)
		})
	}
}

// ulpDiff is the distance between got and the float64 want in float32 ulps at want.
func ulpDiff(got float32, want float64) float64 {
	w := float32(want)
	if math.IsInf(float64(w), 0) || w == 0 {
		if got == w {
			return 0
		}
		return math.Inf(1)
	}
	a := float32(math.Abs(want))
	ulp := float64(math.Nextafter32(a, float32(math.Inf(1)))) - float64(a)
	return math.Abs(float64(got)-want) / ulp
}

// lengths cover empty, tails shorter than one vector, one vector, and bodies plus tails.
var lengths = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128, 129, 1000, 4099}

func TestExpAccuracy(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		// Dense sweep over the whole normal-result range plus a random sample.
		const n = 1 << 20
		x := make([]float32, 0, n+4096)
		for i := range n {
			x = append(x, expLo+(expHi-expLo)*float32(i)/n)
		}
		r := kerneltest.RNG(1)
		x = append(x, kerneltest.Uniform(r, 4096, -1, 1)...)
		x = append(x, kerneltest.Uniform(r, 4096, -1e-6, 1e-6)...)
		x = append(x, expLo, expHi, math.Nextafter32(expLo, 0), math.Nextafter32(expHi, 0), 0, float32(math.Copysign(0, -1)))
		got := make([]float32, len(x))
		kerneltest.Poison(got)
		Exp(got, x)
		worst, wi := 0.0, 0
		for i, v := range x {
			if d := ulpDiff(got[i], math.Exp(float64(v))); d > worst || d != d {
				worst, wi = d, i
			}
		}
		if worst > 2 {
			t.Errorf("Exp(%g) = %g, want %g: %.2f ulp", x[wi], got[wi], math.Exp(float64(x[wi])), worst)
		}
		t.Logf("max error %.3f ulp at x=%g", worst, x[wi])
	})
}

func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct{ x, want float32 }{
		{0, 1}, {inf, inf}, {-inf, 0}, {89, inf}, {1e30, inf}, {math.MaxFloat32, inf},
		{-88, 0}, {-100, 0}, {-1e30, 0}, {-math.MaxFloat32, 0}, {math.Nextafter32(expLo, -100), 0},
		{math.Nextafter32(expHi, 100), inf},
	}
	forEachPath(t, func(t *testing.T) {
		// Put each case at every position of a 37-long vector so body and tail code both see it.
		for _, c := range cases {
			for pos := range 37 {
				x := kerneltest.Uniform(kerneltest.RNG(2), 37, -1, 1)
				x[pos] = c.x
				got := make([]float32, len(x))
				kerneltest.Poison(got)
				Exp(got, x)
				if got[pos] != c.want || math.Signbit(float64(got[pos])) {
					t.Fatalf("Exp(%g) at %d = %g, want %g", c.x, pos, got[pos], c.want)
				}
			}
		}
		x := []float32{1, nan, 2, -nan}
		for range 5 {
			x = append(x, x...)
		}
		got := make([]float32, len(x))
		Exp(got, x)
		for i := range x {
			if (x[i] != x[i]) != (got[i] != got[i]) {
				t.Fatalf("Exp(%g) = %g", x[i], got[i])
			}
		}
	})
}

func TestExpInPlaceAndLengths(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			x := kerneltest.Uniform(kerneltest.RNG(uint64(n)), n+5, -20, 20)
			got := make([]float32, n+5)
			kerneltest.Poison(got)
			Exp(got[:n], x)
			for i := range n {
				if d := ulpDiff(got[i], math.Exp(float64(x[i]))); d > 2 {
					t.Fatalf("n=%d: Exp(%g) = %g (%.1f ulp)", n, x[i], got[i], d)
				}
			}
			for i := n; i < n+5; i++ {
				if got[i] == got[i] {
					t.Fatalf("n=%d: wrote past len(dst) at %d", n, i)
				}
			}
			y := append([]float32(nil), x[:n]...)
			Exp(y, y)
			for i := range n {
				if y[i] != got[i] {
					t.Fatalf("n=%d: in-place Exp differs at %d", n, i)
				}
			}
		}
	})
}

func TestExpPathsAgree(t *testing.T) {
	// The assembly paths compute the same operations in the same order: identical bits.
	x := kerneltest.Uniform(kerneltest.RNG(3), 10007, -90, 90)
	var ref []float32
	forEachPath(t, func(t *testing.T) {
		if path == pathGeneric {
			return
		}
		got := make([]float32, len(x))
		Exp(got, x)
		if ref == nil {
			ref = got
			return
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
				t.Fatalf("Exp(%g): %s gives %g, other asm path %g", x[i], pathNames[path], got[i], ref[i])
			}
		}
	})
}

func TestSigmoid(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			x := kerneltest.Uniform(kerneltest.RNG(uint64(n)), n, -30, 30)
			x = append(x, 100, -100, float32(math.Inf(1)), float32(math.Inf(-1)))
			got := make([]float32, len(x))
			kerneltest.Poison(got)
			Sigmoid(got, x)
			want := make([]float64, len(x))
			for i, v := range x {
				want[i] = 1 / (1 + math.Exp(-float64(v)))
			}
			kerneltest.Close(t, fmt.Sprint("sigmoid n=", n), got, want, func(i int) float64 { return 4*kerneltest.Eps32*want[i] + 0x1p-126 })
		}
	})
}

func TestReductions(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			r := kerneltest.RNG(uint64(100 + n))
			a := kerneltest.Uniform(r, n, -2, 2)
			b := kerneltest.Uniform(r, n, -2, 2)
			var dot, sum, sq, absDot, absSum float64
			mx := math.Inf(-1)
			for i := range n {
				dot += float64(a[i]) * float64(b[i])
				absDot += math.Abs(float64(a[i]) * float64(b[i]))
				sum += float64(a[i])
				absSum += math.Abs(float64(a[i]))
				sq += float64(a[i]) * float64(a[i])
				mx = math.Max(mx, float64(a[i]))
			}
			name := fmt.Sprint("n=", n)
			kerneltest.CloseAll(t, name+" Dot", []float32{Dot(a, b)}, []float64{dot}, kerneltest.Tol(1, n, kerneltest.Eps32, absDot, 0))
			kerneltest.CloseAll(t, name+" Sum", []float32{Sum(a)}, []float64{sum}, kerneltest.Tol(1, n, kerneltest.Eps32, absSum, 0))
			kerneltest.CloseAll(t, name+" SumSq", []float32{SumSq(a)}, []float64{sq}, kerneltest.Tol(1, n, kerneltest.Eps32, sq, 0))
			if got := Max(a); float64(got) != mx {
				t.Errorf("%s Max = %g, want %g", name, got, mx)
			}
			// Determinism: same input, same bits.
			if Dot(a, b) != Dot(a, b) || Sum(a) != Sum(a) {
				t.Errorf("%s: reductions not repeatable", name)
			}
		}
		// The maximum at every position, NaNs ignored.
		for _, n := range []int{1, 17, 70, 130} {
			for pos := range n {
				x := kerneltest.Uniform(kerneltest.RNG(5), n, -10, 10)
				x[pos] = 20
				if n > 1 {
					x[(pos+1)%n] = float32(math.NaN())
				}
				if got := Max(x); got != 20 {
					t.Fatalf("Max n=%d max at %d = %g", n, pos, got)
				}
			}
		}
		if got := Max([]float32{float32(math.NaN())}); got != negInf {
			t.Errorf("Max(NaN) = %g, want -Inf", got)
		}
		if got := Max([]float32{float32(math.Inf(-1)), -3}); got != -3 {
			t.Errorf("Max = %g", got)
		}
	})
}

func TestAxpyScale(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			r := kerneltest.RNG(uint64(200 + n))
			x := kerneltest.Uniform(r, n, -2, 2)
			y := kerneltest.Uniform(r, n+3, -2, 2)
			want := make([]float64, n+3)
			for i := range y {
				want[i] = float64(y[i])
				if i < n {
					want[i] += 0.75 * float64(x[i])
				}
			}
			Axpy(0.75, x, y[:n])
			kerneltest.Close(t, fmt.Sprint("Axpy n=", n), y, want, func(i int) float64 { return 2 * kerneltest.Eps32 * (math.Abs(want[i]) + 2) })
			for i := range want {
				want[i] = float64(y[i])
				if i < n {
					want[i] = float64(y[i] * -1.5) // one rounding, exact in every path
				}
			}
			Scale(-1.5, y[:n])
			kerneltest.CloseAll(t, fmt.Sprint("Scale n=", n), y, want, 0)
		}
	})
}
