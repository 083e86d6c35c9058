package backendtest

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

// env is one test's backend and helpers; tensors live on the backend's device and are
// moved to the host only to build inputs and check results.
type env struct {
	t   *testing.T
	be  kernels.Backend
	rng uint64
}

// up copies a host tensor to the backend.
func (e *env) up(h *tensors.Tensor) *tensors.Tensor {
	e.t.Helper()
	d, err := e.be.Upload(h)
	e.ok(err)
	return d
}

// host copies a backend tensor to the host.
func (e *env) host(d *tensors.Tensor) *tensors.Tensor {
	e.t.Helper()
	h, err := e.be.Download(d)
	e.ok(err)
	return h
}

// rand returns an F32 tensor of uniform values in [-1, 1), never zero.
func (e *env) rand(shape ...int) *tensors.Tensor {
	e.rng++
	n := 1
	for _, d := range shape {
		n *= d
	}
	return e.up(tensors.MustF32(kerneltest.Uniform(kerneltest.RNG(e.rng), n, -1, 1), shape...))
}

// out returns a NaN-poisoned F32 tensor (unwritten elements fail the comparison).
func (e *env) out(shape ...int) *tensors.Tensor {
	t := tensors.New(tensors.F32, shape...)
	kerneltest.Poison(t.F32())
	return e.up(t)
}

// zeros returns a zeroed tensor (gradient accumulators).
func (e *env) zeros(dt tensors.DType, shape ...int) *tensors.Tensor {
	e.t.Helper()
	t, err := e.be.Alloc(dt, shape...)
	e.ok(err)
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
	kerneltest.Close(e.t, name, e.host(got).F32(), want, func(i int) float64 {
		return kerneltest.Tol(8, k, kerneltest.Eps32, math.Max(1, math.Abs(want[i])), 1e-6)
	})
}

// f64 downloads an F32 tensor as float64 values.
func (e *env) f64(t *tensors.Tensor) []float64 { return kerneltest.F64(e.host(t).F32()) }

// ids uploads an I32 vector.
func (e *env) ids(vals ...int32) *tensors.Tensor {
	t := tensors.New(tensors.I32, len(vals))
	copy(t.I32(), vals)
	return e.up(t)
}

func testPointwise(e *env) {
	a, b, d := e.rand(3, 5), e.rand(3, 5), e.rand(3, 5)
	n := 15
	want := make([]float64, n)
	want2 := make([]float64, n)

	o := e.out(3, 5)
	e.ok(e.be.Mul(o, a, b))
	for i := range want {
		want[i] = e.f64(a)[i] * e.f64(b)[i]
	}
	e.near("Mul", o, want, 1)

	da, db := e.out(3, 5), e.out(3, 5)
	e.ok(e.be.MulBackward(da, db, d, a, b))
	for i := range want {
		want[i], want2[i] = e.f64(d)[i]*e.f64(b)[i], e.f64(d)[i]*e.f64(a)[i]
	}
	e.near("MulBackward da", da, want, 1)
	e.near("MulBackward db", db, want2, 1)

	e.ok(e.be.GELU(o, a))
	elementwise.RefGELU(want, e.f64(a))
	e.near("GELU", o, want, 4)
	e.ok(e.be.GELUBackward(o, d, a))
	elementwise.RefGELUBackward(want, e.f64(d), e.f64(a))
	e.near("GELUBackward", o, want, 4)

	e.ok(e.be.SiLUBackward(o, d, a))
	elementwise.RefSiLUBackward(want, e.f64(d), e.f64(a))
	e.near("SiLUBackward", o, want, 4)

	e.ok(e.be.SwiGLUBackward(da, db, d, a, b))
	elementwise.RefSwiGLUBackward(want, want2, e.f64(d), e.f64(a), e.f64(b))
	e.near("SwiGLUBackward dgate", da, want, 4)
	e.near("SwiGLUBackward dup", db, want2, 4)

	gu, dout := e.rand(3, 8), e.rand(3, 4)
	o4, dgu := e.out(3, 4), e.out(3, 8)
	e.ok(e.be.SwiGLUFused(o4, gu))
	w4 := make([]float64, 12)
	elementwise.RefSwiGLUFused(w4, e.f64(gu), 3, 4)
	e.near("SwiGLUFused", o4, w4, 4)
	e.ok(e.be.SwiGLUFusedBackward(dgu, dout, gu))
	w8 := make([]float64, 24)
	elementwise.RefSwiGLUFusedBackward(w8, e.f64(dout), e.f64(gu), 3, 4)
	e.near("SwiGLUFusedBackward", dgu, w8, 4)

	bias, dbias := e.rand(5), e.rand(5)
	e.ok(e.be.AddBias(o, a, bias))
	for i := range want {
		want[i] = e.f64(a)[i] + e.f64(bias)[i%5]
	}
	e.near("AddBias", o, want, 1)
	wantDB := e.f64(dbias)
	e.ok(e.be.AddBiasBackward(dbias, d))
	for i := range n {
		wantDB[i%5] += e.f64(d)[i]
	}
	e.near("AddBiasBackward (accumulates)", dbias, wantDB, 3)
}

func testMatmul(e *env) {
	t := e.t
	// Batched with a broadcast 2-D B, transposed both ways, beta accumulating.
	a := e.rand(2, 4, 3) // op(A) = Aᵀ: [2, 3, 4]
	b := e.rand(5, 4)    // op(B) = Bᵀ: [4, 5]
	c := e.rand(2, 3, 5)
	want := e.f64(c)
	for p := range 2 {
		for i := range 3 {
			for j := range 5 {
				s := 0.0
				for k := range 4 {
					s += e.f64(a)[p*12+k*3+i] * e.f64(b)[j*4+k]
				}
				want[p*15+i*5+j] = 2*s + 0.5*want[p*15+i*5+j]
			}
		}
	}
	e.ok(e.be.Matmul(c, a, b, kernels.MatmulOpts{TransA: true, TransB: true, Alpha: 2, Beta: 0.5}))
	e.near("Matmul TT batched", c, want, 4)

	// bf16 weights: the reference uses the bf16-rounded values.
	bbh, err := e.host(b).FromF32To(tensors.BF16)
	e.ok(err)
	bf, err := bbh.ToF32()
	e.ok(err)
	bb := e.up(bbh)
	x := e.rand(3, 4)
	y := e.out(3, 5)
	e.ok(e.be.Matmul(y, x, bb, kernels.MatmulOpts{TransB: true}))
	w := make([]float64, 15)
	for i := range 3 {
		for j := range 5 {
			for k := range 4 {
				w[i*5+j] += e.f64(x)[i*4+k] * kerneltest.F64(bf.F32())[j*4+k]
			}
		}
	}
	e.near("Matmul bf16 B", y, w, 4)

	// bf16 × bf16: the reference uses the bf16-rounded activations too.
	xbh, err := e.host(x).FromF32To(tensors.BF16)
	e.ok(err)
	xf, err := xbh.ToF32()
	e.ok(err)
	e.ok(e.be.Matmul(y, e.up(xbh), bb, kernels.MatmulOpts{TransB: true}))
	clear(w)
	for i := range 3 {
		for j := range 5 {
			for k := range 4 {
				w[i*5+j] += float64(xf.F32()[i*4+k]) * kerneltest.F64(bf.F32())[j*4+k]
			}
		}
	}
	e.near("Matmul bf16×bf16", y, w, 4)

	if err := e.be.Matmul(e.out(3, 6), x, b, kernels.MatmulOpts{TransB: true}); err == nil || !strings.Contains(err.Error(), "does not give c") {
		t.Errorf("mismatched C: err = %v", err)
	}
}

func testNorms(e *env) {
	const T, D = 4, 16
	x, w, b, dy := e.rand(T, D), e.rand(D), e.rand(D), e.rand(T, D)
	y, rstd, mean := e.out(T, D), e.out(T), e.out(T)
	wy, wr, wm := make([]float64, T*D), make([]float64, T), make([]float64, T)

	e.ok(e.be.RMSNorm(y, rstd, x, w, 1e-5))
	norm.RefRMSNormForward(wy, wr, e.f64(x), e.f64(w), T, D, 1e-5)
	e.near("RMSNorm", y, wy, D)
	dx, dw := e.out(T, D), e.zeros(tensors.F32, D)
	e.ok(e.be.RMSNormBackward(dx, dw, dy, x, w, rstd))
	wdx, wdw := make([]float64, T*D), make([]float64, D)
	norm.RefRMSNormBackward(wdx, wdw, e.f64(dy), e.f64(x), e.f64(w), wr, T, D)
	e.near("RMSNormBackward dx", dx, wdx, D)
	e.near("RMSNormBackward dw", dw, wdw, T*D)

	e.ok(e.be.LayerNorm(y, mean, rstd, x, w, b, 1e-5))
	norm.RefLayerNormForward(wy, wm, wr, e.f64(x), e.f64(w), e.f64(b), T, D, 1e-5)
	e.near("LayerNorm", y, wy, D)
	db := e.zeros(tensors.F32, D)
	clear(dw.F32())
	e.ok(e.be.LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd))
	wdb := make([]float64, D)
	clear(wdw)
	norm.RefLayerNormBackward(wdx, wdw, wdb, e.f64(dy), e.f64(x), e.f64(w), wm, wr, T, D)
	e.near("LayerNormBackward dx", dx, wdx, D)
	e.near("LayerNormBackward dw", dw, wdw, T*D)
	e.near("LayerNormBackward db", db, wdb, T)
}

func testLosses(e *env) {
	t := e.t
	const T, D, V = 5, 8, 37
	logits := e.rand(T, V)
	tg := e.ids(3, -100, 0, 36, 7)
	stats := e.out(T, 2)
	l, err := e.be.CrossEntropy(stats, logits, tg)
	e.ok(err)
	ws, wc := softmax.RefCrossEntropy(e.f64(logits), tg.I32(), T, V)
	if l.Count != wc || math.Abs(l.Sum-ws) > 1e-5*math.Abs(ws) {
		t.Errorf("CrossEntropy = %+v, want sum %v count %d", l, ws, wc)
	}
	wd := make([]float64, T*V)
	softmax.RefCrossEntropyBackward(wd, e.f64(logits), tg.I32(), T, V, 0.25)
	e.ok(e.be.CrossEntropyBackward(logits, logits, stats, tg, 0.25)) // in place
	e.near("CrossEntropyBackward in place", logits, wd, V)

	h, w := e.rand(T, D), e.rand(V, D)
	l2, err := e.be.LMHeadLoss(stats, h, w, tg)
	e.ok(err)
	wl := make([]float64, T*V)
	softmax.RefLogits(wl, e.f64(h), e.f64(w), T, D, V)
	ws, _ = softmax.RefCrossEntropy(wl, tg.I32(), T, V)
	if l2.Count != 4 || math.Abs(l2.Sum-ws) > 1e-5*math.Abs(ws) {
		t.Errorf("LMHeadLoss = %+v, want sum %v count 4", l2, ws)
	}
	dh, dw := e.out(T, D), e.zeros(tensors.F32, V, D)
	e.ok(e.be.LMHeadLossBackward(dh, dw, h, w, stats, tg, 0.5))
	wdh, wdw := make([]float64, T*D), make([]float64, V*D)
	softmax.RefLMHeadBackward(wdh, wdw, e.f64(h), e.f64(w), tg.I32(), T, D, V, 0.5)
	e.near("LMHeadLossBackward dh", dh, wdh, V)
	e.near("LMHeadLossBackward dw", dw, wdw, T)

	if _, err := e.be.CrossEntropy(stats, e.rand(T, V), e.ids(1, 2, 3, 99, 0)); err == nil || !strings.Contains(err.Error(), "3") {
		t.Errorf("target out of range: err = %v, want one naming position 3", err)
	}
}

func testPositional(e *env) {
	t := e.t
	const T, H, Dh, R = 3, 2, 8, 4
	x, cs, sn := e.rand(T, H, Dh), e.rand(T, R/2), e.rand(T, R/2)
	o := e.out(T, H, Dh)
	e.ok(e.be.Rotary(o, x, cs, sn))
	want := make([]float64, T*H*Dh)
	rotary.RefForward(want, e.f64(x), e.f64(cs), e.f64(sn), T, H, Dh, R)
	e.near("Rotary", o, want, 2)
	e.ok(e.be.RotaryBackward(o, x, cs, sn))
	rotary.RefBackward(want, e.f64(x), e.f64(cs), e.f64(sn), T, H, Dh, R)
	e.near("RotaryBackward", o, want, 2)

	table, dtable := e.rand(7, 4), e.zeros(tensors.F32, 7, 4)
	id := e.ids(6, 0, 3, 3)
	eo := e.out(4, 4)
	e.ok(e.be.Embedding(eo, table, id))
	we := make([]float64, 16)
	embedding.RefForward(we, e.f64(table), id.I32(), 4)
	e.near("Embedding", eo, we, 1)
	dout := e.rand(4, 4)
	e.ok(e.be.EmbeddingBackward(dtable, dout, id, 3))
	wdt := make([]float64, 28)
	embedding.RefBackward(wdt, e.f64(dout), id.I32(), 4, 3)
	e.near("EmbeddingBackward", dtable, wdt, 2)
	if err := e.be.Embedding(eo, table, e.ids(1, 2, 7, 0)); err == nil {
		t.Error("Embedding with id 7 of 7 rows: no error")
	}

	grid, tab := e.rand(5, 2), e.rand(4, 6, 3)
	g := e.out(5, 3)
	e.ok(e.be.GridSample(g, tab, grid))
	wg := make([]float64, 15)
	gridsample.RefForward(wg, e.f64(tab), e.f64(grid), 4, 6, 3, 5)
	e.near("GridSample", g, wg, 16)
	dtab := e.zeros(tensors.F32, 4, 6, 3)
	gd := e.rand(5, 3)
	e.ok(e.be.GridSampleBackward(dtab, gd, grid))
	wdt2 := make([]float64, 72)
	gridsample.RefBackward(wdt2, nil, e.f64(gd), nil, e.f64(grid), 4, 6, 3, 5)
	e.near("GridSampleBackward", dtab, wdt2, 16)
}

func testAttention(e *env) {
	const T, H, K, Dh = 6, 4, 2, 8
	opts := kernels.AttentionOpts{Causal: true, CuSeqlens: []int32{0, 2, 6}}
	p := attention.Params{T: T, H: H, K: K, Dh: Dh, Causal: true, CuSeqlens: opts.CuSeqlens}
	q, k, v, do := e.rand(T, H, Dh), e.rand(T, K, Dh), e.rand(T, K, Dh), e.rand(T, H, Dh)
	o, lse := e.out(T, H, Dh), e.out(H, T)
	e.ok(e.be.Attention(o, lse, q, k, v, opts))
	wo, wl := make([]float64, T*H*Dh), make([]float64, H*T)
	e.ok(attention.RefForward(wo, wl, e.f64(q), e.f64(k), e.f64(v), p))
	e.near("Attention o", o, wo, T+Dh)
	dq, dk, dv := e.out(T, H, Dh), e.out(T, K, Dh), e.out(T, K, Dh)
	e.ok(e.be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts))
	wdq, wdk, wdv := make([]float64, T*H*Dh), make([]float64, T*K*Dh), make([]float64, T*K*Dh)
	e.ok(attention.RefBackward(wdq, wdk, wdv, e.f64(do), e.f64(q), e.f64(k), e.f64(v), p))
	e.near("AttentionBackward dq", dq, wdq, T+Dh)
	e.near("AttentionBackward dk", dk, wdk, T+Dh)
	e.near("AttentionBackward dv", dv, wdv, T+Dh)

	// bf16 tile products: within a bf16 bound of the same reference.
	opts.BF16 = true
	e.ok(e.be.Attention(o, lse, q, k, v, opts))
	e.ok(e.be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts))
	bf16Near := func(name string, got *tensors.Tensor, want []float64) {
		big := 0.0
		for _, w := range want {
			big = math.Max(big, math.Abs(w))
		}
		tol := 4 * math.Sqrt(T+Dh) * kerneltest.EpsBF16 * big
		kerneltest.CloseAll(e.t, name, e.host(got).F32(), want, tol)
	}
	bf16Near("Attention o (bf16 tiles)", o, wo)
	bf16Near("AttentionBackward dq (bf16 tiles)", dq, wdq)
	bf16Near("AttentionBackward dk (bf16 tiles)", dk, wdk)
	bf16Near("AttentionBackward dv (bf16 tiles)", dv, wdv)
}

func testMoE(e *env) {
	const T, D, E, k, F = 6, 8, 4, 2, 5
	opts := kernels.RouterOpts{TopK: k, NGroup: 1, TopKGroup: 1, NormTopK: true, ScalingFactor: 1}
	cfg := moe.RouterConfig{E: E, K: k, NGroup: 1, TopKGroup: 1, NormTopK: true, Scale: 1}
	x, wg, bias := e.rand(T, D), e.rand(E, D), e.rand(E)
	wgu, wd := e.rand(E, 2*F, D), e.rand(E, D, F)
	logits, scores, topW := e.out(T, E), e.out(T, E), e.out(T, k)
	topIdx := e.zeros(tensors.I32, T, k)
	e.ok(e.be.Router(logits, scores, topIdx, topW, x, wg, bias, opts))

	// The layer through the backend: permute → gate_up → SwiGLU → down → un-permute.
	offs, rowSrc, pos := e.zeros(tensors.I32, E+1), e.zeros(tensors.I32, T*k), e.zeros(tensors.I32, T*k)
	e.ok(e.be.Permutation(offs, rowSrc, pos, topIdx))
	xp, h, a, yp, out := e.out(T*k, D), e.out(T*k, 2*F), e.out(T*k, F), e.out(T*k, D), e.out(T, D)
	e.ok(e.be.Permute(xp, x, rowSrc))
	e.ok(e.be.GroupedLinear(h, xp, wgu, offs))
	e.ok(e.be.SwiGLUFused(a, h))
	e.ok(e.be.GroupedLinear(yp, a, wd, offs))
	e.ok(e.be.Unpermute(out, yp, pos, topW))
	wout, _ := moe.RefMoEForward(cfg, T, D, F, e.f64(x), e.f64(wg), e.f64(bias), e.f64(wgu), e.f64(wd))
	e.near("MoE forward", out, wout, D+F)

	dOut := e.rand(T, D)
	dyp, dTopW := e.out(T*k, D), e.out(T, k)
	e.ok(e.be.UnpermuteBackward(dyp, dTopW, dOut, yp, pos, topW))
	dwd, dwgu, dwg := e.zeros(tensors.F32, E, D, F), e.zeros(tensors.F32, E, 2*F, D), e.zeros(tensors.F32, E, D)
	da, dh, dxp := e.out(T*k, F), e.out(T*k, 2*F), e.out(T*k, D)
	e.ok(e.be.GroupedLinearBackwardWeight(dwd, dyp, a, offs))
	e.ok(e.be.GroupedLinearBackwardInput(da, dyp, wd, offs))
	e.ok(e.be.SwiGLUFusedBackward(dh, da, h))
	e.ok(e.be.GroupedLinearBackwardWeight(dwgu, dh, xp, offs))
	e.ok(e.be.GroupedLinearBackwardInput(dxp, dh, wgu, offs))
	dx, dxr, dLogits := e.out(T, D), e.out(T, D), e.out(T, E)
	e.ok(e.be.PermuteBackward(dx, dxp, pos))
	e.ok(e.be.RouterBackward(dxr, dwg, dLogits, dTopW, nil, x, wg, scores, topIdx, opts))
	e.ok(e.be.Add(dx, dx, dxr))
	wdx, wdwg, wdwgu, wdwd := moe.RefMoEBackward(cfg, T, D, F, e.f64(x), e.f64(wg), e.f64(bias), e.f64(wgu), e.f64(wd), e.f64(dOut))
	e.near("MoE dx", dx, wdx, 4*(D+F))
	e.near("MoE dWGate", dwg, wdwg, 4*T)
	e.near("MoE dWGateUp", dwgu, wdwgu, 4*T)
	e.near("MoE dWDown", dwd, wdwd, 4*T)

	// The split form: dLogits alone (dx, dWGate nil), plus a logits-level addend, finished
	// with Matmul, equals the float64 chain rule through dLogits + addend.
	dl2, extra := e.out(T, E), e.rand(T, E)
	e.ok(e.be.RouterBackward(nil, nil, dl2, dTopW, nil, x, wg, scores, topIdx, opts))
	e.near("RouterBackward dLogits without dx, dWGate", dl2, e.f64(dLogits), 1)
	e.ok(e.be.Add(dl2, dl2, extra))
	dx2, dwg2 := e.out(T, D), e.zeros(tensors.F32, E, D)
	e.ok(e.be.Matmul(dx2, dl2, wg, kernels.MatmulOpts{}))
	e.ok(e.be.Matmul(dwg2, dl2, x, kernels.MatmulOpts{TransA: true, Beta: 1}))
	wdl, wx, wwg := e.f64(dLogits), e.f64(x), e.f64(wg)
	for i, v := range e.f64(extra) {
		wdl[i] += v
	}
	wdx2, wdwg2 := make([]float64, T*D), make([]float64, E*D)
	for t := range T {
		for j := range E {
			for d := range D {
				wdx2[t*D+d] += wdl[t*E+j] * wwg[j*D+d]
				wdwg2[j*D+d] += wdl[t*E+j] * wx[t*D+d]
			}
		}
	}
	e.near("RouterBackward + logits addend dx", dx2, wdx2, 2*E)
	e.near("RouterBackward + logits addend dWGate", dwg2, wdwg2, 2*T)
}

func testOptimizer(e *env) {
	t := e.t
	p, g := e.rand(4, 6), e.rand(4, 6)
	m, v := e.zeros(tensors.F32, 4, 6), e.zeros(tensors.F32, 4, 6)
	o := kernels.AdamWOpts{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	wp, wm, wv := e.f64(p), make([]float64, 24), make([]float64, 24)
	for step := 1; step <= 3; step++ {
		o.Step = step
		e.ok(e.be.AdamW(p, g, m, v, o))
		optim.RefAdamWStep(wp, e.f64(g), wm, wv, optim.AdamW{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}, step)
	}
	e.near("AdamW param after 3 steps", p, wp, 8)
	e.near("AdamW m", m, wm, 8)
	e.near("AdamW v", v, wv, 8)

	a, b := e.rand(3), e.rand(2, 2)
	want := math.Sqrt(kerneltest.Dot64(e.f64(a), e.f64(a)) + kerneltest.Dot64(e.f64(b), e.f64(b)))
	n, err := e.be.GlobalNorm([]*tensors.Tensor{a, b})
	e.ok(err)
	if math.Abs(n-want) > 1e-6*want {
		t.Errorf("GlobalNorm = %v, want %v", n, want)
	}
	wa := e.f64(a)
	n, err = e.be.ClipByGlobalNorm([]*tensors.Tensor{a, b}, want/2)
	e.ok(err)
	for i := range wa {
		wa[i] *= (want / 2) / (want + 1e-6)
	}
	e.near("ClipByGlobalNorm", a, wa, 1)
	if math.Abs(n-want) > 1e-6*want {
		t.Errorf("ClipByGlobalNorm returned %v, want the pre-clip norm %v", n, want)
	}
	if _, err := e.be.GlobalNorm([]*tensors.Tensor{a, e.zeros(tensors.I32, 2)}); err == nil || !strings.Contains(err.Error(), "ts[1]") {
		t.Errorf("GlobalNorm of an I32 tensor: err = %v, want one naming ts[1]", err)
	}
}

func testRows(e *env) {
	t := e.t
	src := e.rand(5, 3)
	idx := e.ids(4, 0, 4, 2)
	g := e.out(4, 3)
	e.ok(e.be.GatherRows(g, src, idx))
	want := make([]float64, 12)
	for i, r := range []int{4, 0, 4, 2} {
		copy(want[i*3:], e.f64(src)[r*3:r*3+3])
	}
	e.near("GatherRows", g, want, 1)

	// ScatterAddRows with a repeated index accumulates; ScatterRows overwrites.
	dst := e.rand(5, 3)
	wantAdd := e.f64(dst)
	for i, r := range []int{4, 0, 4, 2} {
		for j := range 3 {
			wantAdd[r*3+j] += e.f64(g)[i*3+j]
		}
	}
	e.ok(e.be.ScatterAddRows(dst, g, idx))
	e.near("ScatterAddRows", dst, wantAdd, 3)

	rows := e.rand(2, 3)
	e.ok(e.be.ScatterRows(dst, rows, e.ids(3, 1)))
	for j := range 3 {
		wantAdd[3*3+j], wantAdd[1*3+j] = e.f64(rows)[j], e.f64(rows)[3+j]
	}
	e.near("ScatterRows", dst, wantAdd, 1)

	if err := e.be.ScatterRows(dst, rows, e.ids(3, 3)); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Errorf("ScatterRows with a repeated index: err = %v", err)
	}
	if err := e.be.GatherRows(g, src, e.ids(4, 0, 5, 2)); err == nil || !strings.Contains(err.Error(), "idx[2] = 5") {
		t.Errorf("GatherRows out of range: err = %v", err)
	}
}

func testCast(e *env) {
	t := e.t
	x := e.rand(3, 5)
	b := e.zeros(tensors.BF16, 3, 5)
	e.ok(e.be.Cast(b, x))
	hb := e.host(b).BF16()
	for i, v := range e.host(x).F32() {
		if hb[i] != tensors.BF16FromF32(v) {
			t.Fatalf("Cast F32→BF16: element %d = %#04x, want %#04x", i, hb[i], tensors.BF16FromF32(v))
		}
	}
	y := e.out(3, 5)
	e.ok(e.be.Cast(y, b))
	want := make([]float64, 15)
	for i, h := range hb {
		want[i] = float64(tensors.BF16ToF32Scalar(h))
	}
	kerneltest.Close(t, "Cast BF16→F32", e.host(y).F32(), want, func(int) float64 { return 0 })
	if err := e.be.Cast(e.zeros(tensors.I32, 15), x); err == nil {
		t.Error("Cast F32→I32: no error")
	}
}
