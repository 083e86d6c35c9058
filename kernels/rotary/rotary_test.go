package rotary

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

type shape struct{ T, H, Dh, R int }

var shapes = []shape{
	{1, 1, 2, 2},     // smallest
	{7, 3, 16, 8},    // HF test config: head_dim 16, partial 0.5
	{33, 2, 128, 64}, // GLM-4.5V text: partial 0.5 of 128
	{9, 4, 32, 16},   // tiny text model of performance.md
	{20, 2, 80, 80},  // full rotary, non-power-of-two head dim
	{300, 6, 64, 64}, // vision-like, large enough to go parallel
}

// randomAngles returns cos/sin of random angles in (−π, π).
func randomAngles(seed uint64, n int) (c, s []float32) {
	a := kerneltest.Uniform(kerneltest.RNG(seed), n, -math.Pi, math.Pi)
	c, s = make([]float32, n), make([]float32, n)
	for i, v := range a {
		c[i] = float32(math.Cos(float64(v)))
		s[i] = float32(math.Sin(float64(v)))
	}
	return c, s
}

func TestForwardBackwardVsReference(t *testing.T) {
	for i, sh := range shapes {
		t.Run(fmt.Sprint(sh), func(t *testing.T) {
			n := sh.T * sh.H * sh.Dh
			x := kerneltest.Normal(kerneltest.RNG(uint64(i)), n, 1)
			g := kerneltest.Normal(kerneltest.RNG(uint64(100+i)), n, 1)
			c, s := randomAngles(uint64(200+i), sh.T*sh.R/2)

			out := make([]float32, n)
			kerneltest.Poison(out)
			if err := Forward(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
				t.Fatal(err)
			}
			want := make([]float64, n)
			RefForward(want, kerneltest.F64(x), kerneltest.F64(c), kerneltest.F64(s), sh.T, sh.H, sh.Dh, sh.R)
			// Two rounded products and one rounded sum per element: |err| ≤ ~3·eps·(|x1|+|x2|).
			x64 := kerneltest.F64(x)
			tol := func(j int) float64 { return kerneltest.Tol(2, 2, kerneltest.Eps32, mag(x64, j, sh), 0) }
			kerneltest.Close(t, "out", out, want, tol)
			// Pass-through dims are copied exactly.
			for j := range n {
				if j%sh.Dh >= sh.R && out[j] != x[j] {
					t.Fatalf("pass-through dim %d changed: %g → %g", j%sh.Dh, x[j], out[j])
				}
			}

			dx := make([]float32, n)
			kerneltest.Poison(dx)
			if err := Backward(dx, g, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
				t.Fatal(err)
			}
			wantDx := make([]float64, n)
			RefBackward(wantDx, kerneltest.F64(g), kerneltest.F64(c), kerneltest.F64(s), sh.T, sh.H, sh.Dh, sh.R)
			g64 := kerneltest.F64(g)
			kerneltest.Close(t, "dx", dx, wantDx, func(j int) float64 { return kerneltest.Tol(2, 2, kerneltest.Eps32, mag(g64, j, sh), 0) })
		})
	}
}

// mag is |x_i| + |x_partner(i)| for the rotated dims, |x_i| for pass-through.
func mag(x []float64, j int, sh shape) float64 {
	d := j % sh.Dh
	if d >= sh.R {
		return math.Abs(x[j])
	}
	half := sh.R / 2
	p := j - d + (d+half)%sh.R
	return math.Abs(x[j]) + math.Abs(x[p])
}

// TestMatchesHFFloat32 checks bit equality with PyTorch's fp32 evaluation order:
// q·cos + rotate_half(q)·sin, every product and the sum rounded to float32.
func TestMatchesHFFloat32(t *testing.T) {
	sh := shape{5, 3, 128, 64}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(7), n, 3)
	c, s := randomAngles(8, sh.T*sh.R/2)
	out := make([]float32, n)
	if err := Forward(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
		t.Fatal(err)
	}
	half := sh.R / 2
	for tk := range sh.T {
		for h := range sh.H {
			b := (tk*sh.H + h) * sh.Dh
			for i := range sh.R {
				cs, sn := c[tk*half+i%half], s[tk*half+i%half]
				var rot float32
				if i < half {
					rot = -x[b+half+i]
				} else {
					rot = x[b+i-half]
				}
				if want := float32(x[b+i]*cs) + float32(rot*sn); out[b+i] != want {
					t.Fatalf("t=%d h=%d dim %d: %g, HF fp32 order gives %g", tk, h, i, out[b+i], want)
				}
			}
		}
	}
}

func TestGradCheckReference(t *testing.T) {
	sh := shape{3, 2, 12, 8}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.F64(kerneltest.Normal(kerneltest.RNG(1), n, 1))
	w := kerneltest.F64(kerneltest.Normal(kerneltest.RNG(2), n, 1))
	c32, s32 := randomAngles(3, sh.T*sh.R/2)
	c, s := kerneltest.F64(c32), kerneltest.F64(s32)
	loss := func(x []float64) float64 {
		out := make([]float64, n)
		RefForward(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		return kerneltest.Dot64(out, w)
	}
	grad := make([]float64, n)
	RefBackward(grad, w, c, s, sh.T, sh.H, sh.Dh, sh.R)
	kerneltest.GradCheck(t, "dx", x, grad, loss, 1e-6, 1e-7, 1e-9, 0)
}

func TestInPlaceAndInverse(t *testing.T) {
	sh := shape{40, 4, 64, 32}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(11), n, 1)
	c, s := randomAngles(12, sh.T*sh.R/2)
	out := make([]float32, n)
	if err := Forward(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
		t.Fatal(err)
	}
	inplace := append([]float32(nil), x...)
	if err := Forward(inplace, inplace, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i] != inplace[i] {
			t.Fatalf("in-place differs at %d: %g vs %g", i, inplace[i], out[i])
		}
	}
	// Backward is the inverse rotation: Backward(Forward(x)) ≈ x.
	if err := Backward(inplace, inplace, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
		t.Fatal(err)
	}
	kerneltest.Close(t, "roundtrip", inplace, kerneltest.F64(x), func(i int) float64 { return 8 * kerneltest.Eps32 * (1 + math.Abs(float64(x[i]))) })
}

func TestThreadCountInvariant(t *testing.T) {
	sh := shape{512, 8, 64, 32}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(21), n, 1)
	c, s := randomAngles(22, sh.T*sh.R/2)
	var outs [2][]float32
	for k, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		outs[k] = make([]float32, n)
		err := Forward(outs[k], x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range outs[0] {
		if outs[0][i] != outs[1][i] {
			t.Fatalf("thread count changed element %d", i)
		}
	}
}

func TestErrors(t *testing.T) {
	x := make([]float32, 2*2*8)
	cs := make([]float32, 2*4)
	cases := []struct {
		name         string
		out, x, c, s []float32
		T, H, Dh, R  int
	}{
		{"odd R", x, x, cs, cs, 2, 2, 8, 7},
		{"R > Dh", x, x, cs, cs, 2, 2, 8, 10},
		{"short out", x[:5], x, cs, cs, 2, 2, 8, 8},
		{"short cos", x, x, cs[:3], cs, 2, 2, 8, 8},
		{"zero heads", x, x, cs, cs, 2, 0, 8, 8},
	}
	for _, tc := range cases {
		if err := Forward(tc.out, tc.x, tc.c, tc.s, tc.T, tc.H, tc.Dh, tc.R); err == nil {
			t.Errorf("Forward %s: no error", tc.name)
		}
		if err := Backward(tc.out, tc.x, tc.c, tc.s, tc.T, tc.H, tc.Dh, tc.R); err == nil {
			t.Errorf("Backward %s: no error", tc.name)
		}
	}
}

func BenchmarkForward(b *testing.B) {
	// Text model of performance.md: 1024 tokens, 8 q heads, head dim 32, partial 0.5.
	sh := shape{1024, 8, 32, 16}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(1), n, 1)
	c, s := randomAngles(2, sh.T*sh.R/2)
	out := make([]float32, n)
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	b.SetBytes(int64(8 * n))
	for b.Loop() {
		_ = Forward(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
	}
}

// TestAssemblyMatchesGo: the AVX-512 rows (half a multiple of 16) give the Go loop's bits,
// forward and backward, in place and out of place (with the pass-through dims copied).
func TestAssemblyMatchesGo(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this machine")
	}
	for i, sh := range []shape{{33, 2, 128, 64}, {300, 6, 64, 64}, {5, 3, 96, 32}, {17, 1, 128, 128}} {
		n := sh.T * sh.H * sh.Dh
		x := kerneltest.Normal(kerneltest.RNG(uint64(300+i)), n, 2)
		c, s := randomAngles(uint64(400+i), sh.T*sh.R/2)
		for _, f := range []func(out, x, c, s []float32, T, H, Dh, R int) error{Forward, Backward} {
			var outs [2][]float32
			for k, asm := range []bool{false, true} {
				useAVX512 = asm
				outs[k] = make([]float32, n)
				kerneltest.Poison(outs[k])
				err := f(outs[k], x, c, s, sh.T, sh.H, sh.Dh, sh.R)
				in := append([]float32(nil), x...)
				err2 := f(in, in, c, s, sh.T, sh.H, sh.Dh, sh.R)
				useAVX512 = true
				if err != nil || err2 != nil {
					t.Fatal(err, err2)
				}
				for j := range in {
					if math.Float32bits(in[j]) != math.Float32bits(outs[k][j]) {
						t.Fatalf("%v asm=%v: in place differs at %d", sh, asm, j)
					}
				}
			}
			for j := range outs[0] {
				if math.Float32bits(outs[0][j]) != math.Float32bits(outs[1][j]) {
					t.Fatalf("%v: assembly %g, Go %g at %d", sh, outs[1][j], outs[0][j], j)
				}
			}
		}
	}
}

// BenchmarkVision is the vision tower's shape (2048 patches, 6 heads of 64, full rotary): the
// AVX-512 rows and the Go loop alternate in the same run; x_go is the Go loop's time over the
// assembly's (1 where there is no AVX-512).
func BenchmarkVision(b *testing.B) {
	sh := shape{2048, 6, 64, 64}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(1), n, 1)
	c, s := randomAngles(2, sh.T*sh.R/2)
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	asm := useAVX512
	defer func() { useAVX512 = asm }()
	var tFast, tGo time.Duration
	b.SetBytes(int64(8 * n))
	for b.Loop() {
		t0 := time.Now()
		_ = Forward(x, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		t1 := time.Now()
		useAVX512 = false
		_ = Forward(x, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		useAVX512 = asm
		tFast, tGo = tFast+t1.Sub(t0), tGo+time.Since(t1)
	}
	b.ReportMetric(float64(tFast.Nanoseconds())/float64(b.N), "ns/rotation")
	b.ReportMetric(tGo.Seconds()/tFast.Seconds(), "x_go")
}

// TestForward16: the bf16 output of Forward16 (Backward16) is Forward's (Backward's) float32
// result rounded (both row paths, blocks of tokens), and bad lengths are errors.
func TestForward16(t *testing.T) {
	for _, dir := range []struct {
		name  string
		f32   func(out, x, cos, sin []float32, T, H, Dh, R int) error
		round func(out []uint16, x, cos, sin []float32, T, H, Dh, R int) error
	}{{"Forward16", Forward, Forward16}, {"Backward16", Backward, Backward16}} {
		for i, sh := range shapes {
			n := sh.T * sh.H * sh.Dh
			x := kerneltest.Normal(kerneltest.RNG(uint64(500+i)), n, 1)
			c, s := randomAngles(uint64(600+i), sh.T*sh.R/2)
			want := make([]float32, n)
			if err := dir.f32(want, x, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
				t.Fatal(err)
			}
			w16 := make([]uint16, n)
			tensors.F32ToBF16(w16, want)
			got := make([]uint16, n)
			for j := range got {
				got[j] = 0xffff
			}
			if err := dir.round(got, x, c, s, sh.T, sh.H, sh.Dh, sh.R); err != nil {
				t.Fatal(err)
			}
			for j := range got {
				if got[j] != w16[j] {
					t.Fatalf("%s %v: element %d = %#04x, want %#04x", dir.name, sh, j, got[j], w16[j])
				}
			}
			if dir.round(got[1:], x, c, s, sh.T, sh.H, sh.Dh, sh.R) == nil {
				t.Errorf("%s %v: short out accepted", dir.name, sh)
			}
		}
	}
}

// BenchmarkBackward16: Backward16 (rotate blocks of tokens into L1, round) against its
// baseline, Backward into a float32 buffer then tensors.F32ToBF16, alternating in the same run
// on the vision shape; x_separate is the baseline's time over Backward16's.
func BenchmarkBackward16(b *testing.B) {
	sh := shape{2048, 6, 64, 64}
	n := sh.T * sh.H * sh.Dh
	x := kerneltest.Normal(kerneltest.RNG(1), n, 1)
	c, s := randomAngles(2, sh.T*sh.R/2)
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	f32, out := make([]float32, n), make([]uint16, n)
	var t16, tSep time.Duration
	for b.Loop() {
		t0 := time.Now()
		_ = Backward16(out, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		t1 := time.Now()
		_ = Backward(f32, x, c, s, sh.T, sh.H, sh.Dh, sh.R)
		tensors.F32ToBF16(out, f32)
		t16, tSep = t16+t1.Sub(t0), tSep+time.Since(t1)
	}
	b.ReportMetric(float64(t16.Nanoseconds())/float64(b.N), "ns/rotation")
	b.ReportMetric(tSep.Seconds()/t16.Seconds(), "x_separate")
}
