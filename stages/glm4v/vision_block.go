package glm4v

// One ViT block of the vision tower (glm45v.md §2.4), forward, backward-input and
// backward-weight:
//
//	h1 = RMSNorm(x)·norm1
//	q, k, v = h1·Wqᵀ (+bq), h1·Wkᵀ (+bk), h1·Wvᵀ (+bv)      rows 0..Dv, Dv..2Dv, 2Dv..3Dv of qkv
//	q, k = rot(q), rot(k)                                   2-D rotary over the full head (§2.3)
//	o = softmax(q·kᵀ/√Dh)·v per image frame (cu_seqlens), bidirectional
//	x2 = x + o·Wprojᵀ
//	h2 = RMSNorm(x2)·norm2
//	x3 = x2 + (silu(h2·Wgᵀ) ⊙ h2·Wuᵀ)·Wdᵀ                   MLP width Do (out_hidden_size)

import (
	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// visBlockAct is one block's forward activations. [P, H, Dh] tensors are also read as [P, Dv].
// h1, og, h2 and s are read only by GEMMs and are kept as GEMM operands (bf16 in bf16 mode).
type visBlockAct struct {
	x, rstd1, h1 *tensors.Tensor // block input [P, Dv], norm1 rstd [P], norm1 output [P, Dv]
	q, k, v      *tensors.Tensor // [P, H, Dh], q and k after the rotary (bf16 with attn16)
	o, lse       *tensors.Tensor // attention output [P, H, Dh], log-sum-exp [H, P]
	og           *tensors.Tensor // o as a GEMM operand [P, Dv] (a view of o in fp32 mode)
	x2, rstd2    *tensors.Tensor // residual after attention [P, Dv], norm2 rstd [P]
	h2           *tensors.Tensor // norm2 output [P, Dv]
	g, u, s      *tensors.Tensor // MLP gate, up [P, Do]; s = silu(g)·u [P, Do]
}

// dropForWeight keeps only the inputs of the weight-gradient GEMMs (h1, og, h2, s).
func (a *visBlockAct) dropForWeight() {
	a.x, a.rstd1, a.q, a.k, a.v, a.o, a.lse, a.x2, a.rstd2, a.g, a.u = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
}

// visBlockBack is what one block's BackwardInput leaves for its BackwardWeight: the output
// gradients of its linear layers (as GEMM operands), its norm-weight gradients and its qkv
// bias gradients.
type visBlockBack struct {
	dx3           *tensors.Tensor // [P, Dv] block output gradient = MLP down_proj output gradient
	dg, du        *tensors.Tensor // [P, Do] gate / up output gradients
	dn2           *tensors.Tensor // [Dv] norm2 weight gradient
	dx2           *tensors.Tensor // [P, Dv] gradient of x2 = attention proj output gradient
	dq, dk, dv    *tensors.Tensor // [P, Dv] q/k/v projection output gradients (before the rotary)
	dqb, dkb, dvb *tensors.Tensor // [Dv] q/k/v bias gradients; nil without attention_bias
	dn1           *tensors.Tensor // [Dv] norm1 weight gradient
}

func (s *VisionStage) attnOpts(st *visMB) kernels.AttentionOpts {
	// scale 0: Dh^-0.5; in bf16 mode the tile products take bf16 operands.
	return kernels.AttentionOpts{CuSeqlens: st.lay.cu, BF16: s.prec == precBF16}
}

// attention is o, lse = Attention(q, k, v) of the block (bf16 tiles in bf16 mode).
func (s *VisionStage) attention(st *visMB, o, lse, q, k, v *tensors.Tensor) error {
	return s.be.Attention(o, lse, q, k, v, s.attnOpts(st))
}

// attentionBackward is the backward of attention.
func (s *VisionStage) attentionBackward(st *visMB, dq, dk, dv, do, q, k, v, o, lse *tensors.Tensor) error {
	return s.be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, s.attnOpts(st))
}

// blockForward runs block w on x [P, Dv] and returns its output [P, Dv].
func (s *VisionStage) blockForward(o *visOps, w *visBlockW, a *visBlockAct, st *visMB, x *tensors.Tensor) *tensors.Tensor {
	c := &s.cfg
	P, Dv, H, Dh, F := st.lay.P, c.HiddenSize, c.NumHeads, c.HeadDim(), c.OutHiddenSize
	eps := float32(c.RMSNormEps)
	a.x = x
	a.h1, a.rstd1 = o.rmsnormGemm(x, w.norm1, eps)
	a.q, a.k, a.v = o.f32(P, H, Dh), o.f32(P, H, Dh), o.f32(P, H, Dh)
	o.linear(o.view(a.q, P, Dv), a.h1, w.q, w.qb)
	o.linear(o.view(a.k, P, Dv), a.h1, w.k, w.kb)
	o.linear(o.view(a.v, P, Dv), a.h1, w.v, w.vb)
	if s.attn16 { // q, k, v kept as the bf16 operands of attention only
		q16, k16 := o.alloc(tensors.BF16, P, H, Dh), o.alloc(tensors.BF16, P, H, Dh)
		o.do(func() error { return s.be.Rotary(q16, a.q, st.cos, st.sin) })
		o.do(func() error { return s.be.Rotary(k16, a.k, st.cos, st.sin) })
		a.q, a.k, a.v = q16, k16, o.gemmIn(a.v)
	} else {
		o.do(func() error { return s.be.Rotary(a.q, a.q, st.cos, st.sin) })
		o.do(func() error { return s.be.Rotary(a.k, a.k, st.cos, st.sin) })
	}
	a.o, a.lse = o.f32(P, H, Dh), o.f32(H, P)
	o.do(func() error { return s.attention(st, a.o, a.lse, a.q, a.k, a.v) })
	a.og = o.gemmIn(o.view(a.o, P, Dv))
	a.x2 = o.f32(P, Dv)
	o.linear(a.x2, a.og, w.proj, nil)
	o.do(func() error { return s.be.Add(a.x2, a.x2, x) })
	a.h2, a.rstd2 = o.rmsnormGemm(a.x2, w.norm2, eps)
	a.g, a.u = o.f32(P, F), o.f32(P, F)
	o.linear(a.g, a.h2, w.gate, nil)
	o.linear(a.u, a.h2, w.up, nil)
	sw := o.gemmOut(P, F)
	o.do(func() error { return s.be.SwiGLU(sw, a.g, a.u) })
	a.s = o.gemmIn(sw)
	x3 := o.f32(P, Dv)
	o.linear(x3, a.s, w.down, nil)
	o.do(func() error { return s.be.Add(x3, x3, a.x2) })
	return x3
}

// blockBackward takes the gradient of the block output and returns the gradient of its input;
// it fills b for blockWeightGrads.
func (s *VisionStage) blockBackward(o *visOps, w *visBlockW, a *visBlockAct, b *visBlockBack, st *visMB, dx3 *tensors.Tensor) *tensors.Tensor {
	c := &s.cfg
	P, Dv, H, Dh, F := st.lay.P, c.HiddenSize, c.NumHeads, c.HeadDim(), c.OutHiddenSize
	// MLP.
	b.dx3 = o.gemmIn(dx3)
	ds := o.f32(P, F)
	o.linearDX(ds, b.dx3, w.down, false)
	dg, du := o.gemmOut(P, F), o.gemmOut(P, F)
	o.do(func() error { return s.be.SwiGLUBackward(dg, du, ds, a.g, a.u) })
	b.dg, b.du = o.gemmIn(dg), o.gemmIn(du)
	dh2 := o.f32(P, Dv)
	o.linearDX(dh2, b.dg, w.gate, false)
	o.linearDX(dh2, b.du, w.up, true)
	var dx2 *tensors.Tensor
	dx2, b.dn2 = o.rmsnormBack(dh2, a.x2, w.norm2, a.rstd2)
	o.do(func() error { return s.be.Add(dx2, dx2, dx3) })
	b.dx2 = o.gemmIn(dx2)
	// Attention.
	dO := o.f32(P, H, Dh)
	o.linearDX(o.view(dO, P, Dv), b.dx2, w.proj, false)
	dq, dk, dv := o.f32(P, H, Dh), o.f32(P, H, Dh), o.f32(P, H, Dh)
	o.do(func() error {
		return s.attentionBackward(st, dq, dk, dv, dO, a.q, a.k, a.v, a.o, a.lse)
	})
	if s.attn16 && w.qb == nil { // no bias gradients: dq, dk only feed GEMMs, as bf16
		dq16, dk16 := o.alloc(tensors.BF16, P, H, Dh), o.alloc(tensors.BF16, P, H, Dh)
		o.do(func() error { return s.be.RotaryBackward(dq16, dq, st.cos, st.sin) })
		o.do(func() error { return s.be.RotaryBackward(dk16, dk, st.cos, st.sin) })
		dq, dk = dq16, dk16
	} else {
		o.do(func() error { return s.be.RotaryBackward(dq, dq, st.cos, st.sin) })
		o.do(func() error { return s.be.RotaryBackward(dk, dk, st.cos, st.sin) })
	}
	dq, dk, dv = o.view(dq, P, Dv), o.view(dk, P, Dv), o.view(dv, P, Dv)
	b.dqb, b.dkb, b.dvb = o.biasGrad(w.qb, dq), o.biasGrad(w.kb, dk), o.biasGrad(w.vb, dv)
	b.dq, b.dk, b.dv = o.gemmIn(dq), o.gemmIn(dk), o.gemmIn(dv)
	dh1 := o.f32(P, Dv)
	o.linearDX(dh1, b.dq, w.q, false)
	o.linearDX(dh1, b.dk, w.k, true)
	o.linearDX(dh1, b.dv, w.v, true)
	var dx *tensors.Tensor
	dx, b.dn1 = o.rmsnormBack(dh1, a.x, w.norm1, a.rstd1)
	o.do(func() error { return s.be.Add(dx, dx, dx2) })
	return dx
}

// blockWeightGrads accumulates one block's parameter gradients into g.
func (s *VisionStage) blockWeightGrads(o *visOps, g *visBlockW, a *visBlockAct, b *visBlockBack) {
	o.linearDW(g.q, b.dq, a.h1)
	o.linearDW(g.k, b.dk, a.h1)
	o.linearDW(g.v, b.dv, a.h1)
	o.acc(g.qb, b.dqb)
	o.acc(g.kb, b.dkb)
	o.acc(g.vb, b.dvb)
	o.linearDW(g.proj, b.dx2, a.og)
	o.acc(g.norm1, b.dn1)
	o.linearDW(g.gate, b.dg, a.h2)
	o.linearDW(g.up, b.du, a.h2)
	o.linearDW(g.down, b.dx3, a.s)
	o.acc(g.norm2, b.dn2)
}
