package moe

import (
	"math"
	"slices"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

type layerCase struct {
	name    string
	cfg     RouterConfig
	T, D, F int
	bias    []float32 // nil: the random small bias of newLayer
}

var layerCases = []layerCase{
	{"E8k2", RouterConfig{E: 8, K: 2, NGroup: 1, TopKGroup: 1, NormTopK: true, Scale: 1}, 24, 16, 8, nil},
	{"E8k3_groups", RouterConfig{E: 8, K: 3, NGroup: 4, TopKGroup: 2, NormTopK: true, Scale: 2.5}, 20, 12, 6, nil},
	// Bias sends every token to experts 2 and 5: two hot experts, six empty ones.
	{"hot_and_empty", RouterConfig{E: 8, K: 2, NormTopK: true, Scale: 1}, 30, 8, 4,
		[]float32{0, 0, 5, 0, 0, 4, 0, 0}},
}

// TestMoELayerMatchesRef composes the fp32 pieces (router, permutation, grouped GEMMs, a local
// SwiGLU, unpermute) into the full routed-MoE forward and backward and compares every output and
// gradient with the float64 per-token reference.
// It runs once per kernels/gemm path.
func TestMoELayerMatchesRef(t *testing.T) { gemmPaths(t, testMoELayerMatchesRef) }

func testMoELayerMatchesRef(t *testing.T) {
	for ci, c := range layerCases {
		t.Run(c.name, func(t *testing.T) {
			l := newLayer(uint64(1000+ci), c.cfg, c.T, c.D, c.F)
			if c.bias != nil {
				l.bias = c.bias
			}
			m := newRun(l)
			m.forward(t, l)
			m.backward(t, l)

			x, wg, b := kt.F64(l.x), kt.F64(l.wGate), kt.F64(l.bias)
			wgu, wd := kt.F64(l.wGateUp), kt.F64(l.wDown)
			out, idx := RefMoEForward(c.cfg, c.T, c.D, c.F, x, wg, b, wgu, wd)
			if !slices.Equal(m.topIdx, idx) {
				t.Fatalf("fp32 and float64 selections differ:\n%v\n%v", m.topIdx, idx)
			}
			if c.bias != nil {
				for e := range c.cfg.E {
					n := m.offs[e+1] - m.offs[e]
					if hot := e == 2 || e == 5; (n == int32(c.T)) != hot || (!hot && n != 0) {
						t.Fatalf("expert %d has %d rows: bias did not make the hot/empty split", e, n)
					}
				}
			}
			dx, dWg, dWgu, dWd := RefMoEBackward(c.cfg, c.T, c.D, c.F, x, wg, b, wgu, wd, kt.F64(l.dOut))
			// Composite error bound: a few chained fp32 reductions of lengths D, 2F, k and T,
			// relative to the largest value of each output.
			red := c.D + 2*c.F + c.cfg.K
			kt.CloseAll(t, "out", m.out, out, kt.Tol(4, red, kt.Eps32, 4*maxAbs(out), 0))
			kt.CloseAll(t, "dx", m.dx, dx, kt.Tol(4, red+c.cfg.E, kt.Eps32, 4*maxAbs(dx), 0))
			kt.CloseAll(t, "dWGate", m.dWGate, dWg, kt.Tol(4, red+c.T, kt.Eps32, 4*maxAbs(dWg), 0))
			kt.CloseAll(t, "dWGateUp", m.dWGateUp, dWgu, kt.Tol(4, red+c.T, kt.Eps32, 4*maxAbs(dWgu), 0))
			kt.CloseAll(t, "dWDown", m.dWDown, dWd, kt.Tol(4, red+c.T, kt.Eps32, 4*maxAbs(dWd), 0))
		})
	}
}

// TestMoERefGradFD checks every gradient of the float64 reference layer by central finite
// differences, with the expert selection verified unchanged by each step.
func TestMoERefGradFD(t *testing.T) {
	for ci, c := range layerCases {
		t.Run(c.name, func(t *testing.T) {
			T, D, F := 6, c.D, c.F
			l := newLayer(uint64(2000+ci), c.cfg, T, D, F)
			if c.bias != nil {
				l.bias = c.bias
			}
			x, wg, b := kt.F64(l.x), kt.F64(l.wGate), kt.F64(l.bias)
			wgu, wd, g := kt.F64(l.wGateUp), kt.F64(l.wDown), kt.F64(l.dOut[:T*D])
			_, scores, idx, _ := RefRoute(c.cfg, T, D, x, wg, b)
			if c.cfg.NGroup <= 1 {
				if mg := selectionMargin(c.cfg, T, scores, b); mg < 1e-4 {
					t.Fatalf("selection margin %g too small for finite differences: pick another seed", mg)
				}
			}
			loss := func(x, wg, wgu, wd []float64) float64 {
				out, id := RefMoEForward(c.cfg, T, D, F, x, wg, b, wgu, wd)
				if !slices.Equal(id, idx) {
					t.Fatalf("selection flipped under a finite-difference step")
				}
				return kt.Dot64(g, out)
			}
			dx, dWg, dWgu, dWd := RefMoEBackward(c.cfg, T, D, F, x, wg, b, wgu, wd, g)
			const h, rtol, atol = 1e-6, 1e-5, 1e-8
			kt.GradCheck(t, "dx", x, dx, func(v []float64) float64 { return loss(v, wg, wgu, wd) }, h, rtol, atol, 0)
			kt.GradCheck(t, "dWGate", wg, dWg, func(v []float64) float64 { return loss(x, v, wgu, wd) }, h, rtol, atol, 0)
			kt.GradCheck(t, "dWGateUp", wgu, dWgu, func(v []float64) float64 { return loss(x, wg, v, wd) }, h, rtol, atol, 300)
			kt.GradCheck(t, "dWDown", wd, dWd, func(v []float64) float64 { return loss(x, wg, wgu, v) }, h, rtol, atol, 300)
		})
	}
}

// TestMoEDeterministicAcrossThreads: the composed forward and backward are bitwise identical
// for 1, 2, 3 and 8 workers (this package's loops and gemm's), on a shape big enough for gemm to
// split its work, with one hot expert and several empty ones.
func TestMoEDeterministicAcrossThreads(t *testing.T) {
	cfg := RouterConfig{E: 8, K: 2, NormTopK: true, Scale: 1}
	T, D, F := 512, 64, 64
	if testing.Short() {
		T = 256
	}
	l := newLayer(77, cfg, T, D, F)
	l.bias[3] = 3 // expert 3 takes every token: T rows > groupRowTile
	var ref *moeRun
	for _, w := range []int{1, 2, 3, 8} {
		m := newRun(l)
		withWorkers(w, func() {
			m.forward(t, l)
			m.backward(t, l)
		})
		if ref == nil {
			ref = m
			continue
		}
		for _, c := range []struct {
			name string
			a, b []float32
		}{{"out", m.out, ref.out}, {"dx", m.dx, ref.dx}, {"dWGate", m.dWGate, ref.dWGate},
			{"dWGateUp", m.dWGateUp, ref.dWGateUp}, {"dWDown", m.dWDown, ref.dWDown}, {"topW", m.topW, ref.topW}} {
			for i := range c.a {
				if math.Float32bits(c.a[i]) != math.Float32bits(c.b[i]) {
					t.Fatalf("%d workers: %s[%d] = %v, 1 worker gave %v", w, c.name, i, c.a[i], c.b[i])
				}
			}
		}
	}
	// The aux losses are serial or per-sequence: same check for SeqAuxLossBackward.
	B, S := 4, T/4
	counts := make([]int32, B*cfg.E)
	_, err := SeqAuxLoss(B, S, cfg.E, cfg.K, 1e-3, ref.scores, counts)
	must(t, err)
	var first []float32
	for _, w := range []int{1, 3} {
		ds := make([]float32, T*cfg.E)
		withWorkers(w, func() { must(t, SeqAuxLossBackward(B, S, cfg.E, cfg.K, 1e-3, ref.scores, counts, 1, ds)) })
		if first == nil {
			first = ds
		} else if !slices.Equal(ds, first) {
			t.Fatal("SeqAuxLossBackward depends on the worker count")
		}
	}
}
