package glm4v

import (
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// txMLP is a SwiGLU MLP without biases, down(silu(gate(x))·up(x)) (glm45v.md §3.6): the dense
// MLP of layers < first_k_dense_replace and the shared expert of the MoE layers.
type txMLP struct {
	gate, up, down txLinear
	I              int // width
}

// mlpState: x [T, D] input; g, u [T, I] gate and up projections; a [T, I] silu(g)·u;
// dg, du, dy: the gradients at the three projection outputs (kept for bwdWeight). x, a, dg,
// du and dy are GEMM operands (bf16 copies in bf16 mode).
type mlpState struct {
	x, g, u, a *tensors.Tensor
	dg, du, dy *tensors.Tensor
}

// gemmWeights lists the GEMM weights (for the bf16 cache).
func (m *txMLP) gemmWeights() []*stages.Param {
	return []*stages.Param{m.gate.w, m.up.w, m.down.w}
}

func newTxMLP(c StageConfig, m *GatedMLP) (txMLP, error) {
	var t txMLP
	var err error
	for _, x := range []struct {
		dst *txLinear
		src *Linear
	}{{&t.gate, &m.GateProj}, {&t.up, &m.UpProj}, {&t.down, &m.DownProj}} {
		if *x.dst, err = newTxLinear(c.Backend, x.src, !c.Frozen); err != nil {
			return t, err
		}
	}
	t.I = t.gate.out()
	return t, nil
}

func (m *txMLP) params() []*stages.Param {
	return append(append(m.gate.params(), m.up.params()...), m.down.params()...)
}

// fwd computes y [T, D] from x [T, D].
func (m *txMLP) fwd(o *txOps, st *mlpState, y, x *tensors.Tensor) {
	T := x.Dim(0)
	st.x, st.g, st.u = o.gemmIn(x), o.buf(T, m.I), o.buf(T, m.I)
	m.gate.fwd(o, st.g, st.x)
	m.up.fwd(o, st.u, st.x)
	a := o.buf(T, m.I)
	o.do(func() error { return o.be.SwiGLU(a, st.g, st.u) })
	st.a = o.gemmIn(a)
	m.down.fwd(o, y, st.a)
}

// bwdInput writes dx [T, D] from dy (overwritten, or added to when acc).
func (m *txMLP) bwdInput(o *txOps, st *mlpState, dx, dy *tensors.Tensor, acc bool) {
	T := dy.Dim(0)
	st.dy = o.gemmIn(dy)
	da := o.buf(T, m.I)
	m.down.bwdInput(o, da, st.dy, false)
	dg, du := o.buf(T, m.I), o.buf(T, m.I)
	o.do(func() error { return o.be.SwiGLUBackward(dg, du, da, st.g, st.u) })
	st.dg, st.du = o.gemmIn(dg), o.gemmIn(du)
	m.gate.bwdInput(o, dx, st.dg, acc)
	m.up.bwdInput(o, dx, st.du, true)
}

func (m *txMLP) bwdWeight(o *txOps, st *mlpState) {
	// No biases (GLM's MLPs have none; a bias would need the F32 gradients kept).
	m.gate.bwdWeight(o, st.dg, st.x, nil)
	m.up.bwdWeight(o, st.du, st.x, nil)
	m.down.bwdWeight(o, st.dy, st.a, nil)
}
