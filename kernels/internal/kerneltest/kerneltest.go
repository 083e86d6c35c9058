// Package kerneltest holds the helpers every kernel test uses: seeded random inputs that are
// never zero, tolerances derived from dtype epsilon and reduction length, comparison against a
// float64 reference, and central finite-difference gradient checks.
package kerneltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Eps32 and EpsBF16 are the unit roundoffs (half an ulp at 1.0) of float32 and bfloat16.
const (
	Eps32   = 1.0 / (1 << 24)
	EpsBF16 = 1.0 / (1 << 8)
	EpsF16  = 1.0 / (1 << 11)
)

// RNG returns a deterministic generator for a test (seed from the test name and n).
func RNG(n uint64) *rand.Rand { return rand.New(rand.NewPCG(0x676c6d666c6f77, n)) }

// Uniform returns n values in [lo, hi) with |v| ≥ 1e-3·max(|lo|,|hi|): never exact zeros.
func Uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	floor := 1e-3 * math.Max(math.Abs(lo), math.Abs(hi))
	for i := range out {
		v := lo + (hi-lo)*r.Float64()
		for math.Abs(v) < floor {
			v = lo + (hi-lo)*r.Float64()
		}
		out[i] = float32(v)
	}
	return out
}

// Normal returns n values from N(0, std²), never exactly zero.
func Normal(r *rand.Rand, n int, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := r.NormFloat64() * std
		for v == 0 {
			v = r.NormFloat64() * std
		}
		out[i] = float32(v)
	}
	return out
}

// F64 widens a float32 slice.
func F64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// F32 narrows a float64 slice.
func F32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// Tol is the error bound of a length-k fp accumulation whose terms have absolute sum mag:
// c·k·eps·mag + abs. The usual a-priori bound for recursive summation is k·eps·Σ|terms|;
// c (≈2–4) leaves room for the rounding of the inputs and of exp/log style functions.
func Tol(c float64, k int, eps, mag, abs float64) float64 {
	return c*float64(max(k, 1))*eps*mag + abs
}

// Close checks |got[i] − want[i]| ≤ tol(i) for every i (NaN never passes) and reports the
// worst element. It fails t once, with the index and the values.
func Close(t testing.TB, name string, got []float32, want []float64, tol func(i int) float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	worst, wi := -1.0, -1
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		lim := tol(i)
		if !(d <= lim) { // catches NaN
			r := d / lim
			if math.IsNaN(r) {
				r = math.Inf(1)
			}
			if r > worst {
				worst, wi = r, i
			}
		}
	}
	if wi >= 0 {
		t.Errorf("%s: element %d = %g, want %g (|diff| %.3g > tol %.3g, %.1f× over)",
			name, wi, got[wi], want[wi], math.Abs(float64(got[wi])-want[wi]), tol(wi), worst)
	}
}

// CloseAll is Close with one tolerance for every element.
func CloseAll(t testing.TB, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	Close(t, name, got, want, func(int) float64 { return tol })
}

// GradCheck compares an analytic gradient of the scalar f at x with central finite differences
// in float64: (f(x+h) − f(x−h)) / 2h with h = step·max(1,|x_i|). It checks every element, or a
// fixed sample of at most maxN of them when len(x) is larger (maxN ≤ 0: all). The bound is
// rtol·|fd| + atol. f must not keep x.
func GradCheck(t testing.TB, name string, x []float64, grad []float64, f func(x []float64) float64, step, rtol, atol float64, maxN int) {
	t.Helper()
	if len(grad) != len(x) {
		t.Fatalf("%s: grad len %d, x len %d", name, len(grad), len(x))
	}
	idx := make([]int, 0, len(x))
	stride := 1
	if maxN > 0 && len(x) > maxN {
		stride = (len(x) + maxN - 1) / maxN
	}
	for i := 0; i < len(x); i += stride {
		idx = append(idx, i)
	}
	xp := append([]float64(nil), x...)
	bad := 0
	for _, i := range idx {
		h := step * math.Max(1, math.Abs(x[i]))
		xp[i] = x[i] + h
		fp := f(xp)
		xp[i] = x[i] - h
		fm := f(xp)
		xp[i] = x[i]
		fd := (fp - fm) / (2 * h)
		if d := math.Abs(fd - grad[i]); !(d <= rtol*math.Abs(fd)+atol) {
			if bad < 3 {
				t.Errorf("%s: d/dx[%d]: analytic %.9g, finite difference %.9g (|diff| %.3g)", name, i, grad[i], fd, d)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d gradient elements disagree with finite differences", name, bad, len(idx))
	}
}

// Dot64 is Σ a_i·b_i in float64; a handy scalar loss L = Σ out·w for gradient checks.
func Dot64(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Poison fills x with NaN so a kernel that fails to write an output element is caught.
func Poison(x []float32) {
	for i := range x {
		x[i] = float32(math.NaN())
	}
}

// Shape formats dimensions for test names.
func Shape(d ...int) string { return fmt.Sprint(d) }
