package norm

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

const eps32 = kerneltest.Eps32

var shapes = [][2]int{{1, 1}, {1, 7}, {3, 64}, {65, 33}, {130, 256}, {200, 1536}}

func absSum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += math.Abs(v)
	}
	return s
}

func TestRMSNorm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, sh := range shapes {
			T, D := sh[0], sh[1]
			r := kerneltest.RNG(uint64(T*10000 + D))
			x := kerneltest.Normal(r, T*D, 2)
			w := kerneltest.Uniform(r, D, 0.5, 1.5)
			dy := kerneltest.Normal(r, T*D, 1)
			dw0 := kerneltest.Uniform(r, D, -1, 1) // dw accumulates onto this
			x64, w64, dy64 := kerneltest.F64(x), kerneltest.F64(w), kerneltest.F64(dy)
			name := "RMSNorm " + kerneltest.Shape(T, D)

			wy, wr := make([]float64, T*D), make([]float64, T)
			RefRMSNormForward(wy, wr, x64, w64, T, D, 1e-5)
			y, rs := make([]float32, T*D), make([]float32, T)
			kerneltest.Poison(y)
			kerneltest.Poison(rs)
			if err := RMSNormForward(y, rs, x, w, T, D, 1e-5); err != nil {
				t.Fatal(err)
			}
			kerneltest.Close(t, name+" rstd", rs, wr, func(i int) float64 { return kerneltest.Tol(4, D, eps32, wr[i], 0) })
			kerneltest.Close(t, name+" y", y, wy, func(i int) float64 { return kerneltest.Tol(4, D, eps32, math.Abs(wy[i]), 0) })

			wdx, wdw := make([]float64, T*D), kerneltest.F64(dw0)
			RefRMSNormBackward(wdx, wdw, dy64, x64, w64, wr, T, D)
			dx, dw := make([]float32, T*D), append([]float32(nil), dw0...)
			kerneltest.Poison(dx)
			if err := RMSNormBackward(dx, dw, dy, x, w, rs, T, D); err != nil {
				t.Fatal(err)
			}
			kerneltest.Close(t, name+" dx", dx, wdx, func(i int) float64 {
				tt := i / D
				return kerneltest.Tol(8, D, eps32, wr[tt]*(math.Abs(dy64[i])+absSum(dy64[tt*D:(tt+1)*D])/float64(D)*4), 0)
			})
			kerneltest.Close(t, name+" dw", dw, wdw, func(j int) float64 {
				s := math.Abs(float64(dw0[j]))
				for tt := range T {
					s += math.Abs(dy64[tt*D+j] * x64[tt*D+j] * wr[tt])
				}
				return kerneltest.Tol(4, T+D, eps32, s, 0)
			})
		}
	})
}

func TestLayerNorm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, sh := range shapes {
			T, D := sh[0], sh[1]
			r := kerneltest.RNG(uint64(T*10000 + D + 7))
			x := kerneltest.Normal(r, T*D, 2)
			for i := range x {
				x[i] += 3 // a non-zero mean exercises the centring
			}
			w := kerneltest.Uniform(r, D, 0.5, 1.5)
			b := kerneltest.Uniform(r, D, -1, 1)
			dy := kerneltest.Normal(r, T*D, 1)
			dw0, db0 := kerneltest.Uniform(r, D, -1, 1), kerneltest.Uniform(r, D, -1, 1)
			x64, w64, b64, dy64 := kerneltest.F64(x), kerneltest.F64(w), kerneltest.F64(b), kerneltest.F64(dy)
			name := "LayerNorm " + kerneltest.Shape(T, D)

			wy, wm, wr := make([]float64, T*D), make([]float64, T), make([]float64, T)
			RefLayerNormForward(wy, wm, wr, x64, w64, b64, T, D, 1e-5)
			y, mu, rs := make([]float32, T*D), make([]float32, T), make([]float32, T)
			kerneltest.Poison(y)
			kerneltest.Poison(mu)
			kerneltest.Poison(rs)
			if err := LayerNormForward(y, mu, rs, x, w, b, T, D, 1e-5); err != nil {
				t.Fatal(err)
			}
			if D == 1 { // var = 0: rstd = 1/sqrt(eps), relative precision of x−mean is lost
				continue
			}
			kerneltest.Close(t, name+" mean", mu, wm, func(i int) float64 { return kerneltest.Tol(2, D, eps32, 5, 0) })
			kerneltest.Close(t, name+" rstd", rs, wr, func(i int) float64 { return kerneltest.Tol(8, D, eps32, wr[i]*3, 0) })
			kerneltest.Close(t, name+" y", y, wy, func(i int) float64 {
				return kerneltest.Tol(8, D, eps32, math.Abs(wy[i])+5*wr[i/D]*w64[i%D]+math.Abs(b64[i%D]), 0)
			})

			wdx, wdw, wdb := make([]float64, T*D), kerneltest.F64(dw0), kerneltest.F64(db0)
			RefLayerNormBackward(wdx, wdw, wdb, dy64, x64, w64, wm, wr, T, D)
			dx, dw, db := make([]float32, T*D), append([]float32(nil), dw0...), append([]float32(nil), db0...)
			kerneltest.Poison(dx)
			if err := LayerNormBackward(dx, dw, db, dy, x, w, mu, rs, T, D); err != nil {
				t.Fatal(err)
			}
			kerneltest.Close(t, name+" dx", dx, wdx, func(i int) float64 {
				tt := i / D
				return kerneltest.Tol(16, D, eps32, wr[tt]*(math.Abs(dy64[i])+absSum(dy64[tt*D:(tt+1)*D])/float64(D)*8), 0)
			})
			kerneltest.Close(t, name+" dw", dw, wdw, func(j int) float64 {
				s := math.Abs(float64(dw0[j]))
				for tt := range T {
					s += math.Abs(dy64[tt*D+j]) * 4
				}
				return kerneltest.Tol(8, T+D, eps32, s, 0)
			})
			kerneltest.Close(t, name+" db", db, wdb, func(j int) float64 {
				s := math.Abs(float64(db0[j]))
				for tt := range T {
					s += math.Abs(dy64[tt*D+j])
				}
				return kerneltest.Tol(2, T, eps32, s, 0)
			})
		}
	})
}

// TestGradCheckReferences checks the float64 backward references against finite differences.
func TestGradCheckReferences(t *testing.T) {
	T, D := 3, 8
	r := kerneltest.RNG(3)
	x := kerneltest.F64(kerneltest.Normal(r, T*D, 1))
	w := kerneltest.F64(kerneltest.Uniform(r, D, 0.5, 1.5))
	b := kerneltest.F64(kerneltest.Uniform(r, D, -1, 1))
	L := kerneltest.F64(kerneltest.Normal(r, T*D, 1)) // loss = Σ y·L, so dy = L
	y, m, rs := make([]float64, T*D), make([]float64, T), make([]float64, T)
	rms := func(x, w []float64) float64 {
		RefRMSNormForward(y, rs, x, w, T, D, 1e-5)
		return kerneltest.Dot64(y, L)
	}
	ln := func(x, w, b []float64) float64 {
		RefLayerNormForward(y, m, rs, x, w, b, T, D, 1e-5)
		return kerneltest.Dot64(y, L)
	}

	rms(x, w)
	dx, dw, db := make([]float64, T*D), make([]float64, D), make([]float64, D)
	RefRMSNormBackward(dx, dw, L, x, w, rs, T, D)
	kerneltest.GradCheck(t, "RMSNorm dx", x, dx, func(x []float64) float64 { return rms(x, w) }, 1e-6, 1e-6, 1e-9, 0)
	kerneltest.GradCheck(t, "RMSNorm dw", w, dw, func(w []float64) float64 { return rms(x, w) }, 1e-6, 1e-6, 1e-9, 0)

	ln(x, w, b)
	clear(dw)
	RefLayerNormBackward(dx, dw, db, L, x, w, m, rs, T, D)
	kerneltest.GradCheck(t, "LayerNorm dx", x, dx, func(x []float64) float64 { return ln(x, w, b) }, 1e-6, 1e-6, 1e-9, 0)
	kerneltest.GradCheck(t, "LayerNorm dw", w, dw, func(w []float64) float64 { return ln(x, w, b) }, 1e-6, 1e-6, 1e-9, 0)
	kerneltest.GradCheck(t, "LayerNorm db", b, db, func(b []float64) float64 { return ln(x, w, b) }, 1e-6, 1e-6, 1e-9, 0)
}

func TestThreadCountInvariant(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		T, D := 517, 128
		r := kerneltest.RNG(5)
		x := kerneltest.Normal(r, T*D, 1)
		w := kerneltest.Uniform(r, D, 0.5, 1.5)
		b := kerneltest.Uniform(r, D, -1, 1)
		dy := kerneltest.Normal(r, T*D, 1)
		run := func() []float32 {
			y, m, rs := make([]float32, T*D), make([]float32, T), make([]float32, T)
			dx, dw, db := make([]float32, T*D), make([]float32, D), make([]float32, D)
			_ = RMSNormForward(y, rs, x, w, T, D, 1e-5)
			_ = RMSNormBackward(dx, dw, dy, x, w, rs, T, D)
			out := append(append(append([]float32(nil), y...), dx...), dw...)
			_ = LayerNormForward(y, m, rs, x, w, b, T, D, 1e-5)
			_ = LayerNormBackward(dx, dw, db, dy, x, w, m, rs, T, D)
			return append(append(append(append(out, y...), dx...), dw...), db...)
		}
		saved := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(saved)
		one := run()
		for _, p := range []int{2, 3, 8} {
			runtime.GOMAXPROCS(p)
			got := run()
			for i := range one {
				if math.Float32bits(one[i]) != math.Float32bits(got[i]) {
					t.Fatalf("element %d: %g with 1 thread, %g with %d", i, one[i], got[i], p)
				}
			}
		}
	})
}

func TestInPlace(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		T, D := 5, 40
		r := kerneltest.RNG(6)
		x := kerneltest.Normal(r, T*D, 1)
		w := kerneltest.Uniform(r, D, 0.5, 1.5)
		y, rs := make([]float32, T*D), make([]float32, T)
		_ = RMSNormForward(y, rs, x, w, T, D, 1e-5)
		xi := append([]float32(nil), x...)
		_ = RMSNormForward(xi, rs, xi, w, T, D, 1e-5)
		dy := kerneltest.Normal(r, T*D, 1)
		dx, dw := make([]float32, T*D), make([]float32, D)
		_ = RMSNormBackward(dx, dw, dy, x, w, rs, T, D)
		dyi := append([]float32(nil), dy...)
		_ = RMSNormBackward(dyi, make([]float32, D), dyi, x, w, rs, T, D)
		for i := range y {
			if y[i] != xi[i] || dx[i] != dyi[i] {
				t.Fatalf("in-place result differs at %d", i)
			}
		}
	})
}

func TestErrors(t *testing.T) {
	T, D := 2, 3
	m := func(n int) []float32 { return make([]float32, n) }
	for name, err := range map[string]error{
		"RMSNormForward":    RMSNormForward(m(6), m(2), m(6), m(4), T, D, 1e-5),
		"RMSNormBackward":   RMSNormBackward(m(6), m(3), m(6), m(6), m(3), m(1), T, D),
		"LayerNormForward":  LayerNormForward(m(6), m(2), m(2), m(5), m(3), m(3), T, D, 1e-5),
		"LayerNormBackward": LayerNormBackward(m(6), m(3), m(2), m(6), m(6), m(3), m(2), m(2), T, D),
	} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error = %v, want one naming the op", name, err)
		}
	}
	if err := RMSNormForward(m(6), m(2), m(6), m(3), T, D, -1); err == nil {
		t.Error("negative eps accepted")
	}
	if err := RMSNormForward(m(0), m(0), m(0), m(0), 0, 0, 1e-5); err == nil {
		t.Error("D = 0 accepted")
	}
}
