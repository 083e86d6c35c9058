package glm4v

import (
	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// txAttention is one text self-attention block (glm45v.md §3.4): q/k/v projections with
// biases, partial NeoX MRoPE on the first R dims of every q and k head, causal GQA attention
// within each sequence with padded keys masked, o_proj without bias.
type txAttention struct {
	q, k, v, o txLinear
	H, K, Dh   int
}

// attnState is what one layer's attention keeps from Forward to BackwardWeight.
//
//	h        [T, D]      the normed input as a GEMM operand (x of q/k/v_proj)
//	q        [T, H, Dh]  rotated queries;  k, v [T, K, Dh] (k rotated)
//	o, lse   [T, H, Dh], [H, T]  attention output and logsumexp; oIn [T, H·Dh] o as a GEMM operand
//	dq, dk, dv           gradients at the projection outputs (before rotary, F32: the bias
//	                     gradients); dqIn, dkIn, dvIn the same as GEMM operands (the dy of q/k/v_proj)
//	dy       [T, D]      gradient of the block output as a GEMM operand (the dy of o_proj)
//
// A GEMM operand is the tensor itself in fp32 mode, its bf16 copy in bf16 mode.
type attnState struct {
	h, q, k, v, o, lse, oIn *tensors.Tensor
	dq, dk, dv, dy          *tensors.Tensor
	dqIn, dkIn, dvIn        *tensors.Tensor
}

func newTxAttention(c StageConfig, a *Attention) (txAttention, error) {
	tc := &c.Params.Config.Text
	var at txAttention
	var err error
	for _, x := range []struct {
		dst *txLinear
		src *Linear
	}{{&at.q, &a.Q}, {&at.k, &a.K}, {&at.v, &a.V}, {&at.o, &a.O}} {
		if *x.dst, err = newTxLinear(c.Backend, x.src, !c.Frozen); err != nil {
			return at, err
		}
	}
	at.H, at.K, at.Dh = tc.NumAttentionHeads, tc.NumKeyValueHeads, tc.HeadDim
	return at, nil
}

// gemmWeights lists the GEMM weights (for the bf16 cache).
func (a *txAttention) gemmWeights() []*stages.Param {
	return []*stages.Param{a.q.w, a.k.w, a.v.w, a.o.w}
}

func (a *txAttention) params() []*stages.Param {
	return append(append(append(a.q.params(), a.k.params()...), a.v.params()...), a.o.params()...)
}

// fwd computes y [T, D] = o_proj(attn(rope(q_proj(h)), rope(k_proj(h)), v_proj(h))).
func (a *txAttention) fwd(o *txOps, st *attnState, y, h, cos, sin *tensors.Tensor, opts kernels.AttentionOpts) {
	T := h.Dim(0)
	st.h = o.gemmIn(h)
	st.q, st.k, st.v = o.buf(T, a.H, a.Dh), o.buf(T, a.K, a.Dh), o.buf(T, a.K, a.Dh)
	a.q.fwd(o, o.view(st.q, T, a.H*a.Dh), st.h)
	a.k.fwd(o, o.view(st.k, T, a.K*a.Dh), st.h)
	a.v.fwd(o, o.view(st.v, T, a.K*a.Dh), st.h)
	o.do(func() error { return o.be.Rotary(st.q, st.q, cos, sin) })
	o.do(func() error { return o.be.Rotary(st.k, st.k, cos, sin) })
	st.o, st.lse = o.buf(T, a.H, a.Dh), o.buf(a.H, T)
	o.do(func() error { return o.be.Attention(st.o, st.lse, st.q, st.k, st.v, opts) })
	st.oIn = o.gemmIn(o.view(st.o, T, a.H*a.Dh))
	a.o.fwd(o, y, st.oIn)
}

// bwdInput writes dh [T, D] (overwritten) from dy [T, D] and keeps the weight-gradient pairs.
func (a *txAttention) bwdInput(o *txOps, st *attnState, dh, dy, cos, sin *tensors.Tensor, opts kernels.AttentionOpts) {
	T := dy.Dim(0)
	st.dy = o.gemmIn(dy)
	do := o.buf(T, a.H, a.Dh)
	a.o.bwdInput(o, o.view(do, T, a.H*a.Dh), st.dy, false)
	st.dq, st.dk, st.dv = o.buf(T, a.H, a.Dh), o.buf(T, a.K, a.Dh), o.buf(T, a.K, a.Dh)
	o.do(func() error {
		return o.be.AttentionBackward(st.dq, st.dk, st.dv, do, st.q, st.k, st.v, st.o, st.lse, opts)
	})
	o.do(func() error { return o.be.RotaryBackward(st.dq, st.dq, cos, sin) })
	o.do(func() error { return o.be.RotaryBackward(st.dk, st.dk, cos, sin) })
	st.dqIn = o.gemmIn(o.view(st.dq, T, a.H*a.Dh))
	st.dkIn = o.gemmIn(o.view(st.dk, T, a.K*a.Dh))
	st.dvIn = o.gemmIn(o.view(st.dv, T, a.K*a.Dh))
	a.q.bwdInput(o, dh, st.dqIn, false)
	a.k.bwdInput(o, dh, st.dkIn, true)
	a.v.bwdInput(o, dh, st.dvIn, true)
}

// bwdWeight accumulates the projection gradients.
func (a *txAttention) bwdWeight(o *txOps, st *attnState) {
	T := st.h.Dim(0)
	a.q.bwdWeight(o, st.dqIn, st.h, o.view(st.dq, T, a.H*a.Dh))
	a.k.bwdWeight(o, st.dkIn, st.h, o.view(st.dk, T, a.K*a.Dh))
	a.v.bwdWeight(o, st.dvIn, st.h, o.view(st.dv, T, a.K*a.Dh))
	a.o.bwdWeight(o, st.dy, st.oIn, nil) // o_proj has no bias
}
