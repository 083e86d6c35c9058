package cpu

// These tests check the backend's wiring — argument order, shape derivation, dtype checks —
// by running every op on small random tensors and comparing with the float64 references of
// the kernel packages (whose own tests check the kernels tightly against finite differences).

import (
	"math"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/attention"
	"github.com/glmflow/glmflow/kernels/elementwise"
	"github.com/glmflow/glmflow/kernels/embedding"
	"github.com/glmflow/glmflow/kernels/gridsample"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/kernels/norm"
	"github.com/glmflow/glmflow/kernels/optim"
	"github.com/glmflow/glmflow/kernels/rotary"
	"github.com/glmflow/glmflow/kernels/softmax"
	"github.com/glmflow/glmflow/tensors"
)

var be = New()

type env struct {
	t   *testing.T
	rng uint64
}

// rand returns an F32 tensor of uniform values in [-1, 1), never zero.
func (e *env) rand(shape ...int) *tensors.Tensor {
	e.rng++
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensors.MustF32(kerneltest.Uniform(kerneltest.RNG(e.rng), n, -1, 1), shape...)
}

// out returns a NaN-poisoned F32 tensor (unwritten elements fail the comparison).
func (e *env) out(shape ...int) *tensors.Tensor {
	t := tensors.New(tensors.F32, shape...)
	kerneltest.Poison(t.F32())
	return t
}

func (e *env) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// near compares got with the float64 want at a tolerance for reductions of length k.
func (e *env) near(name string, got *tensors.Tensor, want []float64, k int) {
	e.t.Helper()
	kerneltest.Close(e.t, name, got.F32(), want, func(i int) float64 {
		return kerneltest.Tol(8, k, kerneltest.Eps32, math.Max(1, math.Abs(want[i])), 1e-6)
	})
}

func f64(t *tensors.Tensor) []float64 { return kerneltest.F64(t.F32()) }

func ids(vals ...int32) *tensors.Tensor {
	t := tensors.New(tensors.I32, len(vals))
	copy(t.I32(), vals)
	return t
}

func TestPointwise(t *testing.T) {
	e := &env{t: t}
	a, b, d := e.rand(3, 5), e.rand(3, 5), e.rand(3, 5)
	n := 15
	want := make([]float64, n)
	want2 := make([]float64, n)

	o := e.out(3, 5)
	e.ok(be.Mul(o, a, b))
	for i := range want {
		want[i] = f64(a)[i] * f64(b)[i]
	}
	e.near("Mul", o, want, 1)

	da, db := e.out(3, 5), e.out(3, 5)
	e.ok(be.MulBackward(da, db, d, a, b))
	for i := range want {
		want[i], want2[i] = f64(d)[i]*f64(b)[i], f64(d)[i]*f64(a)[i]
	}
	e.near("MulBackward da", da, want, 1)
	e.near("MulBackward db", db, want2, 1)

	e.ok(be.GELU(o, a))
	elementwise.RefGELU(want, f64(a))
	e.near("GELU", o, want, 4)
	e.ok(be.GELUBackward(o, d, a))
	elementwise.RefGELUBackward(want, f64(d), f64(a))
	e.near("GELUBackward", o, want, 4)

	e.ok(be.SiLUBackward(o, d, a))
	elementwise.RefSiLUBackward(want, f64(d), f64(a))
	e.near("SiLUBackward", o, want, 4)

	e.ok(be.SwiGLUBackward(da, db, d, a, b))
	elementwise.RefSwiGLUBackward(want, want2, f64(d), f64(a), f64(b))
	e.near("SwiGLUBackward dgate", da, want, 4)
	e.near("SwiGLUBackward dup", db, want2, 4)

	gu, dout := e.rand(3, 8), e.rand(3, 4)
	o4, dgu := e.out(3, 4), e.out(3, 8)
	e.ok(be.SwiGLUFused(o4, gu))
	w4 := make([]float64, 12)
	elementwise.RefSwiGLUFused(w4, f64(gu), 3, 4)
	e.near("SwiGLUFused", o4, w4, 4)
	e.ok(be.SwiGLUFusedBackward(dgu, dout, gu))
	w8 := make([]float64, 24)
	elementwise.RefSwiGLUFusedBackward(w8, f64(dout), f64(gu), 3, 4)
	e.near("SwiGLUFusedBackward", dgu, w8, 4)

	bias, dbias := e.rand(5), e.rand(5)
	e.ok(be.AddBias(o, a, bias))
	for i := range want {
		want[i] = f64(a)[i] + f64(bias)[i%5]
	}
	e.near("AddBias", o, want, 1)
	wantDB := f64(dbias)
	e.ok(be.AddBiasBackward(dbias, d))
	for i := range n {
		wantDB[i%5] += f64(d)[i]
	}
	e.near("AddBiasBackward (accumulates)", dbias, wantDB, 3)
}

func TestMatmul(t *testing.T) {
	e := &env{t: t}
	// Batched with a broadcast 2-D B, transposed both ways, beta accumulating.
	a := e.rand(2, 4, 3) // op(A) = Aᵀ: [2, 3, 4]
	b := e.rand(5, 4)    // op(B) = Bᵀ: [4, 5]
	c := e.rand(2, 3, 5)
	want := f64(c)
	for p := range 2 {
		for i := range 3 {
			for j := range 5 {
				s := 0.0
				for k := range 4 {
					s += f64(a)[p*12+k*3+i] * f64(b)[j*4+k]
				}
				want[p*15+i*5+j] = 2*s + 0.5*want[p*15+i*5+j]
			}
		}
	}
	e.ok(be.Matmul(c, a, b, kernels.MatmulOpts{TransA: true, TransB: true, Alpha: 2, Beta: 0.5}))
	e.near("Matmul TT batched", c, want, 4)

	// bf16 weights: the reference uses the bf16-rounded values.
	bb, err := b.FromF32To(tensors.BF16)
	e.ok(err)
	bf, err := bb.ToF32()
	e.ok(err)
	x := e.rand(3, 4)
	y := e.out(3, 5)
	e.ok(be.Matmul(y, x, bb, kernels.MatmulOpts{TransB: true}))
	w := make([]float64, 15)
	for i := range 3 {
		for j := range 5 {
			for k := range 4 {
				w[i*5+j] += f64(x)[i*4+k] * f64(bf)[j*4+k]
			}
		}
	}
	e.near("Matmul bf16 B", y, w, 4)

	if err := be.Matmul(e.out(3, 6), x, b, kernels.MatmulOpts{TransB: true}); err == nil || !strings.Contains(err.Error(), "does not give c") {
		t.Errorf("mismatched C: err = %v", err)
	}
}

func TestNorms(t *testing.T) {
	e := &env{t: t}
	const T, D = 4, 16
	x, w, b, dy := e.rand(T, D), e.rand(D), e.rand(D), e.rand(T, D)
	y, rstd, mean := e.out(T, D), e.out(T), e.out(T)
	wy, wr, wm := make([]float64, T*D), make([]float64, T), make([]float64, T)

	e.ok(be.RMSNorm(y, rstd, x, w, 1e-5))
	norm.RefRMSNormForward(wy, wr, f64(x), f64(w), T, D, 1e-5)
	e.near("RMSNorm", y, wy, D)
	dx, dw := e.out(T, D), tensors.New(tensors.F32, D)
	e.ok(be.RMSNormBackward(dx, dw, dy, x, w, rstd))
	wdx, wdw := make([]float64, T*D), make([]float64, D)
	norm.RefRMSNormBackward(wdx, wdw, f64(dy), f64(x), f64(w), wr, T, D)
	e.near("RMSNormBackward dx", dx, wdx, D)
	e.near("RMSNormBackward dw", dw, wdw, T*D)

	e.ok(be.LayerNorm(y, mean, rstd, x, w, b, 1e-5))
	norm.RefLayerNormForward(wy, wm, wr, f64(x), f64(w), f64(b), T, D, 1e-5)
	e.near("LayerNorm", y, wy, D)
	db := tensors.New(tensors.F32, D)
	clear(dw.F32())
	e.ok(be.LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd))
	wdb := make([]float64, D)
	clear(wdw)
	norm.RefLayerNormBackward(wdx, wdw, wdb, f64(dy), f64(x), f64(w), wm, wr, T, D)
	e.near("LayerNormBackward dx", dx, wdx, D)
	e.near("LayerNormBackward dw", dw, wdw, T*D)
	e.near("LayerNormBackward db", db, wdb, T)
}

func TestLosses(t *testing.T) {
	e := &env{t: t}
	const T, D, V = 5, 8, 37
	logits := e.rand(T, V)
	tg := ids(3, -100, 0, 36, 7)
	stats := e.out(T, 2)
	l, err := be.CrossEntropy(stats, logits, tg)
	e.ok(err)
	ws, wc := softmax.RefCrossEntropy(f64(logits), tg.I32(), T, V)
	if l.Count != wc || math.Abs(l.Sum-ws) > 1e-5*math.Abs(ws) {
		t.Errorf("CrossEntropy = %+v, want sum %v count %d", l, ws, wc)
	}
	wd := make([]float64, T*V)
	softmax.RefCrossEntropyBackward(wd, f64(logits), tg.I32(), T, V, 0.25)
	e.ok(be.CrossEntropyBackward(logits, logits, stats, tg, 0.25)) // in place
	e.near("CrossEntropyBackward in place", logits, wd, V)

	h, w := e.rand(T, D), e.rand(V, D)
	l2, err := be.LMHeadLoss(stats, h, w, tg)
	e.ok(err)
	wl := make([]float64, T*V)
	softmax.RefLogits(wl, f64(h), f64(w), T, D, V)
	ws, _ = softmax.RefCrossEntropy(wl, tg.I32(), T, V)
	if l2.Count != 4 || math.Abs(l2.Sum-ws) > 1e-5*math.Abs(ws) {
		t.Errorf("LMHeadLoss = %+v, want sum %v count 4", l2, ws)
	}
	dh, dw := e.out(T, D), tensors.New(tensors.F32, V, D)
	e.ok(be.LMHeadLossBackward(dh, dw, h, w, stats, tg, 0.5))
	wdh, wdw := make([]float64, T*D), make([]float64, V*D)
	softmax.RefLMHeadBackward(wdh, wdw, f64(h), f64(w), tg.I32(), T, D, V, 0.5)
	e.near("LMHeadLossBackward dh", dh, wdh, V)
	e.near("LMHeadLossBackward dw", dw, wdw, T)

	if _, err := be.CrossEntropy(stats, e.rand(T, V), ids(1, 2, 3, 99, 0)); err == nil || !strings.Contains(err.Error(), "3") {
		t.Errorf("target out of range: err = %v, want one naming position 3", err)
	}
}

func TestPositional(t *testing.T) {
	e := &env{t: t}
	const T, H, Dh, R = 3, 2, 8, 4
	x, cs, sn := e.rand(T, H, Dh), e.rand(T, R/2), e.rand(T, R/2)
	o := e.out(T, H, Dh)
	e.ok(be.Rotary(o, x, cs, sn))
	want := make([]float64, T*H*Dh)
	rotary.RefForward(want, f64(x), f64(cs), f64(sn), T, H, Dh, R)
	e.near("Rotary", o, want, 2)
	e.ok(be.RotaryBackward(o, x, cs, sn))
	rotary.RefBackward(want, f64(x), f64(cs), f64(sn), T, H, Dh, R)
	e.near("RotaryBackward", o, want, 2)

	table, dtable := e.rand(7, 4), tensors.New(tensors.F32, 7, 4)
	id := ids(6, 0, 3, 3)
	eo := e.out(4, 4)
	e.ok(be.Embedding(eo, table, id))
	we := make([]float64, 16)
	embedding.RefForward(we, f64(table), id.I32(), 4)
	e.near("Embedding", eo, we, 1)
	dout := e.rand(4, 4)
	e.ok(be.EmbeddingBackward(dtable, dout, id, 3))
	wdt := make([]float64, 28)
	embedding.RefBackward(wdt, f64(dout), id.I32(), 4, 3)
	e.near("EmbeddingBackward", dtable, wdt, 2)
	if err := be.Embedding(eo, table, ids(1, 2, 7, 0)); err == nil {
		t.Error("Embedding with id 7 of 7 rows: no error")
	}

	grid, tab := e.rand(5, 2), e.rand(4, 6, 3)
	g := e.out(5, 3)
	e.ok(be.GridSample(g, tab, grid))
	wg := make([]float64, 15)
	gridsample.RefForward(wg, f64(tab), f64(grid), 4, 6, 3, 5)
	e.near("GridSample", g, wg, 16)
	dtab := tensors.New(tensors.F32, 4, 6, 3)
	gd := e.rand(5, 3)
	e.ok(be.GridSampleBackward(dtab, gd, grid))
	wdt2 := make([]float64, 72)
	gridsample.RefBackward(wdt2, nil, f64(gd), nil, f64(grid), 4, 6, 3, 5)
	e.near("GridSampleBackward", dtab, wdt2, 16)
}

func TestAttention(t *testing.T) {
	e := &env{t: t}
	const T, H, K, Dh = 6, 4, 2, 8
	opts := kernels.AttentionOpts{Causal: true, CuSeqlens: []int32{0, 2, 6}}
	p := attention.Params{T: T, H: H, K: K, Dh: Dh, Causal: true, CuSeqlens: opts.CuSeqlens}
	q, k, v, do := e.rand(T, H, Dh), e.rand(T, K, Dh), e.rand(T, K, Dh), e.rand(T, H, Dh)
	o, lse := e.out(T, H, Dh), e.out(H, T)
	e.ok(be.Attention(o, lse, q, k, v, opts))
	wo, wl := make([]float64, T*H*Dh), make([]float64, H*T)
	e.ok(attention.RefForward(wo, wl, f64(q), f64(k), f64(v), p))
	e.near("Attention o", o, wo, T+Dh)
	dq, dk, dv := e.out(T, H, Dh), e.out(T, K, Dh), e.out(T, K, Dh)
	e.ok(be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts))
	wdq, wdk, wdv := make([]float64, T*H*Dh), make([]float64, T*K*Dh), make([]float64, T*K*Dh)
	e.ok(attention.RefBackward(wdq, wdk, wdv, f64(do), f64(q), f64(k), f64(v), p))
	e.near("AttentionBackward dq", dq, wdq, T+Dh)
	e.near("AttentionBackward dk", dk, wdk, T+Dh)
	e.near("AttentionBackward dv", dv, wdv, T+Dh)
}

func TestMoE(t *testing.T) {
	e := &env{t: t}
	const T, D, E, k, F = 6, 8, 4, 2, 5
	opts := kernels.RouterOpts{TopK: k, NGroup: 1, TopKGroup: 1, NormTopK: true, ScalingFactor: 1}
	cfg := moe.RouterConfig{E: E, K: k, NGroup: 1, TopKGroup: 1, NormTopK: true, Scale: 1}
	x, wg, bias := e.rand(T, D), e.rand(E, D), e.rand(E)
	wgu, wd := e.rand(E, 2*F, D), e.rand(E, D, F)
	logits, scores, topW := e.out(T, E), e.out(T, E), e.out(T, k)
	topIdx := tensors.New(tensors.I32, T, k)
	e.ok(be.Router(logits, scores, topIdx, topW, x, wg, bias, opts))

	// The layer through the backend: permute → gate_up → SwiGLU → down → un-permute.
	offs, rowSrc, pos := tensors.New(tensors.I32, E+1), tensors.New(tensors.I32, T*k), tensors.New(tensors.I32, T*k)
	e.ok(be.Permutation(offs, rowSrc, pos, topIdx))
	xp, h, a, yp, out := e.out(T*k, D), e.out(T*k, 2*F), e.out(T*k, F), e.out(T*k, D), e.out(T, D)
	e.ok(be.Permute(xp, x, rowSrc))
	e.ok(be.GroupedLinear(h, xp, wgu, offs))
	e.ok(be.SwiGLUFused(a, h))
	e.ok(be.GroupedLinear(yp, a, wd, offs))
	e.ok(be.Unpermute(out, yp, pos, topW))
	wout, _ := moe.RefMoEForward(cfg, T, D, F, f64(x), f64(wg), f64(bias), f64(wgu), f64(wd))
	e.near("MoE forward", out, wout, D+F)

	dOut := e.rand(T, D)
	dyp, dTopW := e.out(T*k, D), e.out(T, k)
	e.ok(be.UnpermuteBackward(dyp, dTopW, dOut, yp, pos, topW))
	dwd, dwgu, dwg := tensors.New(tensors.F32, E, D, F), tensors.New(tensors.F32, E, 2*F, D), tensors.New(tensors.F32, E, D)
	da, dh, dxp := e.out(T*k, F), e.out(T*k, 2*F), e.out(T*k, D)
	e.ok(be.GroupedLinearBackwardWeight(dwd, dyp, a, offs))
	e.ok(be.GroupedLinearBackwardInput(da, dyp, wd, offs))
	e.ok(be.SwiGLUFusedBackward(dh, da, h))
	e.ok(be.GroupedLinearBackwardWeight(dwgu, dh, xp, offs))
	e.ok(be.GroupedLinearBackwardInput(dxp, dh, wgu, offs))
	dx, dxr, dLogits := e.out(T, D), e.out(T, D), e.out(T, E)
	e.ok(be.PermuteBackward(dx, dxp, pos))
	e.ok(be.RouterBackward(dxr, dwg, dLogits, dTopW, nil, x, wg, scores, topIdx, opts))
	e.ok(be.Add(dx, dx, dxr))
	wdx, wdwg, wdwgu, wdwd := moe.RefMoEBackward(cfg, T, D, F, f64(x), f64(wg), f64(bias), f64(wgu), f64(wd), f64(dOut))
	e.near("MoE dx", dx, wdx, 4*(D+F))
	e.near("MoE dWGate", dwg, wdwg, 4*T)
	e.near("MoE dWGateUp", dwgu, wdwgu, 4*T)
	e.near("MoE dWDown", dwd, wdwd, 4*T)
}

// TestErrorsNotPanics feeds every family wrong dtypes, shapes and devices: each call must
// return an error that names the op.
func TestErrorsNotPanics(t *testing.T) {
	e := &env{t: t}
	x := e.rand(3, 4)
	i := tensors.New(tensors.I32, 3, 4)
	dev, err := tensors.FromStorage(tensors.F32, []int{3, 4}, tensors.DeviceStorage(tensors.CUDA(0), 0x1000, 48, nil), 0)
	e.ok(err)
	calls := map[string]func() error{
		"Add":       func() error { return be.Add(x, x, e.rand(4, 3)) },
		"Mul":       func() error { return be.Mul(x, x, i) },
		"SiLU":      func() error { return be.SiLU(x, dev) },
		"RMSNorm":   func() error { return be.RMSNorm(x, e.rand(3), x, e.rand(5), 1e-5) },
		"LayerNorm": func() error { return be.LayerNorm(x, e.rand(3), e.rand(2), x, e.rand(4), nil, 1e-5) },
		"Softmax":   func() error { return be.Softmax(e.rand(4, 3), x) },
		"Matmul":    func() error { return be.Matmul(x, x, x, kernels.MatmulOpts{}) },
		"Attention": func() error { return be.Attention(x, x, x, x, x, kernels.AttentionOpts{}) },
		"Rotary":    func() error { return be.Rotary(x, x, x, x) },
		"Embedding": func() error { return be.Embedding(x, x, x) },
		"Router": func() error {
			return be.Router(x, x, i, x, x, e.rand(2, 5), nil, kernels.RouterOpts{TopK: 1})
		},
		"Permute":       func() error { return be.Permute(x, x, ids(0, 1)) },
		"GroupedLinear": func() error { return be.GroupedLinear(x, x, e.rand(2, 4, 4), ids(0, 3)) },
		"GridSample":    func() error { return be.GridSample(x, e.rand(2, 2, 4), e.rand(3, 3)) },
		"SwiGLUFused":   func() error { return be.SwiGLUFused(x, e.rand(3, 7)) },
		"Copy":          func() error { return be.Copy(x, i) },
		"Nil":           func() error { return be.Scale(nil, x, 1) },
	}
	for name, call := range calls {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			err = call()
		}()
		if err == nil || !strings.HasPrefix(err.Error(), "cpu.") {
			t.Errorf("%s: err = %v, want a cpu.* error", name, err)
		}
	}
}

func TestOptimizer(t *testing.T) {
	e := &env{t: t}
	p, g := e.rand(4, 6), e.rand(4, 6)
	m, v := tensors.New(tensors.F32, 4, 6), tensors.New(tensors.F32, 4, 6)
	o := kernels.AdamWOpts{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	wp, wm, wv := f64(p), make([]float64, 24), make([]float64, 24)
	for step := 1; step <= 3; step++ {
		o.Step = step
		e.ok(be.AdamW(p, g, m, v, o))
		optim.RefAdamWStep(wp, f64(g), wm, wv, optim.AdamW{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}, step)
	}
	e.near("AdamW param after 3 steps", p, wp, 8)
	e.near("AdamW m", m, wm, 8)
	e.near("AdamW v", v, wv, 8)

	a, b := e.rand(3), e.rand(2, 2)
	want := math.Sqrt(kerneltest.Dot64(f64(a), f64(a)) + kerneltest.Dot64(f64(b), f64(b)))
	n, err := be.GlobalNorm([]*tensors.Tensor{a, b})
	e.ok(err)
	if math.Abs(n-want) > 1e-6*want {
		t.Errorf("GlobalNorm = %v, want %v", n, want)
	}
	wa := f64(a)
	n, err = be.ClipByGlobalNorm([]*tensors.Tensor{a, b}, want/2)
	e.ok(err)
	for i := range wa {
		wa[i] *= (want / 2) / (want + 1e-6)
	}
	e.near("ClipByGlobalNorm", a, wa, 1)
	if math.Abs(n-want) > 1e-6*want {
		t.Errorf("ClipByGlobalNorm returned %v, want the pre-clip norm %v", n, want)
	}
	if _, err := be.GlobalNorm([]*tensors.Tensor{a, tensors.New(tensors.I32, 2)}); err == nil || !strings.Contains(err.Error(), "ts[1]") {
		t.Errorf("GlobalNorm of an I32 tensor: err = %v, want one naming ts[1]", err)
	}
}
