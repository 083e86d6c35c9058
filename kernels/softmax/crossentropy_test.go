package softmax

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// randTargets draws targets in [0, V), about a quarter of them IgnoreIndex.
func randTargets(r *rand.Rand, T, V int) []int32 {
	out := make([]int32, T)
	for i := range out {
		out[i] = int32(r.IntN(V))
		if r.IntN(4) == 0 {
			out[i] = IgnoreIndex
		}
	}
	return out
}

var ceShapes = [][2]int{{1, 1}, {7, 50}, {9, 3000}, {5, Chunk + 37}, {3, 3*Chunk + 5}}

// ceCheck compares CrossEntropyForward/Backward with the float64 reference.
//
// Error model (per token): the row sum Σexp has relative error ≤ V·eps (positive terms), each
// exp sees x − max rounded (relative error eps·|x − max|), and |max| rounds into lse; the
// gradient element p·g carries the same relative error, the target element also g·eps.
func ceCheck(t *testing.T, name string, logits []float32, targets []int32, T, V int, g float32) {
	t.Helper()
	stats := make([]float32, 2*T)
	kt.Poison(stats)
	lossSum, count, err := CrossEntropyForward(stats, logits, targets, T, V)
	if err != nil {
		t.Fatal(err)
	}
	x64 := kt.F64(logits)
	wantSum, wantCount := RefCrossEntropy(x64, targets, T, V)
	lse := make([]float64, T)
	RefLogSumExp(lse, x64, T, V)
	spread := xSpread(logits, T, V)
	tol := 0.0
	for i, tg := range targets {
		if tg == IgnoreIndex {
			continue
		}
		tol += kt.Tol(4, V+int(spread[i])+4, kt.Eps32, 1+math.Abs(lse[i])+math.Abs(x64[i*V+int(tg)]), 0)
	}
	if count != wantCount || !(math.Abs(lossSum-wantSum) <= tol) {
		t.Errorf("%s: loss %.9g count %d, want %.9g count %d (tol %.3g)", name, lossSum, count, wantSum, wantCount, tol)
	}
	for i, tg := range targets {
		m, logs := float64(stats[2*i]), float64(stats[2*i+1])
		if tg == IgnoreIndex {
			if m != 0 || logs != 0 {
				t.Errorf("%s: ignored row %d stats (%g, %g), want zeros", name, i, m, logs)
			}
			continue
		}
		if m != float64(slices.Max(logits[i*V:(i+1)*V])) || !(math.Abs(m+logs-lse[i]) <= kt.Tol(4, V+int(spread[i])+4, kt.Eps32, 1+math.Abs(lse[i]), 0)) {
			t.Errorf("%s: row %d stats (%g, %g), want max %g, lse %g", name, i, m, logs, slices.Max(logits[i*V:(i+1)*V]), lse[i])
		}
	}

	dl := make([]float32, T*V)
	kt.Poison(dl)
	if err := CrossEntropyBackward(dl, logits, stats, targets, T, V, g); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, T*V)
	RefCrossEntropyBackward(want, x64, targets, T, V, float64(g))
	kt.Close(t, name+" dlogits", dl, want, func(i int) float64 {
		r := i / V
		p := math.Abs(want[i])
		if int(targets[r]) == i%V {
			p = math.Abs(want[i] + float64(g))
		}
		return kt.Tol(4, V+int(spread[r])+16, kt.Eps32, p, 4*kt.Eps32*math.Abs(float64(g))+1e-37)
	})

	// In place over the logits, and the fused call: bit-identical.
	inPlace := slices.Clone(logits)
	if err := CrossEntropyBackward(inPlace, inPlace, stats, targets, T, V, g); err != nil {
		t.Fatal(err)
	}
	fused := slices.Clone(logits)
	fstats := make([]float32, 2*T)
	fsum, fcount, err := CrossEntropy(fused, fstats, fused, targets, T, V, g)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inPlace, dl) || !slices.Equal(fused, dl) || !slices.Equal(fstats, stats) || fsum != lossSum || fcount != count {
		t.Errorf("%s: in-place or fused results differ from the separate calls", name)
	}
}

func TestCrossEntropyVsReference(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for k, s := range ceShapes {
			T, V := s[0], s[1]
			r := kt.RNG(100 + uint64(k))
			logits := kt.Normal(r, T*V, 3)
			targets := randTargets(r, T, V)
			targets[0] = int32(V - 1) // the last column, and at least one token with a loss
			ceCheck(t, kt.Shape(T, V), logits, targets, T, V, 1/float32(T))
		}
	})
}

// TestCrossEntropyHugeLogits: logits of size 1e4 neither overflow nor lose the gradient.
func TestCrossEntropyHugeLogits(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const T, V = 6, 2*Chunk + 100
		r := kt.RNG(7)
		logits := kt.Normal(r, T*V, 1e4)
		targets := randTargets(r, T, V)
		targets[1] = int32(slices.Index(logits[V:2*V], slices.Max(logits[V:2*V]))) // a confident, correct token
		ceCheck(t, "huge", logits, targets, T, V, 0.5)
		// A row whose max sits in the last chunk exercises the online rescaling.
		for i := range logits[:V] {
			logits[i] = float32(i) / 10
		}
		targets[0] = 3
		ceCheck(t, "rising", logits, targets, T, V, 0.5)
	})
}

func TestCrossEntropyRefGradCheck(t *testing.T) {
	const T, V = 4, 11
	r := kt.RNG(8)
	x := kt.F64(kt.Normal(r, T*V, 2))
	targets := []int32{3, IgnoreIndex, 0, 10}
	const g = 0.37
	grad := make([]float64, T*V)
	RefCrossEntropyBackward(grad, x, targets, T, V, g)
	kt.GradCheck(t, "cross-entropy", x, grad, func(x []float64) float64 {
		s, _ := RefCrossEntropy(x, targets, T, V)
		return g * s
	}, 1e-6, 1e-6, 1e-9, 0)
}

func TestCrossEntropyAllIgnored(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const T, V = 5, 33
		logits := kt.Normal(kt.RNG(9), T*V, 1)
		targets := slices.Repeat([]int32{IgnoreIndex}, T)
		dl := make([]float32, T*V)
		stats := make([]float32, 2*T)
		kt.Poison(dl)
		kt.Poison(stats)
		sum, count, err := CrossEntropy(dl, stats, logits, targets, T, V, 1)
		if err != nil {
			t.Fatal(err)
		}
		if sum != 0 || count != 0 || Mean(sum, count) != 0 || CountTargets(targets) != 0 {
			t.Errorf("loss %g count %d mean %g, want zeros", sum, count, Mean(sum, count))
		}
		for i, v := range append(dl, stats...) {
			if v != 0 {
				t.Fatalf("element %d = %g, want 0", i, v)
			}
		}
	})
}

func TestCrossEntropyBadTargets(t *testing.T) {
	const T, V = 4, 10
	logits := kt.Normal(kt.RNG(10), T*V, 1)
	stats := make([]float32, 2*T)
	for _, bad := range []int32{-1, 10, -101, 1 << 30} {
		targets := []int32{1, IgnoreIndex, bad, 2}
		kt.Poison(stats)
		_, _, err := CrossEntropyForward(stats, logits, targets, T, V)
		if err == nil || !strings.Contains(err.Error(), "targets[2]") {
			t.Errorf("target %d: error %v, want one naming targets[2]", bad, err)
		}
		if !math.IsNaN(float64(stats[0])) {
			t.Errorf("target %d: stats written before the error", bad)
		}
		if err := CrossEntropyBackward(logits, logits, stats, targets, T, V, 1); err == nil {
			t.Errorf("target %d: backward accepted it", bad)
		}
	}
	for i, err := range []error{
		CrossEntropyBackward(logits[1:], logits, stats, []int32{1, 1, 1, 1}, T, V, 1),
		CrossEntropyBackward(logits, logits, stats[1:], []int32{1, 1, 1, 1}, T, V, 1),
		CrossEntropyBackward(logits, logits, stats, []int32{1, 1, 1}, T, V, 1),
		CrossEntropyBackward(logits, logits, stats, []int32{1, 1, 1, 1}, T, 0, 1),
	} {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestCrossEntropyThreadInvariant(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const T, V = 48, 3000
		r := kt.RNG(11)
		logits := kt.Normal(r, T*V, 3)
		targets := randTargets(r, T, V)
		once := func() ([]float32, []float32, float64) {
			dl, stats := make([]float32, T*V), make([]float32, 2*T)
			s, _, err := CrossEntropy(dl, stats, logits, targets, T, V, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			return dl, stats, s
		}
		prev := runtime.GOMAXPROCS(1)
		d1, s1, l1 := once()
		runtime.GOMAXPROCS(max(prev, 2))
		d2, s2, l2 := once()
		runtime.GOMAXPROCS(prev)
		if !slices.Equal(d1, d2) || !slices.Equal(s1, s2) || l1 != l2 {
			t.Error("cross-entropy depends on the thread count")
		}
	})
}
