package glm4v

import (
	"fmt"
	"sync/atomic"

	"github.com/glmflow/glmflow/kernels"
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
// BackwardInput takes dOut["loss"] (a scalar multiplier of the loss gradient) or nothing
// (multiplier 1), and returns the gradient of hidden.
type Head struct {
	cfg        *Config
	be         kernels.Backend
	norm       txNorm
	lm         txLinear
	logitsOut  bool
	lossTokens atomic.Int64
	saved      stages.Saved[*headState]
}

// headState: x the input; hn, rstd the norm; logits [T, V] (overwritten by their gradient in
// BackwardInput unless they were an output); stats [T, 2]; targets [T] the shifted labels;
// n the normaliser; dlogits, dw the weight-gradient pairs.
type headState struct {
	x, hn, rstd, logits, stats, targets *tensors.Tensor
	n                                   int
	sum                                 float64
	dlogits, dwNorm                     *tensors.Tensor
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
	h := &Head{cfg: &p.Config, be: c.Backend, norm: txNorm{w: w, eps: float32(p.Config.Text.RMSNormEps)}, logitsOut: c.Logits}
	lm := p.LMHead
	if lm == nil { // tie_word_embeddings: lm_head is embed_tokens
		lm = &Linear{Weight: p.Language.EmbedTokens.Weight}
		lm.Weight.Name = p.Language.EmbedTokens.Weight.Name
	}
	if h.lm, err = newTxLinear(c.Backend, lm, !c.Frozen); err != nil {
		return nil, fmt.Errorf("%s: %w", KindHead, err)
	}
	h.lossTokens.Store(int64(c.LossTokens))
	return h, nil
}

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
	st, out, err := h.forward(in, dims["B"], dims["S"])
	if err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, err)
	}
	if err := h.saved.Put(KindHead, mb, st); err != nil {
		return nil, err
	}
	return out, nil
}

func (h *Head) forward(in stages.Tensors, B, S int) (*headState, stages.Tensors, error) {
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
	o := &txOps{be: be}
	st := &headState{x: in["hidden"], n: int(h.lossTokens.Load())}
	if st.n == 0 {
		st.n = count
	}
	st.targets = o.upI32(tg, T)
	st.hn, st.rstd = o.f32(T, D), o.f32(T)
	h.norm.fwd(o, st.hn, st.rstd, st.x)
	st.logits = o.f32(T, V)
	h.lm.fwd(o, st.logits, st.hn)
	st.stats = o.f32(T, 2)
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
	return st, out, o.err
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
	be := h.be
	scale := float32(1)
	if dl := dOut["loss"]; dl != nil {
		v, err := txHostF32(be, dl)
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("%s: micro-batch %d: gradient of \"loss\" is %v, want an F32 scalar", KindHead, mb, dl)
		}
		scale = v[0]
	}
	if st.n > 0 {
		scale /= float32(st.n)
	} else {
		scale = 0
	}
	o := &txOps{be: be}
	T, D := st.x.Dim(0), st.x.Dim(1)
	st.dlogits = st.logits // in place: the [T, V] gradient is never held twice
	if h.logitsOut {
		st.dlogits = o.f32(T, h.cfg.Text.VocabSize)
	}
	o.do(func() error { return be.CrossEntropyBackward(st.dlogits, st.logits, st.stats, st.targets, scale) })
	dhn := o.f32(T, D)
	h.lm.bwdInput(o, dhn, st.dlogits, false)
	dx := o.f32(T, D)
	st.dwNorm = o.f32(D)
	h.norm.bwdInput(o, dx, st.dwNorm, dhn, st.x, st.rstd)
	if o.err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, o.err)
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
	o := &txOps{be: h.be}
	h.lm.bwdWeight(o, st.dlogits, st.hn)
	h.norm.bwdWeight(o, st.dwNorm)
	if o.err != nil {
		return fmt.Errorf("%s: micro-batch %d: %w", KindHead, mb, o.err)
	}
	return nil
}
