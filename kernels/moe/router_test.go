package moe

import (
	"fmt"
	"math"
	"slices"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

var routerConfigs = []RouterConfig{
	{E: 16, K: 4, NGroup: 1, TopKGroup: 1, NormTopK: true, Scale: 1},                      // GLM-4.5V shape, smaller
	{E: 16, K: 3, NGroup: 4, TopKGroup: 2, NormTopK: true, Scale: 2.5},                    // DeepSeek-V3 style groups
	{E: 8, K: 2, NGroup: 2, TopKGroup: 1, NormTopK: false, Scale: 1.5},                    // no renormalisation
	{E: 12, K: 5, NGroup: 3, TopKGroup: 1, NormTopK: true, Scale: 1, GroupMaskZero: true}, // legacy 0-fill
	{E: 6, K: 1, NormTopK: true, Scale: 1},                                                // top-1 (weight ≡ 1)
}

func cfgName(c RouterConfig) string {
	return fmt.Sprintf("E%d_k%d_g%d_%d_norm%v_zero%v", c.E, c.K, c.NGroup, c.TopKGroup, c.NormTopK, c.GroupMaskZero)
}

func TestRouterMatchesRef(t *testing.T) { gemmPaths(t, testRouterMatchesRef) }

func testRouterMatchesRef(t *testing.T) {
	const T, D = 37, 24
	for ci, cfg := range routerConfigs {
		t.Run(cfgName(cfg), func(t *testing.T) {
			l := newLayer(uint64(100+ci), cfg, T, D, 1)
			if cfg.GroupMaskZero { // make some selection scores negative so 0-fill matters
				for e := range l.bias {
					l.bias[e] = -0.6 + 0.1*float32(e%3)
				}
			}
			E, k := cfg.E, cfg.K
			m := newRun(l)
			must(t, RouterForward(cfg, T, D, l.x, l.wGate, l.bias, m.logits, m.scores, m.topIdx, m.topW))
			x, w, b := kt.F64(l.x), kt.F64(l.wGate), kt.F64(l.bias)
			logits, scores, idx, topW := RefRoute(cfg, T, D, x, w, b)
			if !slices.Equal(m.topIdx, idx) {
				t.Fatalf("topIdx differs from the reference:\n got %v\nwant %v", m.topIdx, idx)
			}
			tolL := make([]float64, T*E) // a-priori bound of the length-D dot product
			for tok := range T {
				for e := range E {
					mag := 0.0
					for d := range D {
						mag += math.Abs(x[tok*D+d] * w[e*D+d])
					}
					tolL[tok*E+e] = kt.Tol(1, D, kt.Eps32, mag, 0)
				}
			}
			tolS := func(i int) float64 { return tolL[i]/4 + 2*kt.Eps32 } // σ' ≤ 1/4
			kt.Close(t, "logits", m.logits, logits, func(i int) float64 { return tolL[i] })
			kt.Close(t, "scores", m.scores, scores, tolS)
			kt.Close(t, "topW", m.topW, topW, func(i int) float64 {
				tok := i / k
				sum, worst := 0.0, 0.0
				for j := range k {
					e := int(idx[tok*k+j])
					sum += scores[tok*E+e]
					worst = math.Max(worst, tolS(tok*E+e))
				}
				if !cfg.NormTopK {
					sum = 1
				}
				return float64(cfg.Scale) * (2*float64(k)*worst/sum + float64(k+3)*kt.Eps32)
			})

			// Backward: loss = Σ c·topW + Σ cs·scores; compare with the float64 reference.
			r := kt.RNG(uint64(200 + ci))
			dTopW := kt.Normal(r, T*k, 1)
			dScores := kt.Normal(r, T*E, 1)
			dx := make([]float32, T*D)
			kt.Poison(dx)
			dW := kt.Uniform(r, E*D, -1, 1) // accumulated into
			dW0 := kt.F64(dW)
			must(t, RouterBackward(cfg, T, D, l.x, l.wGate, m.scores, m.topIdx, dTopW, dScores, m.dLogits, dx, dW))
			rdx, rdW := RefRouterBackward(cfg, T, D, x, w, scores, idx, kt.F64(dTopW), kt.F64(dScores))
			for i := range rdW {
				rdW[i] += dW0[i]
			}
			mag := 4 * (1 + float64(cfg.Scale))
			kt.CloseAll(t, "dx", dx, rdx, kt.Tol(4, E+k, kt.Eps32, mag*maxAbs(w)*float64(E), 0))
			kt.CloseAll(t, "dWGate", dW, rdW, kt.Tol(4, T+k, kt.Eps32, mag*maxAbs(x)*float64(T), 0))
		})
	}
}

// TestRouterRefGradFD checks the float64 router backward by finite differences (x and W_gate),
// with the selection verified unchanged by the perturbation (clear margins).
func TestRouterRefGradFD(t *testing.T) {
	const T, D = 6, 10
	for ci, cfg := range routerConfigs {
		t.Run(cfgName(cfg), func(t *testing.T) {
			l := newLayer(uint64(300+ci), cfg, T, D, 1)
			x, w, b := kt.F64(l.x), kt.F64(l.wGate), kt.F64(l.bias)
			_, scores, idx, _ := RefRoute(cfg, T, D, x, w, b)
			if cfg.NGroup <= 1 {
				if mg := selectionMargin(cfg, T, scores, b); mg < 1e-4 {
					t.Fatalf("selection margin %g too small for finite differences: pick another seed", mg)
				}
			}
			r := kt.RNG(uint64(400 + ci))
			cw := kt.F64(kt.Normal(r, T*cfg.K, 1))
			cs := kt.F64(kt.Normal(r, T*cfg.E, 1))
			loss := func(x, w []float64) float64 {
				_, s, id, tw := RefRoute(cfg, T, D, x, w, b)
				if !slices.Equal(id, idx) {
					t.Fatalf("selection flipped under a finite-difference step")
				}
				return kt.Dot64(cw, tw) + kt.Dot64(cs, s)
			}
			dx, dW := RefRouterBackward(cfg, T, D, x, w, scores, idx, cw, cs)
			kt.GradCheck(t, "dx", x, dx, func(v []float64) float64 { return loss(v, w) }, 1e-6, 1e-6, 1e-9, 0)
			kt.GradCheck(t, "dWGate", w, dW, func(v []float64) float64 { return loss(x, v) }, 1e-6, 1e-6, 1e-9, 0)
		})
	}
}

// TestRouterTies: equal selection scores resolve to the lower expert index, in groups too.
func TestRouterTies(t *testing.T) {
	const D = 4
	// Every expert has the same weight row → all scores equal; top-k must be 0..k−1.
	for _, cfg := range []RouterConfig{
		{E: 8, K: 3, NormTopK: true, Scale: 1},
		{E: 8, K: 3, NGroup: 4, TopKGroup: 2, NormTopK: true, Scale: 1},
		{E: 40, K: 3, NGroup: 4, TopKGroup: 1, NormTopK: true, Scale: 1}, // SIMD body + tail
	} {
		E, k := cfg.E, cfg.K
		x := []float32{0.3, -0.2, 0.5, 0.1}
		w := make([]float32, E*D)
		for e := range E {
			copy(w[e*D:], []float32{0.4, 0.4, -0.7, 0.2})
		}
		logits, scores := make([]float32, E), make([]float32, E)
		idx, topW := make([]int32, k), make([]float32, k)
		must(t, RouterForward(cfg, 1, D, x, w, nil, logits, scores, idx, topW))
		if want := []int32{0, 1, 2}; !slices.Equal(idx, want) {
			t.Errorf("%s: ties chose %v, want %v", cfgName(cfg), idx, want)
		}
		for j := range k {
			if math.Abs(float64(topW[j])-1.0/3) > 1e-7 {
				t.Errorf("%s: topW[%d] = %v, want 1/3", cfgName(cfg), j, topW[j])
			}
		}
		// A partial tie: experts 5 and 2 tie for the last slot; 2 must win.
		bias := make([]float32, E)
		bias[7], bias[5], bias[2] = 0.5, 0.25, 0.25
		must(t, RouterForward(RouterConfig{E: E, K: 2, NormTopK: true, Scale: 1}, 1, D, x, w, bias, logits, scores, idx[:2], topW[:2]))
		if want := []int32{7, 2}; !slices.Equal(idx[:2], want) {
			t.Errorf("partial tie chose %v, want %v", idx[:2], want)
		}
	}
	// topK itself on NaN and ties.
	v := []float32{1, float32(math.NaN()), 3, 3, -1, 3}
	got := make([]int32, 4)
	topK(v, got)
	if want := []int32{1, 2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("topK(%v) = %v, want %v (NaN first, ties by index)", v, got, want)
	}
}

// TestRouterBiasSelectsWeightsUnbiased: the bias changes the chosen set, the weights stay the
// renormalised un-biased sigmoid scores.
func TestRouterBiasSelectsWeightsUnbiased(t *testing.T) {
	const T, D = 5, 8
	cfg := RouterConfig{E: 6, K: 2, NormTopK: true, Scale: 2}
	l := newLayer(7, cfg, T, D, 1)
	m := newRun(l)
	must(t, RouterForward(cfg, T, D, l.x, l.wGate, nil, m.logits, m.scores, m.topIdx, m.topW))
	// Pick the expert never chosen without bias for token 0 and boost it.
	loser := int32(-1)
	for e := range int32(cfg.E) {
		if !slices.Contains(m.topIdx[:2], e) {
			loser = e
			break
		}
	}
	bias := make([]float32, cfg.E)
	bias[loser] = 10 // larger than any sigmoid gap
	idx, w := make([]int32, T*2), make([]float32, T*2)
	must(t, RouterForward(cfg, T, D, l.x, l.wGate, bias, m.logits, m.scores, idx, w))
	for tok := range T {
		if idx[tok*2] != loser {
			t.Fatalf("token %d: biased expert %d not chosen first: %v", tok, loser, idx[tok*2:tok*2+2])
		}
		s0, s1 := m.scores[tok*cfg.E+int(idx[tok*2])], m.scores[tok*cfg.E+int(idx[tok*2+1])]
		want0 := float64(cfg.Scale) * float64(s0) / (float64(s0) + float64(s1))
		if math.Abs(float64(w[tok*2])-want0) > 1e-6 {
			t.Errorf("token %d: weight %v, want un-biased %v", tok, w[tok*2], want0)
		}
	}
	if slices.Equal(idx[:2], m.topIdx[:2]) {
		t.Errorf("bias did not change the chosen set")
	}
}

// TestRouterGroupLimited: a hand-made token where the global top-k differs from the
// group-limited one.
func TestRouterGroupLimited(t *testing.T) {
	// 8 experts in 4 groups of 2. Selection scores (bias only, scores ≈ 0.5 from zero logits):
	// group sums: g0 = 0.9+0.0, g1 = 0.5+0.5, g2 = 0.8+0.3, g3 = 0.1+0.1 (+0.5 each expert).
	// Top-2 groups: g2 (2.1), g1 (2.0). Global top-3 would be {0, 4, 2}; limited: {4, 2, 3}.
	cfg := RouterConfig{E: 8, K: 3, NGroup: 4, TopKGroup: 2, NormTopK: true, Scale: 1}
	bias := []float32{0.9, 0.0, 0.5, 0.5, 0.8, 0.3, 0.1, 0.1}
	const D = 2
	x := []float32{1, 1}
	w := make([]float32, cfg.E*D) // zero logits → scores 0.5
	logits, scores := make([]float32, cfg.E), make([]float32, cfg.E)
	idx, topW := make([]int32, 3), make([]float32, 3)
	must(t, RouterForward(cfg, 1, D, x, w, bias, logits, scores, idx, topW))
	if want := []int32{4, 2, 3}; !slices.Equal(idx, want) {
		t.Errorf("group-limited top-3 = %v, want %v", idx, want)
	}
	cfg.NGroup = 1
	must(t, RouterForward(cfg, 1, D, x, w, bias, logits, scores, idx, topW))
	if want := []int32{0, 4, 2}; !slices.Equal(idx, want) {
		t.Errorf("plain top-3 = %v, want %v", idx, want)
	}
}

func TestRouterErrors(t *testing.T) {
	cfg := RouterConfig{E: 4, K: 2, NormTopK: true, Scale: 1}
	f := func(n int) []float32 { return make([]float32, n) }
	i := func(n int) []int32 { return make([]int32, n) }
	cases := map[string]error{
		"short x":   RouterForward(cfg, 3, 5, f(14), f(20), nil, f(12), f(12), i(6), f(6)),
		"bias len":  RouterForward(cfg, 3, 5, f(15), f(20), f(3), f(12), f(12), i(6), f(6)),
		"K > E":     RouterForward(RouterConfig{E: 2, K: 3, Scale: 1}, 1, 1, f(1), f(2), nil, f(2), f(2), i(3), f(3)),
		"groups":    RouterForward(RouterConfig{E: 6, K: 2, NGroup: 4, TopKGroup: 1, Scale: 1}, 1, 1, f(1), f(6), nil, f(6), f(6), i(2), f(2)),
		"group k":   RouterForward(RouterConfig{E: 8, K: 5, NGroup: 4, TopKGroup: 2, Scale: 1}, 1, 1, f(1), f(8), nil, f(8), f(8), i(5), f(5)),
		"neg T":     RouterForward(cfg, -1, 5, f(0), f(20), nil, f(0), f(0), i(0), f(0)),
		"bad index": RouterScoresBackward(cfg, 1, f(4), []int32{0, 9}, f(2), nil, f(4)),
		"dx len":    RouterBackwardInput(2, 3, 4, f(8), f(12), f(5)),
	}
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// T = 0 is valid and writes nothing; D = 0 gives zero logits (scores ½).
	if err := RouterForward(cfg, 0, 5, nil, f(20), nil, nil, nil, nil, nil); err != nil {
		t.Errorf("T = 0: %v", err)
	}
	logits, scores := f(8), f(8)
	kt.Poison(logits)
	if err := RouterForward(cfg, 2, 0, nil, nil, nil, logits, scores, i(4), f(4)); err != nil || logits[7] != 0 || scores[0] != 0.5 {
		t.Errorf("D = 0: err %v, logits %v, scores %v", err, logits, scores)
	}
	dW := f(0)
	if err := RouterBackward(cfg, 2, 0, nil, nil, scores, i(4), f(4), nil, f(8), nil, dW); err != nil {
		t.Errorf("D = 0 backward: %v", err)
	}
}
