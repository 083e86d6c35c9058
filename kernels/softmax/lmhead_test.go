package softmax

import (
	"math"
	"slices"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// plainLMHead is the unchunked path: full logits [T, V] by one GEMM, the fused cross-entropy
// in place, then dh = d(logits)·W and dw += d(logits)ᵀ·h.
func plainLMHead(dh, dw, stats, h, w []float32, targets []int32, T, D, V int, g float32) (float64, int) {
	logits := make([]float32, T*V)
	gemm.Sgemm(false, true, T, V, D, 1, h, D, w, D, 0, logits, V)
	s, n, err := CrossEntropy(logits, stats, logits, targets, T, V, g)
	if err != nil {
		panic(err)
	}
	gemm.Sgemm(false, false, T, D, V, 1, logits, V, w, D, 0, dh, D)
	gemm.Sgemm(true, false, V, D, T, 1, logits, V, h, D, 1, dw, D)
	return s, n
}

func TestLMHeadMatchesPlain(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const T, D, V = 37, 24, 300
		r := kt.RNG(20)
		h := kt.Normal(r, T*D, 1)
		w := kt.Normal(r, V*D, 0.5)
		targets := randTargets(r, T, V)
		base := kt.Normal(r, V*D, 0.1) // dw accumulates onto this
		const g = 1.0 / 29

		pdh, pdw, pstats := make([]float32, T*D), slices.Clone(base), make([]float32, 2*T)
		psum, pcount := plainLMHead(pdh, pdw, pstats, h, w, targets, T, D, V, g)

		// float64 reference for everything.
		h64, w64 := kt.F64(h), kt.F64(w)
		logits64 := make([]float64, T*V)
		RefLogits(logits64, h64, w64, T, D, V)
		wantSum, wantCount := RefCrossEntropy(logits64, targets, T, V)
		wantDh, wantDw := make([]float64, T*D), kt.F64(base)
		RefLMHeadBackward(wantDh, wantDw, h64, w64, targets, T, D, V, g)
		dl := make([]float64, T*V)
		RefCrossEntropyBackward(dl, logits64, targets, T, V, g)
		// Magnitudes: |logit| error ≤ D·eps·Σ|h·w| (≤ lmag), which moves every softmax value by a
		// relative 2·lmag; then the V-term (dh) or T-term (dw) GEMM sums.
		lmag := 0.0
		for t := range T {
			for v := range V {
				s := 0.0
				for k := range D {
					s += math.Abs(h64[t*D+k] * w64[v*D+k])
				}
				lmag = max(lmag, float64(D)*kt.Eps32*s)
			}
		}
		magDh, magDw := make([]float64, T*D), make([]float64, V*D)
		for t := range T {
			for v := range V {
				for k := range D {
					magDh[t*D+k] += math.Abs(dl[t*V+v] * w64[v*D+k])
					magDw[v*D+k] += math.Abs(dl[t*V+v] * h64[t*D+k])
				}
			}
		}
		rel := kt.Tol(4, V+D+16, kt.Eps32, 1, 2*lmag) // relative error of one d(logits) element
		for _, scratchRows := range []int{1, 5, 64} {
			name := kt.Shape(T, D, V, scratchRows)
			scratch := make([]float32, scratchRows*V)
			stats := make([]float32, 2*T)
			kt.Poison(stats)
			sum, count, err := LMHeadForward(stats, h, w, targets, T, D, V, scratch)
			if err != nil {
				t.Fatal(err)
			}
			if sum != psum || count != pcount || !slices.Equal(stats, pstats) {
				t.Errorf("%s: forward loss %.9g count %d differs from the plain path %.9g %d (or stats do)", name, sum, count, psum, pcount)
			}
			if math.Abs(sum-wantSum) > float64(count)*(rel+lmag) || count != wantCount {
				t.Errorf("%s: loss %.9g, float64 reference %.9g", name, sum, wantSum)
			}
			dh, dw := make([]float32, T*D), slices.Clone(base)
			kt.Poison(dh)
			if err := LMHeadBackward(dh, dw, h, w, stats, targets, T, D, V, g, scratch); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dh, pdh) {
				t.Errorf("%s: dh differs from the plain path", name)
			}
			kt.Close(t, name+" dh", dh, wantDh, func(i int) float64 { return kt.Tol(4, V, kt.Eps32, magDh[i], rel*magDh[i]) })
			kt.Close(t, name+" dw", dw, wantDw, func(i int) float64 {
				return kt.Tol(4, T+1, kt.Eps32, magDw[i]+math.Abs(float64(base[i])), rel*magDw[i])
			})
			kt.Close(t, name+" dw vs plain", dw, kt.F64(pdw), func(i int) float64 {
				return kt.Tol(8, T+1, kt.Eps32, magDw[i]+math.Abs(float64(base[i])), 0)
			})

			// Fused: bit-identical to forward + backward.
			fdh, fdw, fstats := make([]float32, T*D), slices.Clone(base), make([]float32, 2*T)
			kt.Poison(fdh)
			fsum, fcount, err := LMHead(fdh, fdw, fstats, h, w, targets, T, D, V, g, scratch)
			if err != nil {
				t.Fatal(err)
			}
			if fsum != sum || fcount != count || !slices.Equal(fstats, stats) || !slices.Equal(fdh, dh) || !slices.Equal(fdw, dw) {
				t.Errorf("%s: fused LMHead differs from LMHeadForward + LMHeadBackward", name)
			}
		}
	})
}

func TestLMHeadAllIgnored(t *testing.T) {
	const T, D, V = 4, 8, 20
	r := kt.RNG(21)
	h, w := kt.Normal(r, T*D, 1), kt.Normal(r, V*D, 1)
	targets := slices.Repeat([]int32{IgnoreIndex}, T)
	dh, dw, stats := make([]float32, T*D), slices.Clone(w), make([]float32, 2*T)
	kt.Poison(dh)
	kt.Poison(stats)
	sum, count, err := LMHead(dh, dw, stats, h, w, targets, T, D, V, 1, make([]float32, V))
	if err != nil {
		t.Fatal(err)
	}
	if sum != 0 || count != 0 || !slices.Equal(dw, w) {
		t.Errorf("loss %g count %d (or dw changed), want zeros", sum, count)
	}
	for i, v := range append(dh, stats...) {
		if v != 0 {
			t.Fatalf("element %d = %g, want 0", i, v)
		}
	}
}

func TestLMHeadErrors(t *testing.T) {
	const T, D, V = 3, 4, 10
	h, w := make([]float32, T*D), make([]float32, V*D)
	dh, dw, stats := make([]float32, T*D), make([]float32, V*D), make([]float32, 2*T)
	ok := []int32{1, 2, 3}
	scratch := make([]float32, V)
	for i, err := range []error{
		LMHeadBackward(dh, dw, h, w, stats, ok, T, D, V, 1, scratch[:V-1]),
		LMHeadBackward(dh[1:], dw, h, w, stats, ok, T, D, V, 1, scratch),
		LMHeadBackward(dh, dw[1:], h, w, stats, ok, T, D, V, 1, scratch),
		LMHeadBackward(dh, dw, h, w, stats, []int32{1, 10, 2}, T, D, V, 1, scratch),
		func() error { _, _, err := LMHeadForward(stats, h, w[1:], ok, T, D, V, scratch); return err }(),
		func() error { _, _, err := LMHead(dh, dw, stats[1:], h, w, ok, T, D, V, 1, scratch); return err }(),
		func() error { _, _, err := LMHead(dh, dw, stats, h, w, ok, T, 0, V, 1, scratch); return err }(),
	} {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
