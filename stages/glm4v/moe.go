package glm4v

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels"
	kmoe "github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// AuxLoss selects the optional MoE load-balancing loss. Off by default (HF trains GLM-4.5V
// without it unless output_router_logits=True).
type AuxLoss struct {
	// Type: "" or "none": no aux loss.
	//
	// "seq": Megatron-Core's seq_aux_loss (what Megatron-Bridge configures for GLM-4.5V,
	// coefficient 1e-3): per MoE layer and sequence, coeff · Σ_e cost[b,e]·P[b,e] averaged over
	// the B sequences (kernels/moe.SeqAuxLoss), on the normalised sigmoid scores, its gradient
	// reaching the router weight and the input. Each decoder stage computes its layers' terms.
	//
	// "hf": HF's load_balancing_loss_func (glm45v.md §7.1; coefficient router_aux_loss_coef,
	// 1e-4): softmax of the raw router logits, top-k, pooled over all MoE layers and the
	// attention-mask-1 tokens, coeff · E · Σ_e (counts[e]/N)·(probSum[e]/N) with N = layers ×
	// tokens. The pooled form does not factorise over layers, so the decoder stages pass the
	// running totals router_counts / router_probs [E] (F64, summed in layer order: any split
	// gives the numbers of the unsplit model) and the head computes the loss (port aux_loss);
	// the head's gradient of router_probs, coeff·E·counts/N² (times GradScale), flows back
	// through the decoders to every MoE layer's router logits.
	Type string
	// Coeff is the coefficient; 0: the type's default (seq: 1e-3; hf: the config's
	// router_aux_loss_coef).
	Coeff float64
	// GradScale multiplies the aux gradient (Megatron's MoEAuxLossAutoScaler scale, e.g.
	// 1/micro-batches so the aux term is averaged over the global batch); 0: 1.
	GradScale float32
}

// hf reports whether a is HF's pooled loss (after validate).
func (a AuxLoss) hf() bool { return a.Type == "hf" }

// validate fills the defaults; hfCoeff is the config's router_aux_loss_coef.
func (a AuxLoss) validate(hfCoeff float64) (AuxLoss, error) {
	switch a.Type {
	case "", "none":
		return AuxLoss{}, nil
	case "seq", "hf":
		if a.Coeff == 0 {
			a.Coeff = 1e-3
			if a.Type == "hf" {
				a.Coeff = hfCoeff
			}
		}
		if a.GradScale == 0 {
			a.GradScale = 1
		}
		if !(a.Coeff > 0) || math.IsInf(a.Coeff, 0) {
			return a, fmt.Errorf("%s aux loss coefficient %v: want > 0", a.Type, a.Coeff)
		}
		return a, nil
	}
	return a, fmt.Errorf("aux loss type %q: want \"none\", \"seq\" or \"hf\"", a.Type)
}

// txMoE is the routed + shared expert block (glm45v.md §3.7): sigmoid router with selection
// bias and group-limited top-k, routed experts through permutation + grouped GEMMs on the
// fused weights (GateUp [E, 2F, D] gate rows first, Down [E, D, F]), weights from the
// un-biased scores, plus the shared expert.
type txMoE struct {
	gate, bias   *stages.Param // router weight [E, D]; e_score_correction_bias [E] (never trained)
	gateUp, down *stages.Param
	shared       *txMLP // nil when n_shared_experts = 0
	E, F, k      int
	ro           kernels.RouterOpts
	aux          AuxLoss
}

// moeState: see fwd for the shapes.
type moeState struct {
	x, logits, scores, topIdx, topW *tensors.Tensor
	offs, rowSrc, pos               *tensors.Tensor
	offsH                           []int32 // offs on the host (bf16 mode)
	low                             bool    // bf16 mode: xPerm, a, dYPerm, dgu are bf16 GEMM operands
	xPerm, gu, a, yPerm             *tensors.Tensor
	shared                          mlpState
	dYPerm, dgu, dLogits            *tensors.Tensor
	auxCounts                       []int32 // [B·E] seq aux loss routing counts
	auxLoss                         float64
}

// routerStats are the running totals of HF's pooled aux loss over the MoE layers so far, in
// layer order: counts[e] top-k hits and probs[e] Σ softmax(logits)[e] over the attention-mask-1
// tokens (kernels/moe.LoadBalanceStats).
type routerStats struct {
	counts, probs []float64 // [E]
}

func newTxMoE(c StageConfig, m *MoE, aux AuxLoss) (*txMoE, error) {
	tc := &c.Params.Config.Text
	t := &txMoE{E: tc.NRoutedExperts, F: tc.MoEIntermediateSize, k: tc.NumExpertsPerTok, aux: aux,
		ro: kernels.RouterOpts{TopK: tc.NumExpertsPerTok, NGroup: tc.NGroup, TopKGroup: tc.TopKGroup,
			NormTopK: tc.NormTopKProb, ScalingFactor: float32(tc.RoutedScalingFactor)}}
	var err error
	if t.gate, err = txParam(c.Backend, &m.Gate.Weight, !c.Frozen); err != nil {
		return nil, err
	}
	if t.bias, err = txParam(c.Backend, &m.Gate.EScoreCorrectionBias, false); err != nil {
		return nil, err
	}
	if t.gateUp, err = txParam(c.Backend, &m.Experts.GateUp, !c.Frozen); err != nil {
		return nil, err
	}
	if t.down, err = txParam(c.Backend, &m.Experts.Down, !c.Frozen); err != nil {
		return nil, err
	}
	if m.SharedExperts != nil {
		sh, err := newTxMLP(c, m.SharedExperts)
		if err != nil {
			return nil, err
		}
		t.shared = &sh
	}
	return t, nil
}

// gemmWeights lists the GEMM weights for the bf16 cache: the fused routed experts' and the
// shared expert's. The router stays fp32 (text_precision.go).
func (m *txMoE) gemmWeights() []*stages.Param {
	ps := []*stages.Param{m.gateUp, m.down}
	if m.shared != nil {
		ps = append(ps, m.shared.gemmWeights()...)
	}
	return ps
}

// The routed experts' GEMMs. In fp32 mode the Backend's grouped GEMMs; in bf16 mode (the
// Backend has no bf16 grouped path) one bf16 Matmul per expert with rows, on views of the
// expert-sorted rows [offs[e], offs[e+1]) and of the fused weight w [E, N, K] (a bf16 copy).

// expertOp runs f(e, rows a, rows b) for every expert with rows, on row views of x [R, ·] and
// y [R, ·].
func (m *txMoE) expertOp(o *txOps, offs []int32, x, y *tensors.Tensor, f func(e int, xe, ye *tensors.Tensor) error) {
	for e := range m.E {
		a, b := int(offs[e]), int(offs[e+1])
		if a == b {
			continue
		}
		o.do(func() error {
			xe, err := x.Slice(0, a, b)
			if err != nil {
				return err
			}
			ye, err := y.Slice(0, a, b)
			if err != nil {
				return err
			}
			return f(e, xe, ye)
		})
	}
}

// expertW returns expert e's matrix [N, K] of w [E, N, K].
func expertW(w *tensors.Tensor, e int) (*tensors.Tensor, error) {
	we, err := w.Slice(0, e, e+1)
	if err != nil {
		return nil, err
	}
	return we.Reshape(w.Dim(1), w.Dim(2))
}

// groupedFwd: y [R, N] = x[rows_e] · w[e]ᵀ per expert; x a GEMM operand.
func (m *txMoE) groupedFwd(o *txOps, st *moeState, y, x *tensors.Tensor, w *stages.Param) {
	if o.gen == nil {
		o.do(func() error { return o.be.GroupedLinear(y, x, w.Value, st.offs) })
		return
	}
	wl := o.weight(w)
	m.expertOp(o, st.offsH, x, y, func(e int, xe, ye *tensors.Tensor) error {
		we, err := expertW(wl, e)
		if err != nil {
			return err
		}
		return o.be.Matmul(ye, xe, we, kernels.MatmulOpts{TransB: true})
	})
}

// groupedBwdInput: dx [R, K] = dy[rows_e] · w[e] per expert (overwritten); dy a GEMM operand.
func (m *txMoE) groupedBwdInput(o *txOps, st *moeState, dx, dy *tensors.Tensor, w *stages.Param) {
	if o.gen == nil {
		o.do(func() error { return o.be.GroupedLinearBackwardInput(dx, dy, w.Value, st.offs) })
		return
	}
	wl := o.weight(w)
	m.expertOp(o, st.offsH, dy, dx, func(e int, dye, dxe *tensors.Tensor) error {
		we, err := expertW(wl, e)
		if err != nil {
			return err
		}
		return o.be.Matmul(dxe, dye, we, kernels.MatmulOpts{})
	})
}

// groupedBwdWeight: dw[e] += dy[rows_e]ᵀ · x[rows_e] (dy, x GEMM operands; bf16 when low).
func (m *txMoE) groupedBwdWeight(o *txOps, st *moeState, w *stages.Param, dy, x *tensors.Tensor, low bool) {
	if !w.Trainable {
		return
	}
	if !low {
		o.do(func() error { return o.be.GroupedLinearBackwardWeight(w.Grad, dy, x, st.offs) })
		return
	}
	m.expertOp(o, st.offsH, dy, x, func(e int, dye, xe *tensors.Tensor) error {
		ge, err := expertW(w.Grad, e)
		if err != nil {
			return err
		}
		return o.be.Matmul(ge, dye, xe, kernels.MatmulOpts{TransA: true, Beta: 1})
	})
}

func (m *txMoE) params() []*stages.Param {
	ps := []*stages.Param{m.gate, m.bias, m.gateUp, m.down}
	if m.shared != nil {
		ps = append(ps, m.shared.params()...)
	}
	return ps
}

// fwd computes y [T, D] from x [T, D]:
//
//	logits, scores [T, E]; topIdx [T, k] I32; topW [T, k]
//	offs [E+1], rowSrc, pos [T·k] (I32): the expert-sorted permutation
//	xPerm [T·k, D] → gu [T·k, 2F] → a [T·k, F] → yPerm [T·k, D] → Σ_k topW·yPerm = routed [T, D]
//
// xPerm and a (and in backward dYPerm, dgu) are kept as GEMM operands (bf16 in bf16 mode).
//
// With the hf aux loss, rs accumulates this layer's router statistics.
func (m *txMoE) fwd(o *txOps, st *moeState, y, x *tensors.Tensor, lay *txLayout, rs *routerStats) {
	be := o.be
	T, D, E, k := x.Dim(0), x.Dim(1), m.E, m.k
	st.x = x
	st.logits, st.scores = o.buf(T, E), o.buf(T, E)
	st.topIdx, st.topW = o.bufOf(tensors.I32, T, k), o.buf(T, k)
	o.do(func() error {
		return be.Router(st.logits, st.scores, st.topIdx, st.topW, x, m.gate.Value, m.bias.Value, m.ro)
	})
	st.offs, st.rowSrc, st.pos = o.bufOf(tensors.I32, E+1), o.bufOf(tensors.I32, T*k), o.bufOf(tensors.I32, T*k)
	o.do(func() error { return be.Permutation(st.offs, st.rowSrc, st.pos, st.topIdx) })
	st.low = o.gen != nil
	if st.low {
		o.do(func() error {
			var err error
			st.offsH, err = txHostI32(be, st.offs)
			return err
		})
	}
	xPerm := o.buf(T*k, D)
	o.do(func() error { return be.Permute(xPerm, x, st.rowSrc) })
	st.xPerm = o.gemmIn(xPerm)
	st.gu = o.buf(T*k, 2*m.F)
	m.groupedFwd(o, st, st.gu, st.xPerm, m.gateUp)
	a := o.buf(T*k, m.F)
	o.do(func() error { return be.SwiGLUFused(a, st.gu) })
	st.a = o.gemmIn(a)
	st.yPerm = o.buf(T*k, D)
	m.groupedFwd(o, st, st.yPerm, st.a, m.down)
	o.do(func() error { return be.Unpermute(y, st.yPerm, st.pos, st.topW) })
	if m.shared != nil {
		s := o.buf(T, D)
		m.shared.fwd(o, &st.shared, s, x)
		o.do(func() error { return be.Add(y, y, s) })
	}
	switch m.aux.Type {
	case "seq":
		o.do(func() error { return m.seqAux(be, st, lay) })
	case "hf":
		o.do(func() error {
			lg, err := txHostF32(be, st.logits)
			if err != nil {
				return err
			}
			for _, r := range lay.runs() {
				if err := kmoe.LoadBalanceStats(r[1]-r[0], E, k, lg[r[0]*E:r[1]*E], rs.counts, rs.probs); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// hfAuxBackward returns the gradient [T, E] of the hf aux loss w.r.t. this layer's router
// logits, given g [E], the gradient of the pooled probability sums (the head's
// coeff·E·counts/N² times the gradient scale): per attention-mask-1 row dl = p ⊙ (g − Σ g·p),
// p = softmax(logits); padding rows 0.
func (m *txMoE) hfAuxBackward(o *txOps, st *moeState, lay *txLayout, g []float64) *tensors.Tensor {
	T, E := st.logits.Dim(0), m.E
	var d *tensors.Tensor
	o.do(func() error {
		lg, err := txHostF32(o.be, st.logits)
		if err != nil {
			return err
		}
		// LoadBalanceLossBackward's row gradient is dLoss·E·counts[e]/N²: with N = 1 and
		// dLoss = 1, counts = g/E gives g.
		c := make([]float64, E)
		for e := range E {
			c[e] = g[e] / float64(E)
		}
		dl := make([]float32, T*E)
		for _, r := range lay.runs() {
			if err := kmoe.LoadBalanceLossBackward(r[1]-r[0], E, 1, lg[r[0]*E:r[1]*E], c, 1, dl[r[0]*E:r[1]*E]); err != nil {
				return err
			}
		}
		d = o.upF32(dl, T, E)
		return nil
	})
	return d
}

// seqAux computes the seq_aux_loss value and routing counts from the scores (host side).
func (m *txMoE) seqAux(be kernels.Backend, st *moeState, lay *txLayout) error {
	sc, err := txHostF32(be, st.scores)
	if err != nil {
		return err
	}
	st.auxCounts = make([]int32, lay.B*m.E)
	st.auxLoss, err = kmoe.SeqAuxLoss(lay.B, lay.S, m.E, m.k, float32(m.aux.Coeff), sc, st.auxCounts)
	return err
}

func txHostF32(be kernels.Backend, t *tensors.Tensor) ([]float32, error) {
	if t.Device() == tensors.CPU && t.Bytes() != nil {
		return t.F32(), nil
	}
	h, err := be.Download(t)
	if err != nil {
		return nil, err
	}
	return h.F32(), nil
}

// bwdInput writes dx [T, D] (overwritten) from dy [T, D]; auxG [E] is the hf aux loss's
// gradient of the pooled probability sums (nil without it).
func (m *txMoE) bwdInput(o *txOps, st *moeState, dx, dy *tensors.Tensor, lay *txLayout, auxG []float64) {
	be := o.be
	T, D, E, k := dy.Dim(0), dy.Dim(1), m.E, m.k
	dYPerm := o.buf(T*k, D)
	dTopW := o.buf(T, k)
	o.do(func() error { return be.UnpermuteBackward(dYPerm, dTopW, dy, st.yPerm, st.pos, st.topW) })
	st.dYPerm = o.gemmIn(dYPerm)
	da := o.buf(T*k, m.F)
	m.groupedBwdInput(o, st, da, st.dYPerm, m.down)
	dgu := o.buf(T*k, 2*m.F)
	o.do(func() error { return be.SwiGLUFusedBackward(dgu, da, st.gu) })
	st.dgu = o.gemmIn(dgu)
	dxPerm := o.buf(T*k, D)
	m.groupedBwdInput(o, st, dxPerm, st.dgu, m.gateUp)
	o.do(func() error { return be.PermuteBackward(dx, dxPerm, st.pos) })
	var dScores *tensors.Tensor
	if m.aux.Type == "seq" && st.auxCounts != nil {
		o.do(func() error {
			sc, err := txHostF32(be, st.scores)
			if err != nil {
				return err
			}
			ds := make([]float32, T*E)
			if err := kmoe.SeqAuxLossBackward(lay.B, lay.S, E, k, float32(m.aux.Coeff), sc, st.auxCounts, m.aux.GradScale, ds); err != nil {
				return err
			}
			dScores = o.upF32(ds, T, E)
			return nil
		})
	}
	st.dLogits = o.buf(T, E)
	o.do(func() error {
		return be.RouterBackward(nil, nil, st.dLogits, dTopW, dScores, st.x, m.gate.Value, st.scores, st.topIdx, m.ro)
	})
	if m.aux.hf() && auxG != nil {
		da := m.hfAuxBackward(o, st, lay, auxG)
		o.do(func() error { return be.Add(st.dLogits, st.dLogits, da) })
	}
	// dx += dLogits·W_gate (the router's input gradient, aux terms included).
	o.do(func() error { return be.Matmul(dx, st.dLogits, m.gate.Value, kernels.MatmulOpts{Beta: 1}) })
	if m.shared != nil {
		m.shared.bwdInput(o, &st.shared, dx, dy, true)
	}
}

func (m *txMoE) bwdWeight(o *txOps, st *moeState) {
	be := o.be
	m.groupedBwdWeight(o, st, m.down, st.dYPerm, st.a, st.low)
	m.groupedBwdWeight(o, st, m.gateUp, st.dgu, st.xPerm, st.low)
	if m.gate.Trainable { // dW_gate += dLogitsᵀ·x
		o.do(func() error {
			return be.Matmul(m.gate.Grad, st.dLogits, st.x, kernels.MatmulOpts{TransA: true, Beta: 1})
		})
	}
	if m.shared != nil {
		m.shared.bwdWeight(o, &st.shared)
	}
}
