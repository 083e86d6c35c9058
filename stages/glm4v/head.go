package glm4v

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/glmflow/glmflow/kernels"
	kmoe "github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// KindHead is the final norm, lm_head and loss.
const KindHead = "glm4v.head"

// IgnoreIndex marks labels without loss (PyTorch CrossEntropyLoss ignore_index).
const IgnoreIndex = -100

// Head is glm4v.head: logits = lm_head(norm(hidden)) and the shifted causal-LM cross-entropy
// (glm45v.md §7.1): position s of a sequence predicts labels[s+1]; the last position and
// labels −100 carry no loss.
//
// Loss normalisation: the stage outputs Σ CE / N. N is HeadConfig.LossTokens — the number of
// loss tokens in the whole global batch — so that summing the gradients of m micro-batches
// gives exactly the gradient of the one big batch (Megatron's per-token normalisation); with
// LossTokens 0, N is the micro-batch's own count (HF's mean, and the single-batch case).
//
// Ports:
//
//	in   hidden  F32 [T, D]  Grad
//	     labels  I32 [B, S]  unshifted, HF convention; −100 = no loss
//	out  loss    F32 []      Σ CE / N
//	     logits  F32 [T, V]  only with HeadConfig.Logits
//
// With the hf aux loss (HeadConfig.Aux, see AuxLoss) it also takes the last decoder stage's
// pooled router statistics and outputs the aux loss (coefficient included; not in loss):
//
//	in   router_counts  F64 [E]
//	     router_probs   F64 [E]  Grad: coeff·E·counts/N² × GradScale × dOut["aux_loss"]
//	out  aux_loss       F32 []   Grad; coeff · E · Σ_e counts[e]·probs[e] / N², N = Σ counts / k
//
// BackwardInput takes dOut["loss"] (a scalar multiplier of the loss gradient) or nothing
// (multiplier 1), likewise dOut["aux_loss"], and returns the gradient of hidden (and of
// router_probs).
type Head struct {
	cfg        *Config
	be         kernels.Backend
	norm       txNorm
	lm         txLinear
	logitsOut  bool
	aux        AuxLoss // validated; Type "hf" or none
	lossTokens atomic.Int64
	saved      stages.Saved[*headState]
	arena      txArena
	prec       *txPrec // GEMM precision and bf16 weight cache (text_precision.go)
	recompute  atomic.Bool
}

// headState: x the input; hn, rstd the norm; hl [R, D] the lm_head input: hn, or without a
// logits output only its R rows with a target (rows [R] I32, nil when R = T); logits [R, V]
// (overwritten by their gradient in BackwardInput unless they were an output); stats [R, 2];
// targets [R] the shifted labels; n the normaliser; dlogits, dw the weight-gradient pairs.
type headState struct {
	x, hn, rstd, logits, stats, targets *tensors.Tensor
	hl, rows                            *tensors.Tensor
	n                                   int
	sum                                 float64
	dlogits, dwNorm                     *tensors.Tensor
	// hf aux loss: the pooled statistics, token-layer count and value (coefficient included).
	auxCounts []float64
	auxN      float64
	auxLoss   float64
	bufs      []*tensors.Tensor // drawn from the arena; returned in BackwardWeight
	gen       *txGen            // bf16 weight copies held from Forward to BackwardWeight; nil: fp32
	dlIn      *tensors.Tensor   // dlogits as a GEMM operand (bf16 copy in bf16 mode)
	// Recompute: Forward kept only its inputs (referenced, not copied: the caller must not
	// change them before BackwardWeight) and the batch shape; BackwardInput rebuilds the rest.
	in   stages.Tensors
	B, S int
}

// NewHead builds the stage.
func NewHead(c HeadConfig) (*Head, error) {
	if err := c.check(KindHead); err != nil {
		return nil, err
	}
	if c.LossTokens < 0 {
		return nil, fmt.Errorf("%s: LossTokens %d < 0", KindHead, c.LossTokens)
	}
	p := c.Params
	w, err := txParam(c.Backend, &p.Language.Norm.Weight, !c.Frozen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindHead, err)
	}
	aux, err := c.Aux.validate(p.Config.Text.RouterAuxLossCoef)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindHead, err)
	}
	if !aux.hf() { // the seq loss lives in the decoder stages
		aux = AuxLoss{}
	}
	h := &Head{cfg: &p.Config, be: c.Backend, norm: txNorm{w: w, eps: float32(p.Config.Text.RMSNormEps)}, logitsOut: c.Logits, aux: aux}
	lm := p.LMHead
	if lm == nil { // tie_word_embeddings: lm_head is embed_tokens
		lm = &Linear{Weight: p.Language.EmbedTokens.Weight}
		lm.Weight.Name = p.Language.EmbedTokens.Weight.Name
	}
	if h.lm, err = newTxLinear(c.Backend, lm, !c.Frozen); err != nil {
		return nil, fmt.Errorf("%s: %w", KindHead, err)
	}
	if h.prec, err = newTxPrec(KindHead, c.StageConfig); err != nil {
		return nil, err
	}
	h.prec.add(h.lm.w)
	h.lossTokens.Store(int64(c.LossTokens))
	h.recompute.Store(c.Recompute)
	return h, nil
}

// SetRecompute turns recomputation on or off for later Forward calls (stages.Recomputer).
func (h *Head) SetRecompute(on bool) { h.recompute.Store(on) }

// SetLossTokens sets the global-batch loss-token count for the following micro-batches
// (0: each micro-batch's own count).
func (h *Head) SetLossTokens(n int) { h.lossTokens.Store(int64(n)) }

func (h *Head) Kind() string { return KindHead }

func (h *Head) Ports() (in, out []stages.Port) {
	D, V := fmt.Sprint(h.cfg.Text.HiddenSize), fmt.Sprint(h.cfg.Text.VocabSize)
	in = []stages.Port{
		{Name: "hidden", DType: tensors.F32, Shape: []string{"T", D}, Grad: true},
		{Name: "labels", DType: tensors.I32, Shape: []string{"B", "S"}},
	}
	out = []stages.Port{{Name: "loss", DType: tensors.F32, Shape: []string{}, Grad: true}}
	if h.logitsOut {
		out = append(out, stages.Port{Name: "logits", DType: tensors.F32, Shape: []string{"T", V}})
	}
	if h.aux.hf() {
		in = append(in, routerPorts(h.cfg.Text.NRoutedExperts)...)
		out = append(out, stages.Port{Name: "aux_loss", DType: tensors.F32, Shape: []string{}, Grad: true})
	}
	return in, out
}

func (h *Head) Params() []*stages.Param {
	return append([]*stages.Param{h.norm.w}, h.lm.params()...)
}

// ShiftLabels returns the targets [B·S] of the causal-LM loss: target (b, s) = labels (b, s+1),
// −100 at s = S−1; and the number of loss tokens. Labels must be −100 or in [0, V).
func ShiftLabels(labels []int32, B, S, V int) ([]int32, int, error) {
	if len(labels) != B*S {
		return nil, 0, fmt.Errorf("%d labels for B=%d, S=%d", len(labels), B, S)
	}
	tg := make([]int32, B*S)
	n := 0
	for b := range B {
		for s := range S {
			l := labels[b*S+s]
			if l != IgnoreIndex && (l < 0 || int(l) >= V) {
				return nil, 0, fmt.Errorf("labels[%d][%d] = %d: want -100 or a token id in [0, %d)", b, s, l, V)
			}
			t := int32(IgnoreIndex)
			if s+1 < S {
				t = labels[b*S+s+1]
			}
			tg[b*S+s] = t
			if t != IgnoreIndex {
				n++
			}
		}
	}
	return tg, n, nil
}

func (h *Head) Forward(mb int, in stages.Tensors) (stages.Tensors, error) {
	ports, _ := h.Ports()
	dims := map[string]int{}
	if err := stages.Bind(KindHead, ports, in, dims); err != nil {
		return nil, err
	}
	if dims["B"]*dims["S"] != dims["T"] {
		return nil, fmt.Errorf("%s: hidden has %d rows, labels are [%d, %d]: want T = B·S", KindHead, dims["T"], dims["B"], dims["S"])
	}
	gen, err := h.prec.acquire()
	if err != nil {
		return nil, fmt.Errorf("micro-batch %d: %w", mb, err)
	}
	st, out, err := h.forward(in, dims["B"], dims["S"], gen)
	if err != nil {
		h.prec.release(gen)
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, err)
	}
	if h.recompute.Load() {
		// Keep the inputs and the scalars LossSum/AuxLoss report; the activations go back to
		// the arena and BackwardInput recomputes them with the same kernels in the same order.
		h.arena.put(st.bufs)
		st = &headState{in: in, B: dims["B"], S: dims["S"], gen: gen, n: st.n, sum: st.sum,
			auxCounts: st.auxCounts, auxN: st.auxN, auxLoss: st.auxLoss}
	}
	if err := h.saved.Put(KindHead, mb, st); err != nil {
		h.prec.release(gen)
		return nil, err
	}
	return out, nil
}

func (h *Head) forward(in stages.Tensors, B, S int, gen *txGen) (*headState, stages.Tensors, error) {
	be := h.be
	T, D, V := B*S, h.cfg.Text.HiddenSize, h.cfg.Text.VocabSize
	labels, err := txHostI32(be, in["labels"])
	if err != nil {
		return nil, nil, err
	}
	tg, count, err := ShiftLabels(labels, B, S, V)
	if err != nil {
		return nil, nil, err
	}
	st := &headState{x: in["hidden"], n: int(h.lossTokens.Load()), gen: gen}
	o := &txOps{be: be, ar: &h.arena, kept: &st.bufs, gen: gen}
	if st.n == 0 {
		st.n = count
	}
	st.hn, st.rstd = o.buf(T, D), o.buf(T)
	h.norm.fwd(o, st.hn, st.rstd, st.x)
	st.hl = st.hn
	R := T
	if !h.logitsOut && count > 0 && count < T {
		// Only rows with a target need logits: the lm_head (the largest GEMMs of a small
		// model) runs on R = count rows; prompt, image and padding rows are skipped.
		rows, tgc := make([]int32, 0, count), make([]int32, 0, count)
		for i, t := range tg {
			if t != IgnoreIndex {
				rows, tgc = append(rows, int32(i)), append(tgc, t)
			}
		}
		R, tg = count, tgc
		st.rows = o.upI32(rows, R)
		st.hl = o.buf(R, D)
		o.do(func() error { return be.GatherRows(st.hl, st.hn, st.rows) })
	}
	st.targets = o.upI32(tg, R)
	if h.logitsOut { // an output: it may outlive the micro-batch
		st.logits = o.fresh(T, V)
	} else {
		st.logits = o.buf(R, V)
	}
	st.hl = o.gemmIn(st.hl) // the lm_head input is only read by GEMMs
	h.lm.fwd(o, st.logits, st.hl)
	st.stats = o.buf(R, 2)
	var ce kernels.CELoss
	o.do(func() error {
		ce, err = be.CrossEntropy(st.stats, st.logits, st.targets)
		return err
	})
	if o.err != nil {
		return nil, nil, o.err
	}
	st.sum = ce.Sum
	loss := 0.0
	if st.n > 0 {
		loss = ce.Sum / float64(st.n)
	}
	out := stages.Tensors{"loss": o.upF32([]float32{float32(loss)})}
	if h.logitsOut {
		out["logits"] = st.logits
	}
	if h.aux.hf() {
		if err := h.auxForward(st, in); err != nil {
			return nil, nil, err
		}
		out["aux_loss"] = o.upF32([]float32{float32(st.auxLoss)})
	}
	return st, out, o.err
}

// auxForward computes HF's pooled load-balancing loss from the router statistics.
func (h *Head) auxForward(st *headState, in stages.Tensors) error {
	E, k := h.cfg.Text.NRoutedExperts, h.cfg.Text.NumExpertsPerTok
	counts, err := txHostF64(h.be, in["router_counts"])
	if err != nil {
		return err
	}
	probs, err := txHostF64(h.be, in["router_probs"])
	if err != nil {
		return err
	}
	st.auxCounts = slices.Clone(counts)
	hits := 0.0
	for _, c := range counts {
		hits += c
	}
	st.auxN = hits / float64(k) // tokens × MoE layers
	if st.auxN == 0 {
		return nil
	}
	a, err := kmoe.LoadBalanceLoss(E, int(st.auxN), counts, probs)
	st.auxLoss = h.aux.Coeff * a
	return err
}

// AuxLoss returns micro-batch mb's hf aux loss (coefficient included) while it is live; 0
// without it.
func (h *Head) AuxLoss(mb int) (float64, error) {
	st, err := h.saved.Get(KindHead, mb)
	if err != nil {
		return 0, err
	}
	return st.auxLoss, nil
}

// LossSum returns micro-batch mb's summed cross-entropy and loss-token normaliser while it is
// live (between Forward and BackwardWeight).
func (h *Head) LossSum(mb int) (sum float64, n int, err error) {
	st, err := h.saved.Get(KindHead, mb)
	if err != nil {
		return 0, 0, err
	}
	return st.sum, st.n, nil
}

func (h *Head) BackwardInput(mb int, dOut stages.Tensors) (stages.Tensors, error) {
	st, err := h.saved.Get(KindHead, mb)
	if err != nil {
		return nil, err
	}
	if st.in != nil { // recompute: rebuild the forward state (the normaliser stays Forward's)
		full, _, err := h.forward(st.in, st.B, st.S, st.gen)
		if err != nil {
			return nil, fmt.Errorf("%s: micro-batch %d: recompute: %w", KindHead, mb, err)
		}
		full.n = st.n
		*st = *full
	}
	be := h.be
	scalar := func(name string) (float32, error) {
		dl := dOut[name]
		if dl == nil {
			return 1, nil
		}
		v, err := txHostF32(be, dl)
		if err != nil || len(v) != 1 {
			return 0, fmt.Errorf("%s: micro-batch %d: gradient of %q is %v, want an F32 scalar", KindHead, mb, name, dl)
		}
		return v[0], nil
	}
	scale, err := scalar("loss")
	if err != nil {
		return nil, err
	}
	var gProbs *tensors.Tensor
	if h.aux.hf() {
		da, err := scalar("aux_loss")
		if err != nil {
			return nil, err
		}
		// d(aux)/d(probs[e]) = coeff·E·counts[e]/N² (the counts are piecewise constant).
		E := len(st.auxCounts)
		g := make([]float64, E)
		if st.auxN > 0 {
			f := float64(da) * float64(h.aux.GradScale) * h.aux.Coeff * float64(E) / (st.auxN * st.auxN)
			for e, c := range st.auxCounts {
				g[e] = f * c
			}
		}
		o := &txOps{be: be}
		if gProbs = o.upF64(g, E); o.err != nil {
			return nil, fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, o.err)
		}
	}
	if st.n > 0 {
		scale /= float32(st.n)
	} else {
		scale = 0
	}
	o := &txOps{be: be, ar: &h.arena, kept: &st.bufs, gen: st.gen}
	T, D := st.x.Dim(0), st.x.Dim(1)
	st.dlogits = st.logits // in place: the [R, V] gradient is never held twice
	if h.logitsOut {
		st.dlogits = o.buf(T, h.cfg.Text.VocabSize)
	}
	o.do(func() error { return be.CrossEntropyBackward(st.dlogits, st.logits, st.stats, st.targets, scale) })
	st.dlIn = o.gemmIn(st.dlogits)
	var dhn *tensors.Tensor
	if st.rows != nil { // rows without a target get no gradient
		dhl := o.buf(st.hl.Dim(0), D)
		h.lm.bwdInput(o, dhl, st.dlIn, false)
		dhn = o.f32(T, D)
		o.do(func() error { return be.ScatterRows(dhn, dhl, st.rows) })
	} else {
		dhn = o.buf(T, D)
		h.lm.bwdInput(o, dhn, st.dlIn, false)
	}
	dx := o.fresh(T, D) // the stage's input gradient
	st.dwNorm = o.f32(D)
	h.norm.bwdInput(o, dx, st.dwNorm, dhn, st.x, st.rstd)
	if o.err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, o.err)
	}
	if gProbs != nil {
		return stages.Tensors{"hidden": dx, "router_probs": gProbs}, nil
	}
	return stages.Tensors{"hidden": dx}, nil
}

func (h *Head) BackwardWeight(mb int) error {
	st, err := h.saved.Take(KindHead, mb)
	if err != nil {
		return err
	}
	if st.dlogits == nil {
		return fmt.Errorf("%s: BackwardWeight of micro-batch %d before its BackwardInput", KindHead, mb)
	}
	defer h.arena.put(st.bufs)
	defer h.prec.release(st.gen)
	o := &txOps{be: h.be}
	h.lm.bwdWeight(o, st.dlIn, st.hl, st.dlogits)
	h.norm.bwdWeight(o, st.dwNorm)
	if o.err != nil {
		return fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, o.err)
	}
	return nil
}
