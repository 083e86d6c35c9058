package gpucheck

import (
	"fmt"
	"slices"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

type be = kernels.Backend
type sel = func(pair) *tensors.Tensor

// opsPointwise: the elementwise family on [512, 1024].
func opsPointwise(d *diff) {
	const R, C = 512, 1024
	a, b, g := d.rand(-3, 3, R, C), d.rand(-3, 3, R, C), d.rand(-1, 1, R, C)
	un := []struct {
		name string
		f    func(be, *tensors.Tensor, *tensors.Tensor) error
	}{
		{"SiLU", be.SiLU}, {"GELU", be.GELU},
	}
	for _, u := range un {
		o := d.out(R, C)
		d.run(u.name, func(k be, s sel) error { return u.f(k, s(o), s(a)) })
		d.check(u.name, o, fp32(4))
	}
	bin := []struct {
		name string
		f    func(be, *tensors.Tensor, *tensors.Tensor, *tensors.Tensor) error
	}{
		{"Add", be.Add}, {"Mul", be.Mul}, {"SwiGLU", be.SwiGLU},
		{"SiLUBackward", func(k be, o, x, y *tensors.Tensor) error { return k.SiLUBackward(o, x, y) }},
		{"GELUBackward", func(k be, o, x, y *tensors.Tensor) error { return k.GELUBackward(o, x, y) }},
	}
	for _, u := range bin {
		o := d.out(R, C)
		d.run(u.name, func(k be, s sel) error { return u.f(k, s(o), s(a), s(b)) })
		d.check(u.name, o, fp32(4))
	}
	da, db := d.out(R, C), d.out(R, C)
	d.run("MulBackward", func(k be, s sel) error { return k.MulBackward(s(da), s(db), s(g), s(a), s(b)) })
	d.check("MulBackward da", da, fp32(1))
	d.check("MulBackward db", db, fp32(1))
	d.run("SwiGLUBackward", func(k be, s sel) error { return k.SwiGLUBackward(s(da), s(db), s(g), s(a), s(b)) })
	d.check("SwiGLUBackward dgate", da, fp32(4))
	d.check("SwiGLUBackward dup", db, fp32(4))
	o := d.out(R, C)
	d.run("Scale", func(k be, s sel) error { return k.Scale(s(o), s(a), -0.37) })
	d.check("Scale", o, fp32(1))
	fo := d.out(R, C/2)
	d.run("SwiGLUFused", func(k be, s sel) error { return k.SwiGLUFused(s(fo), s(a)) })
	d.check("SwiGLUFused", fo, fp32(4))
	fd := d.out(R, C)
	gh := d.rand(-1, 1, R, C/2)
	d.run("SwiGLUFusedBackward", func(k be, s sel) error { return k.SwiGLUFusedBackward(s(fd), s(gh), s(a)) })
	d.check("SwiGLUFusedBackward", fd, fp32(4))
	bias := d.rand(-1, 1, C)
	d.run("AddBias", func(k be, s sel) error { return k.AddBias(s(o), s(a), s(bias)) })
	d.check("AddBias", o, fp32(1))
	dbias := d.rand(-1, 1, C)
	d.run("AddBiasBackward", func(k be, s sel) error { return k.AddBiasBackward(s(dbias), s(g)) })
	d.check("AddBiasBackward", dbias, fp32(R))
	h := d.host(tensors.New(tensors.BF16, R, C))
	d.run("Cast F32→BF16", func(k be, s sel) error { return k.Cast(s(h), s(a)) })
	d.check("Cast F32→BF16", h, exact)
	d.run("Cast BF16→F32", func(k be, s sel) error { return k.Cast(s(o), s(h)) })
	d.check("Cast BF16→F32", o, exact)
}

// opsMatmul: the GEMM dtype combinations, transposes, batches.
func opsMatmul(d *diff) {
	const M, N, K = 384, 320, 512
	a, b := d.rand(-1, 1, M, K), d.rand(-1, 1, N, K)
	c := d.rand(-1, 1, M, N)
	d.run("Matmul F32 NT β=1", func(k be, s sel) error {
		return k.Matmul(s(c), s(a), s(b), kernels.MatmulOpts{TransB: true, Beta: 1, Alpha: 0.5})
	})
	d.check("Matmul F32 NT β=1", c, fp32(K))
	at, bt := d.host(tensors.New(tensors.BF16, M, K)), d.host(tensors.New(tensors.BF16, N, K))
	d.run("cast", func(k be, s sel) error {
		if err := k.Cast(s(at), s(a)); err != nil {
			return err
		}
		return k.Cast(s(bt), s(b))
	})
	o := d.out(M, N)
	d.run("Matmul BF16×BF16", func(k be, s sel) error { return k.Matmul(s(o), s(at), s(bt), kernels.MatmulOpts{TransB: true}) })
	d.check("Matmul BF16×BF16 NT", o, fp32(K))
	d.run("Matmul F32×BF16", func(k be, s sel) error { return k.Matmul(s(o), s(a), s(bt), kernels.MatmulOpts{TransB: true}) })
	d.check("Matmul F32×BF16 NT", o, fp32(K))
	x, y := d.rand(-1, 1, 3, K, M), d.rand(-1, 1, K, N)
	ob := d.out(3, M, N)
	d.run("Matmul batched TN", func(k be, s sel) error { return k.Matmul(s(ob), s(x), s(y), kernels.MatmulOpts{TransA: true}) })
	d.check("Matmul batched TN, b broadcast", ob, fp32(K))
}

// opsNorms: RMSNorm and LayerNorm, forward and backward, on [512, 4096].
func opsNorms(d *diff) {
	const T, D = 512, 4096
	x, w, bias, g := d.rand(-2, 2, T, D), d.rand(0.5, 1.5, D), d.rand(-1, 1, D), d.rand(-1, 1, T, D)
	o, rstd, mean := d.out(T, D), d.out(T), d.out(T)
	d.run("RMSNorm", func(k be, s sel) error { return k.RMSNorm(s(o), s(rstd), s(x), s(w), 1e-5) })
	d.check("RMSNorm out", o, fp32(D))
	d.check("RMSNorm rstd", rstd, fp32(D))
	dx, dw, db := d.out(T, D), d.rand(-1, 1, D), d.rand(-1, 1, D)
	d.run("RMSNormBackward", func(k be, s sel) error { return k.RMSNormBackward(s(dx), s(dw), s(g), s(x), s(w), s(rstd)) })
	d.check("RMSNormBackward dx", dx, fp32(D))
	d.check("RMSNormBackward dw", dw, fp32(T))
	d.run("LayerNorm", func(k be, s sel) error { return k.LayerNorm(s(o), s(mean), s(rstd), s(x), s(w), s(bias), 1e-6) })
	d.check("LayerNorm out", o, fp32(D))
	d.check("LayerNorm mean", mean, fp32(D))
	d.run("LayerNormBackward", func(k be, s sel) error {
		return k.LayerNormBackward(s(dx), s(dw), s(db), s(g), s(x), s(w), s(mean), s(rstd))
	})
	d.check("LayerNormBackward dx", dx, fp32(D))
	d.check("LayerNormBackward dw", dw, fp32(T))
	d.check("LayerNormBackward db", db, fp32(T))
}

// targets returns T targets in [0, V) with every 7th ignored (−100).
func (d *diff) targets(T, V int) pair {
	v := make([]int32, T)
	for i := range v {
		v[i] = int32(d.rng.IntN(V))
		if i%7 == 3 {
			v[i] = -100
		}
	}
	return d.ints(v, T)
}

// opsLosses: softmax, cross-entropy and the LM-head loss.
func opsLosses(d *diff) {
	const R, C = 256, 1000
	x, g := d.rand(-8, 8, R, C), d.rand(-1, 1, R, C)
	y, dx := d.out(R, C), d.out(R, C)
	d.run("Softmax", func(k be, s sel) error { return k.Softmax(s(y), s(x)) })
	d.check("Softmax", y, fp32(C))
	d.run("SoftmaxBackward", func(k be, s sel) error { return k.SoftmaxBackward(s(dx), s(g), s(y)) })
	d.check("SoftmaxBackward", dx, fp32(C))
	const T, V, D = 200, 5000, 256
	logits, tg := d.rand(-10, 10, T, V), d.targets(T, V)
	stats, dl := d.out(T, 2), d.out(T, V)
	var loss [2]kernels.CELoss
	i := 0
	d.run("CrossEntropy", func(k be, s sel) error {
		l, err := k.CrossEntropy(s(stats), s(logits), s(tg))
		loss[i] = l
		i++
		return err
	})
	d.check("CrossEntropy stats", stats, fp32(V))
	d.scalar("CrossEntropy sum", loss[0].Sum, loss[1].Sum, fp32(V*T))
	if loss[0].Count != loss[1].Count {
		d.keep(fmt.Errorf("CrossEntropy count %d vs %d", loss[0].Count, loss[1].Count))
	}
	d.run("CrossEntropyBackward", func(k be, s sel) error { return k.CrossEntropyBackward(s(dl), s(logits), s(stats), s(tg), 1/150.0) })
	d.check("CrossEntropyBackward", dl, fp32(V))
	h, w := d.rand(-1, 1, T, D), d.rand(-0.2, 0.2, V, D)
	i = 0
	d.run("LMHeadLoss", func(k be, s sel) error {
		l, err := k.LMHeadLoss(s(stats), s(h), s(w), s(tg))
		loss[i] = l
		i++
		return err
	})
	d.check("LMHeadLoss stats", stats, fp32(V*D))
	d.scalar("LMHeadLoss sum", loss[0].Sum, loss[1].Sum, fp32(V*D*T))
	dh, dw := d.out(T, D), d.zeros(V, D)
	d.run("LMHeadLossBackward", func(k be, s sel) error { return k.LMHeadLossBackward(s(dh), s(dw), s(h), s(w), s(stats), s(tg), 0.01) })
	d.check("LMHeadLossBackward dh", dh, fp32(V))
	d.check("LMHeadLossBackward dw", dw, fp32(T))
}

// opsPositional: rotary, embedding, rows, grid sample.
func opsPositional(d *diff) {
	const T, H, Dh, R = 128, 8, 128, 64
	x, cs, sn := d.rand(-1, 1, T, H, Dh), d.rand(-1, 1, T, R/2), d.rand(-1, 1, T, R/2)
	o := d.out(T, H, Dh)
	d.run("Rotary", func(k be, s sel) error { return k.Rotary(s(o), s(x), s(cs), s(sn)) })
	d.check("Rotary", o, fp32(2))
	d.run("RotaryBackward", func(k be, s sel) error { return k.RotaryBackward(s(o), s(x), s(cs), s(sn)) })
	d.check("RotaryBackward", o, fp32(2))
	const V, D, N = 1000, 256, 300
	table := d.rand(-1, 1, V, D)
	ids := make([]int32, N)
	for i := range ids {
		ids[i] = int32(d.rng.IntN(V / 10)) // many repeats
	}
	pid := d.ints(ids, N)
	e := d.out(N, D)
	d.run("Embedding", func(k be, s sel) error { return k.Embedding(s(e), s(table), s(pid)) })
	d.check("Embedding", e, exact)
	dt, g := d.rand(-1, 1, V, D), d.rand(-1, 1, N, D)
	d.run("EmbeddingBackward", func(k be, s sel) error { return k.EmbeddingBackward(s(dt), s(g), s(pid), int(ids[0])) })
	d.check("EmbeddingBackward (padding idx)", dt, fp32(N))
	d.run("ScatterAddRows", func(k be, s sel) error { return k.ScatterAddRows(s(dt), s(g), s(pid)) })
	d.check("ScatterAddRows", dt, fp32(N))
	d.run("GatherRows", func(k be, s sel) error { return k.GatherRows(s(e), s(table), s(pid)) })
	d.check("GatherRows", e, exact)
	perm := d.rng.Perm(V)[:N]
	distinct := make([]int32, N)
	for i, p := range perm {
		distinct[i] = int32(p)
	}
	pd := d.ints(distinct, N)
	d.run("ScatterRows", func(k be, s sel) error { return k.ScatterRows(s(table), s(g), s(pd)) })
	d.check("ScatterRows", table, exact)
	const H0, W0, C, P = 16, 16, 64, 200
	tab, grid := d.rand(-1, 1, H0, W0, C), d.rand(-1.1, 1.1, P, 2)
	go_ := d.out(P, C)
	d.run("GridSample", func(k be, s sel) error { return k.GridSample(s(go_), s(tab), s(grid)) })
	d.check("GridSample", go_, fp32(16))
	dtab, dg := d.rand(-1, 1, H0, W0, C), d.rand(-1, 1, P, C)
	d.run("GridSampleBackward", func(k be, s sel) error { return k.GridSampleBackward(s(dtab), s(dg), s(grid)) })
	d.check("GridSampleBackward", dtab, fp32(P))
}

// opsAttention: GQA over two packed segments, causal, with padded keys; fp32 and bf16 tiles.
func opsAttention(d *diff) {
	const T, H, K, Dh = 300, 8, 2, 128
	q, k, v, do := d.rand(-1, 1, T, H, Dh), d.rand(-1, 1, T, K, Dh), d.rand(-1, 1, T, K, Dh), d.rand(-1, 1, T, H, Dh)
	pad := make([]bool, T)
	for i := 250; i < T; i += 3 {
		pad[i] = true
	}
	for _, bf := range []bool{false, true} {
		opts := kernels.AttentionOpts{Causal: true, CuSeqlens: []int32{0, 120, T}, KeyPad: pad, BF16: bf}
		t := fp32(T * Dh)
		name := "Attention"
		if bf {
			t, name = bf16(16), "Attention bf16 tiles"
		}
		o, lse := d.out(T, H, Dh), d.out(H, T)
		d.run(name, func(b be, s sel) error { return b.Attention(s(o), s(lse), s(q), s(k), s(v), opts) })
		d.check(name+" o", o, t)
		d.check(name+" lse", lse, t)
		dq, dk, dv := d.out(T, H, Dh), d.out(T, K, Dh), d.out(T, K, Dh)
		d.run(name+"Backward", func(b be, s sel) error {
			return b.AttentionBackward(s(dq), s(dk), s(dv), s(do), s(q), s(k), s(v), s(o), s(lse), opts)
		})
		d.check(name+"Backward dq", dq, t)
		d.check(name+"Backward dk", dk, t)
		d.check(name+"Backward dv", dv, t)
	}
}

// opsMoE: router, permutation, grouped GEMMs, un-permute and their backwards. Downstream ops
// get the CPU's expert choice on both sides, so a near-tie routed differently by GEMM rounding
// cannot cascade.
func opsMoE(d *diff) {
	const T, D, E, k, F = 256, 512, 64, 8, 96
	ro := kernels.RouterOpts{TopK: k, NGroup: 8, TopKGroup: 4, NormTopK: true, ScalingFactor: 2.5}
	x, wg, bias := d.rand(-1, 1, T, D), d.rand(-0.1, 0.1, E, D), d.rand(-0.05, 0.05, E)
	logits, scores, topIdx, topW := d.out(T, E), d.out(T, E), d.iout(T*k), d.out(T, k)
	ti, err := topIdx.g.Reshape(T, k)
	d.keep(err)
	tc, err := topIdx.c.Reshape(T, k)
	d.keep(err)
	topIdx = pair{ti, tc}
	d.run("Router", func(b be, s sel) error {
		return b.Router(s(logits), s(scores), s(topIdx), s(topW), s(x), s(wg), s(bias), ro)
	})
	d.check("Router logits", logits, fp32(D))
	d.check("Router scores", scores, fp32(D))
	if d.err == nil { // report expert-choice agreement, then continue with the CPU's choice
		g, err := d.gpu.Download(topIdx.g)
		d.keep(err)
		if err == nil {
			diffs := 0
			for i, v := range g.I32() {
				if v != topIdx.c.I32()[i] {
					diffs++
				}
			}
			d.rows = append(d.rows, fmt.Sprintf("| Router topIdx | [%d %d] | %d | %d differ | near-ties only | %s |", T, k, T*k, diffs,
				map[bool]string{true: "ok", false: "**FAIL**: > 1% of choices differ"}[diffs*100 <= T*k]))
			if diffs*100 > T*k {
				d.bad++
			}
		}
		topIdx = d.host(topIdx.c)
		topW = d.host(topW.c)
	}
	offs, rowSrc, pos := d.iout(E+1), d.iout(T*k), d.iout(T*k)
	d.run("Permutation", func(b be, s sel) error { return b.Permutation(s(offs), s(rowSrc), s(pos), s(topIdx)) })
	d.check("Permutation offs", offs, exact)
	d.check("Permutation rowSrc", rowSrc, exact)
	d.check("Permutation pos", pos, exact)
	xp := d.out(T*k, D)
	d.run("Permute", func(b be, s sel) error { return b.Permute(s(xp), s(x), s(rowSrc)) })
	d.check("Permute", xp, exact)
	w1 := d.rand(-0.1, 0.1, E, 2*F, D)
	h := d.out(T*k, 2*F)
	d.run("GroupedLinear", func(b be, s sel) error { return b.GroupedLinear(s(h), s(xp), s(w1), s(offs)) })
	d.check("GroupedLinear", h, fp32(D))
	dh, dxp, dw1 := d.rand(-1, 1, T*k, 2*F), d.out(T*k, D), d.rand(-1, 1, E, 2*F, D)
	d.run("GroupedLinearBackwardInput", func(b be, s sel) error { return b.GroupedLinearBackwardInput(s(dxp), s(dh), s(w1), s(offs)) })
	d.check("GroupedLinearBackwardInput", dxp, fp32(2*F))
	d.run("GroupedLinearBackwardWeight", func(b be, s sel) error { return b.GroupedLinearBackwardWeight(s(dw1), s(dh), s(xp), s(offs)) })
	d.check("GroupedLinearBackwardWeight", dw1, fp32(T))
	dx := d.out(T, D)
	d.run("PermuteBackward", func(b be, s sel) error { return b.PermuteBackward(s(dx), s(dxp), s(pos)) })
	d.check("PermuteBackward", dx, fp32(k))
	yp, u := d.rand(-1, 1, T*k, D), d.out(T, D)
	d.run("Unpermute", func(b be, s sel) error { return b.Unpermute(s(u), s(yp), s(pos), s(topW)) })
	d.check("Unpermute", u, fp32(k))
	du, dyp, dtw := d.rand(-1, 1, T, D), d.out(T*k, D), d.out(T, k)
	d.run("UnpermuteBackward", func(b be, s sel) error { return b.UnpermuteBackward(s(dyp), s(dtw), s(du), s(yp), s(pos), s(topW)) })
	d.check("UnpermuteBackward dYPerm", dyp, fp32(1))
	d.check("UnpermuteBackward dTopW", dtw, fp32(D))
	dlog, dxr, dwg := d.out(T, E), d.out(T, D), d.rand(-1, 1, E, D)
	dsc := d.rand(-0.01, 0.01, T, E)
	d.run("RouterBackward", func(b be, s sel) error {
		return b.RouterBackward(s(dxr), s(dwg), s(dlog), s(dtw), s(dsc), s(x), s(wg), s(scores), s(topIdx), ro)
	})
	d.check("RouterBackward dLogits", dlog, fp32(k))
	d.check("RouterBackward dx", dxr, fp32(E))
	d.check("RouterBackward dWGate", dwg, fp32(T))
}

// opsOptim: AdamW, global norm and clipping.
func opsOptim(d *diff) {
	const n = 100003
	p, g, m := d.rand(-1, 1, n), d.rand(-1, 1, n), d.rand(-0.1, 0.1, n)
	v := d.rand(0, 0.01, n)
	o := kernels.AdamWOpts{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Step: 7}
	d.run("AdamW", func(b be, s sel) error { return b.AdamW(s(p), s(g), s(m), s(v), o) })
	d.check("AdamW param", p, fp32(1))
	d.check("AdamW m", m, fp32(1))
	d.check("AdamW v", v, fp32(1))
	ts := []pair{g, m, d.rand(-3, 3, 4097)}
	pick := func(s sel) []*tensors.Tensor {
		var out []*tensors.Tensor
		for _, t := range ts {
			out = append(out, s(t))
		}
		return out
	}
	var norms []float64
	d.run("GlobalNorm", func(b be, s sel) error {
		nv, err := b.GlobalNorm(pick(s))
		norms = append(norms, nv)
		return err
	})
	if len(norms) == 2 {
		d.scalar("GlobalNorm", norms[0], norms[1], fp32(n))
	}
	norms = norms[:0]
	d.run("ClipByGlobalNorm", func(b be, s sel) error {
		nv, err := b.ClipByGlobalNorm(pick(s), 1.0)
		norms = append(norms, nv)
		return err
	})
	if len(norms) == 2 {
		d.scalar("ClipByGlobalNorm norm", norms[0], norms[1], fp32(n))
	}
	for i, t := range ts {
		d.check(fmt.Sprintf("ClipByGlobalNorm ts[%d]", i), t, fp32(n))
	}
}

// opGroups lists the differential groups in run order.
var opGroups = []struct {
	name string
	f    func(*diff)
}{
	{"Pointwise", opsPointwise}, {"Matmul", opsMatmul}, {"Norms", opsNorms}, {"Losses", opsLosses},
	{"Positional", opsPositional}, {"Attention", opsAttention}, {"MoE", opsMoE}, {"Optimizer", opsOptim},
}

// OpGroupNames lists the differential groups.
func OpGroupNames() []string {
	var n []string
	for _, g := range opGroups {
		n = append(n, g.name)
	}
	return slices.Clip(n)
}
