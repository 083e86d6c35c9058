package glm4v

// The vision tower's head (glm45v.md §2.1 step 7 and §2.5): the 2×2 downsample Conv2d and the
// patch merger, forward, backward-input and backward-weight.
//
// Downsample as one GEMM. Rows 4j..4j+3 of the post_layernorm output are merged token j's
// 2×2 block in the order k = kh·m + kw (r0c0, r0c1, r1c0, r1c1: the merge-block order of
// pixel_values). HF views them as [M, m, m, Dv], permutes to channels first and applies
// Conv2d(Dv→Do, kernel = stride = m), whose weight [Do, Dv, kh, kw] flattened row-major reads
// column c·m² + k. So each block [m², Dv] is transposed to [Dv, m²] (a batched GEMM against
// the m²×m² identity: every output is 1·x + 0·… , exact), giving zc [M, Dv·m²] with column
// c·m² + k, and ds = zc·Wᵀ + b with the checkpoint weight as is: no weight permutation, and
// its gradient dyᵀ·zc comes out in the checkpoint layout.
//
// Merger: pr = ds·Wprojᵀ; ln = LayerNorm(pr) (eps 1e-5, weight and bias); gl = GELU(ln)
// (exact erf form); out = (silu(gl·Wgᵀ) ⊙ gl·Wuᵀ)·Wdᵀ, width Iv = intermediate_size.

import (
	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// visMergerAct is the head's forward activations; zc, ds, gl and s are read only by GEMMs and
// are kept as GEMM operands (bf16 in bf16 mode).
type visMergerAct struct {
	zc         *tensors.Tensor // [M, Dv·m²] merge blocks, channel-major (downsample input)
	ds         *tensors.Tensor // [M, Do] downsample output = merger proj input
	pr         *tensors.Tensor // [M, Do] proj output = LayerNorm input
	mean, rstd *tensors.Tensor // [M]
	ln         *tensors.Tensor // [M, Do] LayerNorm output = GELU input
	gl         *tensors.Tensor // [M, Do] GELU output = gate/up input
	g, u, s    *tensors.Tensor // [M, Iv] gate, up, silu(g)·u
}

// dropForWeight keeps only the inputs of the weight-gradient GEMMs (zc, ds, gl, s).
func (a *visMergerAct) dropForWeight() {
	a.pr, a.mean, a.rstd, a.ln, a.g, a.u = nil, nil, nil, nil, nil, nil
}

// visMergerBack is what the head's BackwardInput leaves for its BackwardWeight (the linear
// layers' output gradients as GEMM operands).
type visMergerBack struct {
	dout   *tensors.Tensor // [M, Do] d(image_embeds) = down_proj output gradient
	dg, du *tensors.Tensor // [M, Iv]
	dlnW   *tensors.Tensor // [Do] LayerNorm weight gradient
	dlnB   *tensors.Tensor // [Do] LayerNorm bias gradient
	dpr    *tensors.Tensor // [M, Do] proj output gradient
	dds    *tensors.Tensor // [M, Do] downsample output gradient
	ddsB   *tensors.Tensor // [Do] downsample bias gradient; nil without the bias
}

// mergeT transposes every [m², Dv] block of x [M·m², Dv] into y [M, Dv·m²] (or back when
// inverse), through the identity GEMM described above.
func (s *VisionStage) mergeT(o *visOps, y, x *tensors.Tensor, inverse bool) {
	c := &s.cfg
	m2, Dv := c.SpatialMergeSize*c.SpatialMergeSize, c.HiddenSize
	M := x.Numel() / (m2 * Dv)
	if !inverse { // y_b [Dv, m²] = x_bᵀ · I
		yb, xb := o.view(y, M, Dv, m2), o.view(x, M, m2, Dv)
		o.do(func() error { return s.be.Matmul(yb, xb, s.eye, kernels.MatmulOpts{TransA: true}) })
		return
	}
	// y_b [m², Dv] = I · x_bᵀ, x_b [Dv, m²]
	yb, xb := o.view(y, M, m2, Dv), o.view(x, M, Dv, m2)
	o.do(func() error { return s.be.Matmul(yb, s.eye, xb, kernels.MatmulOpts{TransB: true}) })
}

// mergerForward maps the post_layernorm output z [P, Dv] to image_embeds [M, Do].
func (s *VisionStage) mergerForward(o *visOps, a *visMergerAct, st *visMB, z *tensors.Tensor) *tensors.Tensor {
	c := &s.cfg
	M, Dv, Do, Iv := st.lay.M, c.HiddenSize, c.OutHiddenSize, c.IntermediateSize
	m2 := c.SpatialMergeSize * c.SpatialMergeSize
	w := st.w
	zc := o.f32(M, Dv*m2)
	s.mergeT(o, zc, z, false)
	a.zc = o.gemmIn(zc)
	ds := o.f32(M, Do)
	o.linear(ds, a.zc, w.downW, w.downB)
	a.ds = o.gemmIn(ds)
	a.pr = o.f32(M, Do)
	o.linear(a.pr, a.ds, w.mProj, nil)
	a.ln, a.mean, a.rstd = o.f32(M, Do), o.f32(M), o.f32(M)
	o.do(func() error { return s.be.LayerNorm(a.ln, a.mean, a.rstd, a.pr, w.lnW, w.lnB, visLNEps) })
	gl := o.f32(M, Do)
	o.do(func() error { return s.be.GELU(gl, a.ln) })
	a.gl = o.gemmIn(gl)
	a.g, a.u = o.f32(M, Iv), o.f32(M, Iv)
	o.linear(a.g, a.gl, w.mGate, nil)
	o.linear(a.u, a.gl, w.mUp, nil)
	sw := o.gemmOut(M, Iv)
	o.do(func() error { return s.be.SwiGLU(sw, a.g, a.u) })
	a.s = o.gemmIn(sw)
	out := o.zeros(M, Do) // the stage's output: the caller's, never recycled
	o.linear(out, a.s, w.mDown, nil)
	return out
}

// mergerBackward takes d(image_embeds) [M, Do] and returns d(z) [P, Dv]; it fills b.
func (s *VisionStage) mergerBackward(o *visOps, b *visMergerBack, a *visMergerAct, st *visMB, dOut *tensors.Tensor) *tensors.Tensor {
	c := &s.cfg
	P, M, Dv, Do, Iv := st.lay.P, st.lay.M, c.HiddenSize, c.OutHiddenSize, c.IntermediateSize
	m2 := c.SpatialMergeSize * c.SpatialMergeSize
	w := st.w
	b.dout = o.gemmIn(dOut)
	dsw := o.f32(M, Iv)
	o.linearDX(dsw, b.dout, w.mDown, false)
	dg, du := o.gemmOut(M, Iv), o.gemmOut(M, Iv)
	o.do(func() error { return s.be.SwiGLUBackward(dg, du, dsw, a.g, a.u) })
	b.dg, b.du = o.gemmIn(dg), o.gemmIn(du)
	dgl := o.f32(M, Do)
	o.linearDX(dgl, b.dg, w.mGate, false)
	o.linearDX(dgl, b.du, w.mUp, true)
	dln := o.f32(M, Do)
	o.do(func() error { return s.be.GELUBackward(dln, dgl, a.ln) })
	dpr := o.f32(M, Do)
	b.dlnW, b.dlnB = o.zeros(Do), o.zeros(Do)
	o.do(func() error {
		return s.be.LayerNormBackward(dpr, b.dlnW, b.dlnB, dln, a.pr, w.lnW, a.mean, a.rstd)
	})
	b.dpr = o.gemmIn(dpr)
	dds := o.f32(M, Do)
	o.linearDX(dds, b.dpr, w.mProj, false)
	b.ddsB = o.biasGrad(w.downB, dds)
	b.dds = o.gemmIn(dds)
	dzc := o.f32(M, Dv*m2)
	o.linearDX(dzc, b.dds, w.downW, false)
	dz := o.f32(P, Dv)
	s.mergeT(o, dz, dzc, true)
	return dz
}

// mergerWeightGrads accumulates the head's parameter gradients into s.g.
func (s *VisionStage) mergerWeightGrads(o *visOps, a *visMergerAct, b *visMergerBack) {
	g := s.g
	o.linearDW(g.downW, b.dds, a.zc)
	o.acc(g.downB, b.ddsB)
	o.linearDW(g.mProj, b.dpr, a.ds)
	o.acc(g.lnW, b.dlnW)
	o.acc(g.lnB, b.dlnB)
	o.linearDW(g.mGate, b.dg, a.gl)
	o.linearDW(g.mUp, b.du, a.gl)
	o.linearDW(g.mDown, b.dout, a.s)
}
