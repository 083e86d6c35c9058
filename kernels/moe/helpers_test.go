package moe

import (
	"github.com/glmflow/glmflow/kernels/internal/parallel"
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/kernels/vec"
)

// withWorkers runs f with this package's worker cap and gemm's thread count set to n, and
// this package's threading forced on however small the job.
func withWorkers(n int, f func()) {
	prevW, prevMin := parallel.SetMaxWorkers(n), minParallelWork
	minParallelWork = 0
	prevG := gemm.SetThreads(n)
	defer func() {
		parallel.SetMaxWorkers(prevW)
		minParallelWork = prevMin
		gemm.SetThreads(prevG)
	}()
	f()
}

// gemmPaths runs f once per kernels/gemm implementation this CPU supports (generic Go, AVX2,
// AVX-512), forcing it through gemm.ForcePath; unsupported paths are reported as skipped.
func gemmPaths(t *testing.T, f func(t *testing.T)) {
	for _, p := range []gemm.Path{gemm.PathGeneric, gemm.PathAVX2, gemm.PathAVX512} {
		t.Run(p.String(), func(t *testing.T) {
			if !gemm.Available(p) {
				t.Skipf("gemm path %v not supported by this CPU", p)
			}
			prev := gemm.ForcePath(p)
			defer gemm.ForcePath(prev)
			f(t)
		})
	}
}

// layer is one MoE layer's inputs and parameters (fp32) for tests and benchmarks.
type layer struct {
	cfg            RouterConfig
	T, D, F        int
	x, wGate, bias []float32 // [T,D], [E,D], [E]
	wGateUp, wDown []float32 // [E,2F,D], [E,D,F]
	dOut           []float32 // [T,D]
}

func newLayer(seed uint64, cfg RouterConfig, T, D, F int) *layer {
	r := kerneltest.RNG(seed)
	E := cfg.E
	return &layer{
		cfg: cfg, T: T, D: D, F: F,
		x:       kerneltest.Normal(r, T*D, 1),
		wGate:   kerneltest.Normal(r, E*D, 1/math.Sqrt(float64(D))),
		bias:    kerneltest.Uniform(r, E, -0.05, 0.05),
		wGateUp: kerneltest.Normal(r, E*2*F*D, 1/math.Sqrt(float64(D))),
		wDown:   kerneltest.Normal(r, E*D*F, 1/math.Sqrt(float64(F))),
		dOut:    kerneltest.Normal(r, T*D, 1),
	}
}

// moeRun holds every activation and gradient of the fp32 composed MoE layer.
type moeRun struct {
	logits, scores, topW     []float32
	topIdx, offs, rowSrc     []int32
	pos                      []int32
	xp, h, a, yp, out        []float32
	dyp, dTopW, da, dh, dxp  []float32
	dLogits, dxR, dxE, dx    []float32
	dWGate, dWGateUp, dWDown []float32
}

func newRun(l *layer) *moeRun {
	T, D, F, E, k := l.T, l.D, l.F, l.cfg.E, l.cfg.K
	R := T * k
	f := func(n int) []float32 { s := make([]float32, n); kerneltest.Poison(s); return s }
	return &moeRun{
		logits: f(T * E), scores: f(T * E), topW: f(T * k),
		topIdx: make([]int32, T*k), offs: make([]int32, E+1), rowSrc: make([]int32, R), pos: make([]int32, R),
		xp: f(R * D), h: f(R * 2 * F), a: f(R * F), yp: f(R * D), out: f(T * D),
		dyp: f(R * D), dTopW: f(R), da: f(R * F), dh: f(R * 2 * F), dxp: f(R * D),
		dLogits: f(T * E), dxR: f(T * D), dxE: f(T * D), dx: f(T * D),
		dWGate: make([]float32, E*D), dWGateUp: make([]float32, E*2*F*D), dWDown: make([]float32, E*D*F),
	}
}

// swiglu is a local SwiGLU over [R,2F] rows (gate half, then up half) → [R,F]
// (kernels/elementwise owns the real one); a = silu(g)·u with σ from vec.Sigmoid.
func swiglu(R, F int, h, a []float32) {
	for r := range R {
		g, u, o := h[r*2*F:r*2*F+F], h[r*2*F+F:(r+1)*2*F], a[r*F:(r+1)*F]
		vec.Sigmoid(o, g)
		for f := range o {
			o[f] *= g[f] * u[f]
		}
	}
}

// swigluBackward: dg = da·u·σ(g)·(1 + g·(1−σ(g))), du = da·g·σ(g).
func swigluBackward(R, F int, h, da, dh []float32) {
	for r := range R {
		g, u := h[r*2*F:r*2*F+F], h[r*2*F+F:(r+1)*2*F]
		dg, du, d := dh[r*2*F:r*2*F+F], dh[r*2*F+F:(r+1)*2*F], da[r*F:(r+1)*F]
		vec.Sigmoid(du, g) // σ(g), overwritten below
		for f := range d {
			s := du[f]
			dg[f] = d[f] * u[f] * s * (1 + g[f]*(1-s))
			du[f] = d[f] * g[f] * s
		}
	}
}

// forward runs router → permute → gate_up → SwiGLU → down → unpermute.
func (m *moeRun) forward(tb testing.TB, l *layer) {
	T, D, F, E, k := l.T, l.D, l.F, l.cfg.E, l.cfg.K
	R := T * k
	must(tb, RouterForward(l.cfg, T, D, l.x, l.wGate, l.bias, m.logits, m.scores, m.topIdx, m.topW))
	must(tb, BuildPermutation(T, k, E, m.topIdx, m.offs, m.rowSrc, m.pos))
	must(tb, Permute(T, D, k, l.x, m.rowSrc, m.xp))
	must(tb, GroupedLinear(E, R, 2*F, D, m.xp, l.wGateUp, m.offs, m.h))
	swiglu(R, F, m.h, m.a)
	must(tb, GroupedLinear(E, R, D, F, m.a, l.wDown, m.offs, m.yp))
	must(tb, Unpermute(T, D, k, m.yp, m.pos, m.topW, m.out))
}

// backward runs the chain in reverse; dx = router dx + expert-path dx.
func (m *moeRun) backward(tb testing.TB, l *layer) {
	T, D, F, E, k := l.T, l.D, l.F, l.cfg.E, l.cfg.K
	R := T * k
	must(tb, UnpermuteBackward(T, D, k, l.dOut, m.yp, m.pos, m.topW, m.dyp, m.dTopW))
	must(tb, GroupedLinearBackwardInput(E, R, D, F, m.dyp, l.wDown, m.offs, m.da))
	must(tb, GroupedLinearBackwardWeight(E, R, D, F, m.dyp, m.a, m.offs, m.dWDown))
	swigluBackward(R, F, m.h, m.da, m.dh)
	must(tb, GroupedLinearBackwardInput(E, R, 2*F, D, m.dh, l.wGateUp, m.offs, m.dxp))
	must(tb, GroupedLinearBackwardWeight(E, R, 2*F, D, m.dh, m.xp, m.offs, m.dWGateUp))
	must(tb, PermuteBackward(T, D, k, m.dxp, m.pos, m.dxE))
	must(tb, RouterBackward(l.cfg, T, D, l.x, l.wGate, m.scores, m.topIdx, m.dTopW, nil, m.dLogits, m.dxR, m.dWGate))
	for i := range m.dx {
		m.dx[i] = m.dxR[i] + m.dxE[i]
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// selectionMargin is the smallest gap, over tokens, between the k-th and (k+1)-th selection
// scores (float64, no groups): perturbations smaller than it cannot flip the chosen set.
func selectionMargin(cfg RouterConfig, T int, scores, bias []float64) float64 {
	E, k := cfg.E, cfg.K
	m := math.Inf(1)
	if k == E {
		return m
	}
	for t := range T {
		sel := make([]float64, E)
		for e := range E {
			sel[e] = scores[t*E+e]
			if bias != nil {
				sel[e] += bias[e]
			}
		}
		o := sortedDesc(sel)
		m = math.Min(m, sel[o[k-1]]-sel[o[k]])
	}
	return m
}
