package glm4v

// Activation recomputation of the decoder stage (stages.Recomputer).
//
// With recompute on, Forward runs each layer on its own buffer list and returns everything but
// the layer's output (the next layer's input) and its expert choices [T, k] to the arena right
// away, so from Forward to BackwardInput a micro-batch holds L·[T, D] layer inputs instead of
// every activation. BackwardInput re-runs layer i's forward (layerFwd: the same kernels in the
// same order on the same inputs, so the same bits and the same expert choice, which it checks)
// just before layer i's backward, then keeps only what BackwardWeight reads (the weight-
// gradient GEMM operand pairs, the norm-weight gradients, the layer's input gradient) and
// returns the rest — the forward-only activations, the backward scratch, the layer input —
// to the arena before the next layer's recompute.

import (
	"fmt"
	"slices"

	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

var _ stages.Recomputer = (*Decoder)(nil)

// SetRecompute implements stages.Recomputer. It applies to later Forward calls; micro-batches
// in flight finish in the mode their Forward ran in.
func (d *Decoder) SetRecompute(on bool) { d.recompute.Store(on) }

// KeptBytes is the memory accounting of micro-batch mb while it is live: the bytes of the
// arena buffers it holds now (activations, gradient operands, scratch). The referenced input
// hidden state and the small host and rotary tables are not counted.
func (d *Decoder) KeptBytes(mb int) (int64, error) {
	st, err := d.saved.Get(KindDecoder, mb)
	if err != nil {
		return 0, err
	}
	n := int64(0)
	for _, t := range st.bufs {
		n += t.NBytes()
	}
	return n, nil
}

// dropActivations (Forward with recompute) returns layer i's buffers tmp to the arena except
// its expert choices, and leaves only the layer input, the expert choices and the seq aux
// loss value in its state.
func (d *Decoder) dropActivations(st *decState, i int, tmp []*tensors.Tensor) {
	ls := &st.layers[i]
	top := ls.moe.topIdx
	var drop []*tensors.Tensor
	for _, t := range tmp {
		if t == top {
			st.bufs = append(st.bufs, t)
		} else {
			drop = append(drop, t)
		}
	}
	d.arena.put(drop)
	*ls = layerState{x: ls.x, moe: moeState{topIdx: top, auxLoss: ls.moe.auxLoss}}
}

// refwd (BackwardInput with recompute) re-runs layer i's forward from its kept input, drawing
// from o, and checks that it chose the experts Forward chose.
func (d *Decoder) refwd(o *txOps, st *decState, i int) error {
	ls := &st.layers[i]
	x, top := ls.x, ls.moe.topIdx
	*ls = layerState{}
	var rs *routerStats // the totals went out with Forward's outputs; these are discarded
	if d.aux.hf() {
		E := d.cfg.Text.NRoutedExperts
		rs = &routerStats{counts: make([]float64, E), probs: make([]float64, E)}
	}
	m := o.buf(x.Dim(0), x.Dim(1)) // the layer's output, unused by the backward
	d.layerFwd(o, st, i, m, x, rs)
	if o.err != nil || top == nil {
		return o.err
	}
	a, err := txHostI32(o.be, top)
	if err != nil {
		return err
	}
	b, err := txHostI32(o.be, ls.moe.topIdx)
	if err != nil {
		return err
	}
	if !slices.Equal(a, b) {
		return fmt.Errorf("the recomputed router chose other experts than the forward")
	}
	return nil
}

// keepForWeight (BackwardInput with recompute) sorts layer i's buffers lk after its backward:
// those BackwardWeight reads and dx, the layer's input gradient (the next layer's dy), join
// the micro-batch's state; the rest, and the layer's input, go back to the arena.
func (d *Decoder) keepForWeight(st *decState, i int, dx *tensors.Tensor, lk []*tensors.Tensor) {
	ls := &st.layers[i]
	keep := map[*tensors.Storage]bool{}
	add := func(ts ...*tensors.Tensor) {
		for _, t := range ts {
			if t != nil {
				keep[t.Storage()] = true
			}
		}
	}
	addMLP := func(m *mlpState) { add(m.x, m.a, m.dg, m.du, m.dy) }
	a, mo := &ls.attn, &ls.moe
	add(dx, ls.dwIn, ls.dwPost)
	add(a.h, a.oIn, a.dq, a.dk, a.dv, a.dqIn, a.dkIn, a.dvIn, a.dy)
	addMLP(&ls.mlp)
	add(mo.x, mo.topIdx, mo.offs, mo.xPerm, mo.a, mo.dYPerm, mo.dgu, mo.dLogits)
	addMLP(&mo.shared)
	var drop []*tensors.Tensor
	for _, t := range lk {
		if keep[t.Storage()] {
			st.bufs = append(st.bufs, t)
		} else {
			drop = append(drop, t)
		}
	}
	if i > 0 { // the layer input: layer i−1's output, drawn by Forward
		if j := slices.Index(st.bufs, ls.x); j >= 0 {
			drop = append(drop, ls.x)
			st.bufs = slices.Delete(st.bufs, j, j+1)
		}
	}
	d.arena.put(drop)
	// No dangling references to returned buffers.
	for _, p := range []**tensors.Tensor{&ls.x, &ls.h1, &ls.rstd1, &ls.x1, &ls.h2, &ls.rstd2,
		&a.q, &a.k, &a.v, &a.o, &a.lse, &ls.mlp.g, &ls.mlp.u, &mo.shared.g, &mo.shared.u,
		&mo.logits, &mo.scores, &mo.topW, &mo.rowSrc, &mo.pos, &mo.gu, &mo.yPerm} {
		if *p != nil && !keep[(*p).Storage()] {
			*p = nil
		}
	}
}
