package elementwise

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

const eps = kerneltest.Eps32

var lengths = []int{1, 7, 16, 33, 255, 256, 257, 1000, 70001}

// relTol is c·eps·|want| + c·eps·scale: c ulps of the result plus an absolute floor for
// results that cancel (scale is the size of the terms that produced them).
func relTol(want []float64, c float64, scale func(i int) float64) func(int) float64 {
	return func(i int) float64 { return c * eps * (math.Abs(want[i]) + scale(i)) }
}

func TestUnaryVsReference(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		type op struct {
			name     string
			fwd      func(out, x []float32) error
			bwd      func(dx, dout, x []float32) error
			rfwd     func(out, x []float64)
			rbwd     func(dx, dout, x []float64)
			lo, hi   float64
			fwdScale func(x float64) float64 // error floor of the forward in units of eps
			bwdScale func(x float64) float64
		}
		ops := []op{
			{"SiLU", SiLU, SiLUBackward, RefSiLU, RefSiLUBackward, -20, 20,
				func(x float64) float64 { return math.Abs(x) }, func(x float64) float64 { return 1 + math.Abs(x) }},
			{"GELU", GELU, GELUBackward, RefGELU, RefGELUBackward, -12, 12,
				// The input x/√2 rounding moves Φ by x·φ(x)·eps: relative x² in the tail.
				func(x float64) float64 { return math.Abs(x) * (1 + x*x*math.Exp(-x*x/2)) },
				func(x float64) float64 { return 1 + (1+x*x)*math.Abs(x)*math.Exp(-x*x/2) }},
		}
		for _, o := range ops {
			for _, n := range lengths {
				r := kerneltest.RNG(uint64(n))
				x := kerneltest.Uniform(r, n, o.lo, o.hi)
				dout := kerneltest.Uniform(r, n, -2, 2)
				x64, d64 := kerneltest.F64(x), kerneltest.F64(dout)
				want := make([]float64, n)
				o.rfwd(want, x64)
				got := make([]float32, n)
				kerneltest.Poison(got)
				if err := o.fwd(got, x); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s n=%d", o.name, n)
				kerneltest.Close(t, name, got, want, relTol(want, 4, func(i int) float64 { return o.fwdScale(x64[i]) }))
				o.rbwd(want, d64, x64)
				kerneltest.Poison(got)
				if err := o.bwd(got, dout, x); err != nil {
					t.Fatal(err)
				}
				kerneltest.Close(t, name+" backward", got, want, relTol(want, 8, func(i int) float64 { return math.Abs(d64[i]) * o.bwdScale(x64[i]) }))
				// In place.
				y := append([]float32(nil), x...)
				_ = o.fwd(y, y)
				_ = o.fwd(got, x)
				for i := range y {
					if y[i] != got[i] {
						t.Fatalf("%s: in-place result differs at %d", name, i)
					}
				}
			}
		}
	})
}

func TestSwiGLUVsReference(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			r := kerneltest.RNG(uint64(1000 + n))
			g := kerneltest.Uniform(r, n, -12, 12)
			u := kerneltest.Uniform(r, n, -3, 3)
			dout := kerneltest.Uniform(r, n, -2, 2)
			g64, u64, d64 := kerneltest.F64(g), kerneltest.F64(u), kerneltest.F64(dout)
			want := make([]float64, n)
			RefSwiGLU(want, g64, u64)
			got := make([]float32, n)
			kerneltest.Poison(got)
			if err := SwiGLU(got, g, u); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprint("SwiGLU n=", n)
			kerneltest.Close(t, name, got, want, relTol(want, 4, func(i int) float64 { return math.Abs(g64[i] * u64[i]) }))
			wdg, wdu := make([]float64, n), make([]float64, n)
			RefSwiGLUBackward(wdg, wdu, d64, g64, u64)
			dg, du := make([]float32, n), make([]float32, n)
			kerneltest.Poison(dg)
			kerneltest.Poison(du)
			if err := SwiGLUBackward(dg, du, dout, g, u); err != nil {
				t.Fatal(err)
			}
			kerneltest.Close(t, name+" dg", dg, wdg, relTol(wdg, 8, func(i int) float64 { return math.Abs(d64[i]*u64[i]) * (1 + math.Abs(g64[i])) }))
			kerneltest.Close(t, name+" du", du, wdu, relTol(wdu, 4, func(i int) float64 { return math.Abs(d64[i] * g64[i]) }))
		}
	})
}

func TestSwiGLUFused(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, sh := range [][2]int{{1, 1}, {3, 5}, {17, 64}, {64, 300}, {129, 688}, {4, 1600}} {
			T, F := sh[0], sh[1]
			r := kerneltest.RNG(uint64(T*1000 + F))
			gu := kerneltest.Uniform(r, 2*T*F, -8, 8)
			dout := kerneltest.Uniform(r, T*F, -2, 2)
			gu64, d64 := kerneltest.F64(gu), kerneltest.F64(dout)
			want := make([]float64, T*F)
			RefSwiGLUFused(want, gu64, T, F)
			got := make([]float32, T*F)
			kerneltest.Poison(got)
			if err := SwiGLUFused(got, gu, T, F); err != nil {
				t.Fatal(err)
			}
			name := "SwiGLUFused " + kerneltest.Shape(T, F)
			kerneltest.Close(t, name, got, want, relTol(want, 4, func(i int) float64 {
				tt, f := i/F, i%F
				return math.Abs(gu64[2*tt*F+f] * gu64[2*tt*F+F+f])
			}))
			wd := make([]float64, 2*T*F)
			RefSwiGLUFusedBackward(wd, d64, gu64, T, F)
			dgu := make([]float32, 2*T*F)
			kerneltest.Poison(dgu)
			if err := SwiGLUFusedBackward(dgu, dout, gu, T, F); err != nil {
				t.Fatal(err)
			}
			kerneltest.Close(t, name+" backward", dgu, wd, relTol(wd, 8, func(i int) float64 { return 64 }))
			// The fused kernels are the unfused ones applied to the two halves: identical bits (F ≤
			// twoPassMaxF reads each row in two passes, F = 1600 in one).
			for tt := range T {
				o := make([]float32, F)
				_ = SwiGLU(o, gu[2*tt*F:2*tt*F+F], gu[2*tt*F+F:2*(tt+1)*F])
				for f := range F {
					if o[f] != got[tt*F+f] {
						t.Fatalf("%s: fused differs from SwiGLU at row %d col %d", name, tt, f)
					}
				}
			}
		}
	})
}

// TestGradCheckReferences checks every float64 reference backward against finite differences
// of its forward, so the fp32 comparisons above compare against the right derivative.
func TestGradCheckReferences(t *testing.T) {
	n := 64
	r := kerneltest.RNG(7)
	x := kerneltest.F64(kerneltest.Uniform(r, n, -5, 5))
	u := kerneltest.F64(kerneltest.Uniform(r, n, -2, 2))
	w := kerneltest.F64(kerneltest.Uniform(r, n, -1, 1))
	out := make([]float64, n)
	grad := make([]float64, n)
	for _, o := range []struct {
		name string
		fwd  func(out, x []float64)
		bwd  func(dx, dout, x []float64)
	}{{"SiLU", RefSiLU, RefSiLUBackward}, {"GELU", RefGELU, RefGELUBackward}} {
		o.bwd(grad, w, x)
		kerneltest.GradCheck(t, o.name, x, grad, func(x []float64) float64 { o.fwd(out, x); return kerneltest.Dot64(out, w) }, 1e-6, 1e-6, 1e-9, 0)
	}
	dg, du := make([]float64, n), make([]float64, n)
	RefSwiGLUBackward(dg, du, w, x, u)
	kerneltest.GradCheck(t, "SwiGLU dg", x, dg, func(g []float64) float64 { RefSwiGLU(out, g, u); return kerneltest.Dot64(out, w) }, 1e-6, 1e-6, 1e-9, 0)
	kerneltest.GradCheck(t, "SwiGLU du", u, du, func(uu []float64) float64 { RefSwiGLU(out, x, uu); return kerneltest.Dot64(out, w) }, 1e-6, 1e-6, 1e-9, 0)
	T, F := 4, 8
	gu := append(append([]float64(nil), x[:T*F]...), u[:T*F]...)
	dgu := make([]float64, 2*T*F)
	wf := w[:T*F]
	RefSwiGLUFusedBackward(dgu, wf, gu, T, F)
	kerneltest.GradCheck(t, "SwiGLUFused", gu, dgu, func(gu []float64) float64 {
		o := make([]float64, T*F)
		RefSwiGLUFused(o, gu, T, F)
		return kerneltest.Dot64(o, wf)
	}, 1e-6, 1e-6, 1e-9, 0)
}

func TestBasic(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, n := range lengths {
			r := kerneltest.RNG(uint64(2000 + n))
			a := kerneltest.Uniform(r, n, -3, 3)
			b := kerneltest.Uniform(r, n, -3, 3)
			d := kerneltest.Uniform(r, n, -3, 3)
			out, da, db := make([]float32, n), make([]float32, n), make([]float32, n)
			check := func(name string, got []float32, f func(i int) float32) {
				for i := range got {
					if w := f(i); got[i] != w {
						t.Fatalf("%s n=%d: [%d] = %g, want %g", name, n, i, got[i], w)
					}
				}
			}
			kerneltest.Poison(out)
			_ = Add(out, a, b)
			check("Add", out, func(i int) float32 { return a[i] + b[i] })
			kerneltest.Poison(da)
			kerneltest.Poison(db)
			_ = AddBackward(da, db, d)
			check("AddBackward da", da, func(i int) float32 { return d[i] })
			check("AddBackward db", db, func(i int) float32 { return d[i] })
			kerneltest.Poison(out)
			_ = Mul(out, a, b)
			check("Mul", out, func(i int) float32 { return a[i] * b[i] })
			kerneltest.Poison(da)
			kerneltest.Poison(db)
			_ = MulBackward(da, db, d, a, b)
			check("MulBackward da", da, func(i int) float32 { return d[i] * b[i] })
			check("MulBackward db", db, func(i int) float32 { return d[i] * a[i] })
			kerneltest.Poison(db)
			_ = MulBackward(nil, db, d, a, b)
			check("MulBackward db only", db, func(i int) float32 { return d[i] * a[i] })
			kerneltest.Poison(out)
			_ = Scale(out, a, -0.3)
			check("Scale", out, func(i int) float32 { return -0.3 * a[i] })
			kerneltest.Poison(da)
			_ = ScaleBackward(da, d, -0.3)
			check("ScaleBackward", da, func(i int) float32 { return -0.3 * d[i] })
		}
	})
}

// normalParts returns erf(x/√2), Φ(x) and e^(−x²/2) as GELU computes them on the active path.
func normalParts(x []float32) (erf, cdf, dens []float32) {
	erf, cdf, dens = make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
	if path != pathGeneric {
		normalPartsAsm(erf, cdf, dens, x)
		return
	}
	for i, v := range x {
		erf[i], cdf[i], dens[i] = normal32(v)
	}
	return
}

// TestErf checks the float32 erf, Φ and e^(−x²/2) inside GELU against math.Erf, math.Erfc and
// math.Exp (float64, at the exact x/√2) in float32 ulps, on every path: erf everywhere, Φ on the
// lower tail with relative accuracy (where it is a normal float32).
func TestErf(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		n := 400001
		if testing.Short() {
			n = 100001
		}
		x := make([]float32, n)
		for j := range x {
			x[j] = float32(-13.5 + 27*float64(j)/float64(n-1))
		}
		erf, cdf, dens := normalParts(x)
		worstErf, worstErfc, worstDens := 0.0, 0.0, 0.0
		var wx1, wx2, wx3 float64
		ulps := func(got float32, want float64) float64 {
			a := float32(math.Abs(want))
			if a == 0 {
				return math.Abs(float64(got)) / 0x1p-149
			}
			return math.Abs(float64(got)-want) / float64(math.Nextafter32(a, float32(math.Inf(1)))-a)
		}
		for j, v := range x {
			xv := float64(v)
			if d := ulps(erf[j], math.Erf(xv/math.Sqrt2)); d > worstErf {
				worstErf, wx1 = d, xv
			}
			if w := math.Erfc(-xv/math.Sqrt2) / 2; xv < -0.3*math.Sqrt2 && w > 0x1p-126 {
				if d := ulps(cdf[j], w); d > worstErfc {
					worstErfc, wx2 = d, xv
				}
			}
			if w := math.Exp(-xv * xv / 2); w > 0x1p-126 {
				if d := ulps(dens[j], w); d > worstDens {
					worstDens, wx3 = d, xv
				}
			}
			if xv <= -13.25 && cdf[j] != 0 {
				t.Fatalf("Φ(%g) = %g, want 0", xv, cdf[j])
			}
		}
		t.Logf("erf max %.2f ulp at x=%g; Φ lower tail max %.2f ulp at %g; exp(-x²/2) max %.2f ulp at %g", worstErf, wx1, worstErfc, wx2, worstDens, wx3)
		if worstErf > 3 || worstErfc > 8 || worstDens > 2 {
			t.Errorf("erf %.2f ulp (limit 3), Φ tail %.2f ulp (limit 8), exp(-x²/2) %.2f ulp (limit 2)", worstErf, worstErfc, worstDens)
		}
	})
}

func TestThreadCountInvariant(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		n := 1<<17 + 3
		r := kerneltest.RNG(11)
		g := kerneltest.Uniform(r, n, -6, 6)
		u := kerneltest.Uniform(r, n, -6, 6)
		run := func() []float32 {
			out := make([]float32, 2*n)
			_ = SwiGLU(out[:n], g, u)
			_ = GELU(out[n:], g)
			return out
		}
		saved := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(saved)
		one := run()
		runtime.GOMAXPROCS(3)
		three := run()
		for i := range one {
			if math.Float32bits(one[i]) != math.Float32bits(three[i]) {
				t.Fatalf("element %d: %g with 1 thread, %g with 3", i, one[i], three[i])
			}
		}
	})
}

func TestErrors(t *testing.T) {
	a, b := make([]float32, 4), make([]float32, 5)
	for name, err := range map[string]error{
		"Add":                 Add(a, a, b),
		"Mul":                 Mul(a, b, a),
		"MulBackward":         MulBackward(a, nil, a, a, b),
		"Scale":               Scale(a, b, 1),
		"SiLU":                SiLU(a, b),
		"SiLUBackward":        SiLUBackward(a, a, b),
		"GELU":                GELU(b, a),
		"GELUBackward":        GELUBackward(a, b, a),
		"SwiGLU":              SwiGLU(a, a, b),
		"SwiGLUBackward":      SwiGLUBackward(a, a, a, a, b),
		"SwiGLUFused":         SwiGLUFused(a, b, 2, 2),
		"SwiGLUFusedBackward": SwiGLUFusedBackward(a, a, make([]float32, 8), 2, 2),
		"AddBackward":         AddBackward(b, nil, a),
	} {
		if err == nil {
			t.Errorf("%s: no error for mismatched lengths", name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the op", name, err)
		}
	}
}
