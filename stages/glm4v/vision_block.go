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
type visBlockAct struct {
	x, rstd1, h1 *tensors.Tensor // block input [P, Dv], norm1 rstd [P], norm1 output [P, Dv]
	q, k, v      *tensors.Tensor // [P, H, Dh], q and k after the rotary
	o, lse       *tensors.Tensor // attention output [P, H, Dh], log-sum-exp [H, P]
	x2, rstd2    *tensors.Tensor // residual after attention [P, Dv], norm2 rstd [P]
	h2           *tensors.Tensor // norm2 output [P, Dv]
	g, u, s      *tensors.Tensor // MLP gate, up, silu(g)·u [P, Do]
}

// dropForWeight keeps only the inputs of the weight-gradient GEMMs (h1, o, h2, s).
func (a *visBlockAct) dropForWeight() {
	a.x, a.rstd1, a.q, a.k, a.v, a.lse, a.x2, a.rstd2, a.g, a.u = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
}

// visBlockBack is what one block's BackwardInput leaves for its BackwardWeight: the output
// gradients of its linear layers and its norm-weight gradients.
type visBlockBack struct {
	dx3        *tensors.Tensor // [P, Dv] block output gradient = MLP down_proj output gradient
	dg, du     *tensors.Tensor // [P, Do] gate / up output gradients
	dn2        *tensors.Tensor // [Dv] norm2 weight gradient
	dx2        *tensors.Tensor // [P, Dv] gradient of x2 = attention proj output gradient
	dq, dk, dv *tensors.Tensor // [P, H, Dh] q/k/v projection output gradients (before the rotary)
	dn1        *tensors.Tensor // [Dv] norm1 weight gradient
}

func (s *VisionStage) attnOpts(st *visMB) kernels.AttentionOpts {
	return kernels.AttentionOpts{CuSeqlens: st.lay.cu} // scale 0: Dh^-0.5
}

// blockForward runs block w on x [P, Dv] and returns its output [P, Dv].
func (s *VisionStage) blockForward(o *visOps, w *visBlockW, a *visBlockAct, st *visMB, x *tensors.Tensor) *tensors.Tensor {
	c := &s.cfg
	P, Dv, H, Dh, F := st.lay.P, c.HiddenSize, c.NumHeads, c.HeadDim(), c.OutHiddenSize
	eps := float32(c.RMSNormEps)
	a.x = x
	a.h1, a.rstd1 = o.rmsnorm(x, w.norm1, eps)
	a.q, a.k, a.v = o.f32(P, H, Dh), o.f32(P, H, Dh), o.f32(P, H, Dh)
	o.linear(o.view(a.q, P, Dv), a.h1, w.q, w.qb)
	o.linear(o.view(a.k, P, Dv), a.h1, w.k, w.kb)
	o.linear(o.view(a.v, P, Dv), a.h1, w.v, w.vb)
	o.do(func() error { return s.be.Rotary(a.q, a.q, st.cos, st.sin) })
	o.do(func() error { return s.be.Rotary(a.k, a.k, st.cos, st.sin) })
	a.o, a.lse = o.f32(P, H, Dh), o.f32(H, P)
	o.do(func() error { return s.be.Attention(a.o, a.lse, a.q, a.k, a.v, s.attnOpts(st)) })
	a.x2 = o.f32(P, Dv)
	o.linear(a.x2, o.view(a.o, P, Dv), w.proj, nil)
	o.do(func() error { return s.be.Add(a.x2, a.x2, x) })
	a.h2, a.rstd2 = o.rmsnorm(a.x2, w.norm2, eps)
	a.g, a.u, a.s = o.f32(P, F), o.f32(P, F), o.f32(P, F)
	o.linear(a.g, a.h2, w.gate, nil)
	o.linear(a.u, a.h2, w.up, nil)
	o.do(func() error { return s.be.SwiGLU(a.s, a.g, a.u) })
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
	b.dx3 = dx3
	ds := o.f32(P, F)
	o.linearDX(ds, dx3, w.down, false)
	b.dg, b.du = o.f32(P, F), o.f32(P, F)
	o.do(func() error { return s.be.SwiGLUBackward(b.dg, b.du, ds, a.g, a.u) })
	dh2 := o.f32(P, Dv)
	o.linearDX(dh2, b.dg, w.gate, false)
	o.linearDX(dh2, b.du, w.up, true)
	b.dx2, b.dn2 = o.rmsnormBack(dh2, a.x2, w.norm2, a.rstd2)
	o.do(func() error { return s.be.Add(b.dx2, b.dx2, dx3) })
	// Attention.
	dO := o.f32(P, H, Dh)
	o.linearDX(o.view(dO, P, Dv), b.dx2, w.proj, false)
	b.dq, b.dk, b.dv = o.f32(P, H, Dh), o.f32(P, H, Dh), o.f32(P, H, Dh)
	o.do(func() error {
		return s.be.AttentionBackward(b.dq, b.dk, b.dv, dO, a.q, a.k, a.v, a.o, a.lse, s.attnOpts(st))
	})
	o.do(func() error { return s.be.RotaryBackward(b.dq, b.dq, st.cos, st.sin) })
	o.do(func() error { return s.be.RotaryBackward(b.dk, b.dk, st.cos, st.sin) })
	dh1 := o.f32(P, Dv)
	o.linearDX(dh1, o.view(b.dq, P, Dv), w.q, false)
	o.linearDX(dh1, o.view(b.dk, P, Dv), w.k, true)
	o.linearDX(dh1, o.view(b.dv, P, Dv), w.v, true)
	var dx *tensors.Tensor
	dx, b.dn1 = o.rmsnormBack(dh1, a.x, w.norm1, a.rstd1)
	o.do(func() error { return s.be.Add(dx, dx, b.dx2) })
	return dx
}

// blockWeightGrads accumulates one block's parameter gradients into g.
func (s *VisionStage) blockWeightGrads(o *visOps, g *visBlockW, a *visBlockAct, b *visBlockBack) {
	P, Dv := a.h1.Dim(0), s.cfg.HiddenSize
	o.linearDW(g.q, g.qb, o.view(b.dq, P, Dv), a.h1)
	o.linearDW(g.k, g.kb, o.view(b.dk, P, Dv), a.h1)
	o.linearDW(g.v, g.vb, o.view(b.dv, P, Dv), a.h1)
	o.linearDW(g.proj, nil, b.dx2, o.view(a.o, P, Dv))
	o.acc(g.norm1, b.dn1)
	o.linearDW(g.gate, nil, b.dg, a.h2)
	o.linearDW(g.up, nil, b.du, a.h2)
	o.linearDW(g.down, nil, b.dx3, a.s)
	o.acc(g.norm2, b.dn2)
}
