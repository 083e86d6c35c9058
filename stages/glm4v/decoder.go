package glm4v

import (
	"cmp"
	"fmt"
	"sync/atomic"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/rotary"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// KindDecoder is a contiguous range of text decoder layers.
const KindDecoder = "glm4v.decoder"

// Decoder is glm4v.decoder: layers [From, To) of the text model (glm45v.md §3.3), each
//
//	x1 = x + o_proj(attn(input_layernorm(x)))      causal GQA, partial MRoPE, q/k/v bias
//	y  = x1 + mlp(post_attention_layernorm(x1))    dense SwiGLU (i < first_k_dense_replace) or MoE
//
// on the packed layout of the embed stage (T = B·S rows, one attention segment per sequence,
// keys with attention_mask 0 masked).
//
// Ports:
//
//	in   hidden         F32 [T, D]  Grad
//	     position_ids   I32 [3, T]  MRoPE streams (from glm4v.embed)
//	     attention_mask I32 [B, S]
//	out  hidden         F32 [T, D]  Grad
//	     position_ids, attention_mask: the inputs, passed on (so decoder stages chain)
//
// With the hf aux loss (AuxLoss{Type: "hf"}) the stage also carries HF's pooled router
// statistics, the running totals over the MoE layers before and in this stage:
//
//	in   router_counts  F64 [E]     not on the stage of layer 0, which starts the totals
//	     router_probs   F64 [E]     Grad
//	out  router_counts  F64 [E]     totals including this stage's layers
//	     router_probs   F64 [E]     Grad: the head's gradient g; every MoE layer's router
//	                                logits get p ⊙ (g − Σ g·p); passed back unchanged
//
// The stage keeps a reference to the gradient BackwardInput gets until BackwardWeight.
//
// Recompute (DecoderConfig.Recompute, SetRecompute; decoder_recompute.go) keeps, from Forward
// to BackwardInput, only each layer's input hidden state (the first one is the input tensor
// itself, referenced: callers must not modify it before BackwardWeight) and the expert
// choices, and recomputes each layer's forward just before its backward, with the same
// kernels in the same order: the gradients are bit-identical to the kept-activation path.
type Decoder struct {
	cfg      *Config
	be       kernels.Backend
	from, to int
	layers   []*txLayer
	slots    rotary.Slots
	params   []*stages.Param
	saved    stages.Saved[*decState]
	arena    txArena
	aux      AuxLoss
	prec     *txPrec // GEMM precision and bf16 weight cache (text_precision.go)
	// recompute applies to later Forward calls (decoder_recompute.go).
	recompute atomic.Bool
}

type txLayer struct {
	in, post txNorm
	attn     txAttention
	mlp      *txMLP
	moe      *txMoE
}

type decState struct {
	lay      txLayout
	opts     kernels.AttentionOpts
	cos, sin *tensors.Tensor // [T, R/2]
	layers   []layerState
	dx       *tensors.Tensor   // set by BackwardInput
	bufs     []*tensors.Tensor // drawn from the arena; returned in BackwardWeight
	gen      *txGen            // bf16 weight copies held from Forward to BackwardWeight; nil: fp32
	// recompute: Forward kept only the layer inputs (decoder_recompute.go).
	recompute bool
}

// routerPorts are the hf aux loss's statistics ports (AuxLoss doc).
func routerPorts(E int) []stages.Port {
	e := fmt.Sprint(E)
	return []stages.Port{
		{Name: "router_counts", DType: tensors.F64, Shape: []string{e}},
		{Name: "router_probs", DType: tensors.F64, Shape: []string{e}, Grad: true},
	}
}

// layerState: x the layer input; h1, rstd1 input_layernorm; x1 after attention; h2, rstd2
// post_attention_layernorm; dwIn, dwPost the norms' weight gradients of this micro-batch.
type layerState struct {
	x, h1, rstd1, x1, h2, rstd2 *tensors.Tensor
	attn                        attnState
	mlp                         mlpState
	moe                         moeState
	dwIn, dwPost                *tensors.Tensor
}

// NewDecoder builds layers [c.From, c.To).
func NewDecoder(c DecoderConfig) (*Decoder, error) {
	if err := c.check(KindDecoder); err != nil {
		return nil, err
	}
	tc := &c.Params.Config.Text
	if c.From < 0 || c.To > tc.NumHiddenLayers || c.From >= c.To {
		return nil, fmt.Errorf("%s: layers [%d, %d) are not a non-empty range of [0, %d)", KindDecoder, c.From, c.To, tc.NumHiddenLayers)
	}
	aux, err := c.Aux.validate(tc.RouterAuxLossCoef)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindDecoder, err)
	}
	inv, err := rotary.InvFreq(tc.RopeTheta, tc.RotaryDim())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindDecoder, err)
	}
	slots, err := rotary.MRoPESlots(inv, tc.MRopeSection)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindDecoder, err)
	}
	if tc.UseQKNorm {
		return nil, fmt.Errorf("%s: use_qk_norm is not implemented (GLM-4.5V has it off)", KindDecoder)
	}
	prec, err := newTxPrec(KindDecoder, c.StageConfig)
	if err != nil {
		return nil, err
	}
	d := &Decoder{cfg: &c.Params.Config, be: c.Backend, from: c.From, to: c.To, slots: slots, aux: aux, prec: prec}
	d.recompute.Store(c.Recompute)
	eps := float32(tc.RMSNormEps)
	for i := c.From; i < c.To; i++ {
		pl := &c.Params.Language.Layers[i]
		L := &txLayer{}
		wrap := func(err error) error { return fmt.Errorf("%s: layer %d: %w", KindDecoder, i, err) }
		in, err := txParam(c.Backend, &pl.InputNorm.Weight, !c.Frozen)
		if err != nil {
			return nil, wrap(err)
		}
		post, err := txParam(c.Backend, &pl.PostAttnNorm.Weight, !c.Frozen)
		if err != nil {
			return nil, wrap(err)
		}
		L.in, L.post = txNorm{w: in, eps: eps}, txNorm{w: post, eps: eps}
		if L.attn, err = newTxAttention(c.StageConfig, &pl.Attn); err != nil {
			return nil, wrap(err)
		}
		d.params = append(d.params, in)
		d.params = append(d.params, L.attn.params()...)
		d.params = append(d.params, post)
		prec.add(L.attn.gemmWeights()...)
		if pl.MoE != nil {
			if L.moe, err = newTxMoE(c.StageConfig, pl.MoE, aux); err != nil {
				return nil, wrap(err)
			}
			d.params = append(d.params, L.moe.params()...)
			prec.add(L.moe.gemmWeights()...)
		} else {
			m, err := newTxMLP(c.StageConfig, pl.MLP)
			if err != nil {
				return nil, wrap(err)
			}
			L.mlp = &m
			d.params = append(d.params, m.params()...)
			prec.add(m.gemmWeights()...)
		}
		d.layers = append(d.layers, L)
	}
	return d, nil
}

func (d *Decoder) Kind() string { return KindDecoder }

func (d *Decoder) Ports() (in, out []stages.Port) {
	D := fmt.Sprint(d.cfg.Text.HiddenSize)
	ps := []stages.Port{
		{Name: "hidden", DType: tensors.F32, Shape: []string{"T", D}, Grad: true},
		{Name: "position_ids", DType: tensors.I32, Shape: []string{"3", "T"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
	}
	if !d.aux.hf() {
		return ps, ps
	}
	out = append(ps, routerPorts(d.cfg.Text.NRoutedExperts)...)
	if d.from == 0 {
		return ps, out
	}
	return out, out
}

func (d *Decoder) Params() []*stages.Param { return d.params }

// Layers returns the layer range [from, to).
func (d *Decoder) Layers() (from, to int) { return d.from, d.to }

func (d *Decoder) Forward(mb int, in stages.Tensors) (stages.Tensors, error) {
	ports, _ := d.Ports()
	dims := map[string]int{}
	if err := stages.Bind(KindDecoder, ports, in, dims); err != nil {
		return nil, err
	}
	if dims["B"]*dims["S"] != dims["T"] {
		return nil, fmt.Errorf("%s: hidden has %d rows, attention_mask is [%d, %d]: want T = B·S", KindDecoder, dims["T"], dims["B"], dims["S"])
	}
	var rs *routerStats
	if d.aux.hf() {
		E := d.cfg.Text.NRoutedExperts
		rs = &routerStats{counts: make([]float64, E), probs: make([]float64, E)}
		if d.from > 0 {
			for _, x := range []struct {
				dst  []float64
				name string
			}{{rs.counts, "router_counts"}, {rs.probs, "router_probs"}} {
				v, err := txHostF64(d.be, in[x.name])
				if err != nil {
					return nil, fmt.Errorf("%s: micro-batch %d: %s: %w", KindDecoder, mb, x.name, err)
				}
				copy(x.dst, v)
			}
		}
	}
	gen, err := d.prec.acquire()
	if err != nil {
		return nil, fmt.Errorf("micro-batch %d: %w", mb, err)
	}
	st, y, err := d.forward(in, rs, gen)
	if err != nil {
		d.prec.release(gen)
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindDecoder, mb, err)
	}
	out := stages.Tensors{"hidden": y, "position_ids": in["position_ids"], "attention_mask": in["attention_mask"]}
	if rs != nil {
		o := &txOps{be: d.be}
		out["router_counts"], out["router_probs"] = o.upF64(rs.counts, len(rs.counts)), o.upF64(rs.probs, len(rs.probs))
		if o.err != nil {
			d.prec.release(gen)
			return nil, fmt.Errorf("%s: micro-batch %d: %w", KindDecoder, mb, o.err)
		}
	}
	if err := d.saved.Put(KindDecoder, mb, st); err != nil {
		d.prec.release(gen)
		return nil, err
	}
	return out, nil
}

func (d *Decoder) forward(in stages.Tensors, rs *routerStats, gen *txGen) (*decState, *tensors.Tensor, error) {
	be := d.be
	mask, err := txHostI32(be, in["attention_mask"])
	if err != nil {
		return nil, nil, err
	}
	B, S := in["attention_mask"].Dim(0), in["attention_mask"].Dim(1)
	lay, err := newTxLayout(mask, B, S)
	if err != nil {
		return nil, nil, err
	}
	pos, err := txHostI32(be, in["position_ids"])
	if err != nil {
		return nil, nil, err
	}
	T, D := B*S, d.cfg.Text.HiddenSize
	n := len(d.slots.Freq)
	cos, sin := make([]float32, T*n), make([]float32, T*n)
	if err := rotary.Angles(cos, sin, pos, 3, T, d.slots); err != nil {
		return nil, nil, err
	}
	st := &decState{lay: lay, layers: make([]layerState, len(d.layers)), gen: gen,
		opts: kernels.AttentionOpts{Causal: true, CuSeqlens: lay.cu, KeyPad: lay.keyPad}}
	o := &txOps{be: be, ar: &d.arena, kept: &st.bufs, gen: gen}
	st.cos, st.sin = o.upF32(cos, T, n), o.upF32(sin, T, n)
	st.recompute = d.recompute.Load()
	x := in["hidden"]
	for i := range d.layers {
		var m *tensors.Tensor
		if i == len(d.layers)-1 {
			m = o.fresh(T, D) // the stage's output
		} else {
			m = o.buf(T, D) // the next layer's input
		}
		lo := o
		var tmp []*tensors.Tensor
		if st.recompute {
			lo = &txOps{be: be, ar: &d.arena, kept: &tmp, gen: gen}
		}
		d.layerFwd(lo, st, i, m, x, rs)
		if err := cmp.Or(o.err, lo.err); err != nil {
			return nil, nil, fmt.Errorf("layer %d: %w", d.from+i, err)
		}
		if st.recompute {
			d.dropActivations(st, i, tmp)
		}
		x = m
	}
	return st, x, nil
}

// layerFwd runs layer i of the stage on x [T, D] into m [T, D], filling st.layers[i]; rs
// accumulates the hf aux loss's router statistics (nil without it).
func (d *Decoder) layerFwd(o *txOps, st *decState, i int, m, x *tensors.Tensor, rs *routerStats) {
	be, L, ls := o.be, d.layers[i], &st.layers[i]
	T, D := x.Dim(0), x.Dim(1)
	ls.x = x
	ls.h1, ls.rstd1 = o.buf(T, D), o.buf(T)
	L.in.fwd(o, ls.h1, ls.rstd1, x)
	a := o.buf(T, D)
	L.attn.fwd(o, &ls.attn, a, ls.h1, st.cos, st.sin, st.opts)
	o.do(func() error { return be.Add(a, x, a) })
	ls.x1 = a
	ls.h2, ls.rstd2 = o.buf(T, D), o.buf(T)
	L.post.fwd(o, ls.h2, ls.rstd2, ls.x1)
	if L.moe != nil {
		L.moe.fwd(o, &ls.moe, m, ls.h2, &st.lay, rs)
	} else {
		L.mlp.fwd(o, &ls.mlp, m, ls.h2)
	}
	o.do(func() error { return be.Add(m, ls.x1, m) })
}

func (d *Decoder) BackwardInput(mb int, dOut stages.Tensors) (stages.Tensors, error) {
	st, err := d.saved.Get(KindDecoder, mb)
	if err != nil {
		return nil, err
	}
	dy := dOut["hidden"]
	if dy == nil {
		return nil, fmt.Errorf("%s: micro-batch %d: missing gradient of \"hidden\"", KindDecoder, mb)
	}
	if !tensors.SameShape(dy, st.layers[0].x) || dy.DType() != tensors.F32 {
		return nil, fmt.Errorf("%s: micro-batch %d: gradient of \"hidden\" is %v, want F32%v", KindDecoder, mb, dy, st.layers[0].x.Shape())
	}
	var auxG []float64
	gProbs := dOut["router_probs"]
	if d.aux.hf() {
		E := d.cfg.Text.NRoutedExperts
		if gProbs == nil || gProbs.DType() != tensors.F64 || gProbs.Rank() != 1 || gProbs.Dim(0) != E {
			return nil, fmt.Errorf("%s: micro-batch %d: gradient of \"router_probs\" is %v, want F64[%d] (hf aux loss)", KindDecoder, mb, gProbs, E)
		}
		if auxG, err = txHostF64(d.be, gProbs); err != nil {
			return nil, fmt.Errorf("%s: micro-batch %d: %w", KindDecoder, mb, err)
		}
	}
	be := d.be
	o := &txOps{be: be, ar: &d.arena, kept: &st.bufs, gen: st.gen}
	T, D := dy.Dim(0), dy.Dim(1)
	for i := len(d.layers) - 1; i >= 0; i-- {
		L, ls := d.layers[i], &st.layers[i]
		var lk []*tensors.Tensor // with recompute: layer i's buffers, sorted out below
		o := o
		if st.recompute {
			o = &txOps{be: be, ar: &d.arena, kept: &lk, gen: st.gen}
			if err := d.refwd(o, st, i); err != nil {
				return nil, fmt.Errorf("%s: micro-batch %d: layer %d: recompute: %w", KindDecoder, mb, d.from+i, err)
			}
		}
		dh2 := o.buf(T, D)
		if L.moe != nil {
			L.moe.bwdInput(o, &ls.moe, dh2, dy, &st.lay, auxG)
		} else {
			L.mlp.bwdInput(o, &ls.mlp, dh2, dy, false)
		}
		dx1 := o.buf(T, D)
		ls.dwPost = o.f32(D)
		L.post.bwdInput(o, dx1, ls.dwPost, dh2, ls.x1, ls.rstd2)
		o.do(func() error { return be.Add(dx1, dx1, dy) })
		dh1 := dh2 // free after the post-norm backward
		L.attn.bwdInput(o, &ls.attn, dh1, dx1, st.cos, st.sin, st.opts)
		var dx *tensors.Tensor
		if i == 0 {
			dx = o.fresh(T, D) // the stage's input gradient
		} else {
			dx = o.buf(T, D)
		}
		ls.dwIn = o.f32(D)
		L.in.bwdInput(o, dx, ls.dwIn, dh1, ls.x, ls.rstd1)
		o.do(func() error { return be.Add(dx, dx, dx1) })
		dy = dx
		if o.err != nil {
			return nil, fmt.Errorf("%s: micro-batch %d: layer %d: %w", KindDecoder, mb, d.from+i, o.err)
		}
		if st.recompute {
			d.keepForWeight(st, i, dx, lk)
		}
	}
	st.dx = dy
	if d.aux.hf() && d.from > 0 {
		return stages.Tensors{"hidden": dy, "router_probs": gProbs}, nil
	}
	return stages.Tensors{"hidden": dy}, nil
}

func (d *Decoder) BackwardWeight(mb int) error {
	st, err := d.saved.Take(KindDecoder, mb)
	if err != nil {
		return err
	}
	if st.dx == nil {
		return fmt.Errorf("%s: BackwardWeight of micro-batch %d before its BackwardInput", KindDecoder, mb)
	}
	defer d.arena.put(st.bufs)
	defer d.prec.release(st.gen)
	o := &txOps{be: d.be}
	for i, L := range d.layers {
		ls := &st.layers[i]
		L.in.bwdWeight(o, ls.dwIn)
		L.attn.bwdWeight(o, &ls.attn)
		L.post.bwdWeight(o, ls.dwPost)
		if L.moe != nil {
			L.moe.bwdWeight(o, &ls.moe)
		} else {
			L.mlp.bwdWeight(o, &ls.mlp)
		}
		if o.err != nil {
			return fmt.Errorf("%s: micro-batch %d: layer %d: %w", KindDecoder, mb, d.from+i, o.err)
		}
	}
	return nil
}

// AuxLoss returns the seq aux loss of micro-batch mb (summed over this stage's MoE layers,
// coefficient included) while mb is live (between Forward and BackwardWeight); 0 when off and
// with the hf loss (the head computes that one: Head.AuxLoss).
func (d *Decoder) AuxLoss(mb int) (float64, error) {
	st, err := d.saved.Get(KindDecoder, mb)
	if err != nil {
		return 0, err
	}
	s := 0.0
	for i := range st.layers {
		s += st.layers[i].moe.auxLoss
	}
	return s, nil
}

// RouterChoices returns layer's expert choices [T, k] (I32) for micro-batch mb while it is
// live: best (by biased score) first.
func (d *Decoder) RouterChoices(mb, layer int) (*tensors.Tensor, error) {
	st, err := d.saved.Get(KindDecoder, mb)
	if err != nil {
		return nil, err
	}
	if layer < d.from || layer >= d.to || d.layers[layer-d.from].moe == nil {
		return nil, fmt.Errorf("%s: layer %d is not an MoE layer of this stage [%d, %d)", KindDecoder, layer, d.from, d.to)
	}
	return st.layers[layer-d.from].moe.topIdx, nil
}
