package glm4v

import (
	"fmt"
	"slices"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// Model is the whole GLM-4.5V as a chain of stages, run on one device for one micro-batch at
// a time: vision → embed → decoder(s) → head. It is what the forward tool and the golden tests
// use; training runs the same stages under a pipeline schedule.
type Model struct {
	Params   *Params
	Vision   stages.Stage // glm4v.vision (vision.go); nil with ModelOptions.TextOnly
	Embed    *Embed
	Decoders []*Decoder
	Head     *Head
	be       kernels.Backend
}

// ModelOptions configures NewModel.
type ModelOptions struct {
	// Splits are the decoder stage boundaries: [1] gives stages [0, 1) and [1, L). nil: one
	// decoder stage for all layers. Any split gives the same numbers.
	Splits []int
	Aux    AuxLoss
	Frozen bool // no parameter gradients
	// LossTokens is HeadConfig.LossTokens (0: the batch's own count).
	LossTokens int
	// NoLogits leaves Outputs.Logits nil: the head keeps no logits output and computes its
	// gradient in place (training; saves a [T, V] buffer and its copy to the host).
	NoLogits bool
	// TextOnly skips the vision stage: batches with images then need Inputs.ImageEmbeds.
	TextOnly bool
	// Precision is every stage's GEMM precision: "fp32" (or "", the default) or "bf16" mixed
	// precision (StageConfig.Precision, VisionStageConfig.Precision).
	Precision string
	// Recompute turns on activation recomputation in the vision, decoder and head stages
	// (stages.Recomputer): less memory, one more forward, the same bits.
	Recompute bool
}

// NewModel builds the stages over a loaded parameter tree.
func NewModel(p *Params, be kernels.Backend, o ModelOptions) (*Model, error) {
	sc := StageConfig{Params: p, Backend: be, Frozen: o.Frozen, Precision: o.Precision}
	m := &Model{Params: p, be: be}
	var err error
	if !o.TextOnly {
		vc := VisionStageConfig{Backend: be, Params: p, Frozen: o.Frozen, Precision: o.Precision, Recompute: o.Recompute}
		if m.Vision, err = stages.Build(VisionKind, vc); err != nil {
			return nil, err
		}
	}
	if m.Embed, err = NewEmbed(EmbedConfig{sc}); err != nil {
		return nil, err
	}
	L := p.Config.Text.NumHiddenLayers
	bounds := append(append([]int{0}, o.Splits...), L)
	for i := 0; i+1 < len(bounds); i++ {
		d, err := NewDecoder(DecoderConfig{StageConfig: sc, From: bounds[i], To: bounds[i+1], Aux: o.Aux, Recompute: o.Recompute})
		if err != nil {
			return nil, err
		}
		m.Decoders = append(m.Decoders, d)
	}
	if m.Head, err = NewHead(HeadConfig{StageConfig: sc, LossTokens: o.LossTokens, Logits: !o.NoLogits, Aux: o.Aux, Recompute: o.Recompute}); err != nil {
		return nil, err
	}
	return m, nil
}

// Stages lists the model's stages in execution order.
func (m *Model) Stages() []stages.Stage {
	var ss []stages.Stage
	if m.Vision != nil {
		ss = append(ss, m.Vision)
	}
	ss = append(ss, m.Embed)
	for _, d := range m.Decoders {
		ss = append(ss, d)
	}
	return append(ss, m.Head)
}

// Inputs are a batch in Hugging Face's names and conventions.
type Inputs struct {
	InputIDs      *tensors.Tensor // [B, S] I64 or I32
	AttentionMask *tensors.Tensor // [B, S] I64 or I32, 1 = token, 0 = padding; nil: all ones.
	// Packed rows carry each sample's segment id 1, 2, … instead of 1: attention and MRoPE
	// positions then stay inside each sample (labels must be −100 at each sample's first token).
	Labels       *tensors.Tensor // [B, S] I64 or I32, unshifted, −100 = no loss; nil: no loss
	PixelValues  *tensors.Tensor // [P, C·Tp·p·p] F32; nil without images
	ImageGridTHW *tensors.Tensor // [I, 3] I64 or I32
	// ImageEmbeds [N, D] F32, if set, replaces the vision tower's output (tests; text-side
	// runs without a vision stage). Its gradient is Outputs.ImageEmbedsGrad.
	ImageEmbeds *tensors.Tensor
}

// Outputs of Model.Run.
type Outputs struct {
	Loss            float32                    // Σ CE / loss tokens (no aux loss)
	AuxLoss         float64                    // MoE aux loss, coefficient included (0 when off)
	Logits          *tensors.Tensor            // [B, S, V] F32, host; nil with NoLogits
	PositionIDs     *tensors.Tensor            // [3, B, S] I32, host (get_rope_index)
	ImageEmbeds     *tensors.Tensor            // [N, D] F32, host: the spliced image features
	ImageEmbedsGrad *tensors.Tensor            // [N, D] F32, host, with grads
	Grads           map[string]*tensors.Tensor // by hub name (per-expert), F32, host; with grads
	// Router holds each MoE layer's chosen experts [T, k] I32 (host, best first).
	Router map[int]*tensors.Tensor
}

// ids converts an I64/I32 [B, S] (or [I, 3]) input to an I32 tensor on the backend.
func (m *Model) ids(name string, t *tensors.Tensor, rank int) (*tensors.Tensor, error) {
	if t.Rank() != rank {
		return nil, fmt.Errorf("glm4v: input %s is %v, want rank %d", name, t, rank)
	}
	h := t
	if t.Device() != tensors.CPU {
		var err error
		if h, err = m.be.Download(t); err != nil {
			return nil, err
		}
	}
	out := tensors.New(tensors.I32, t.Shape()...)
	dst := out.I32()
	switch h.DType() {
	case tensors.I32:
		copy(dst, h.I32())
	case tensors.I64:
		for i, v := range h.I64() {
			if v < -1<<31 || v >= 1<<31 {
				return nil, fmt.Errorf("glm4v: input %s[%d] = %d does not fit int32", name, i, v)
			}
			dst[i] = int32(v)
		}
	default:
		return nil, fmt.Errorf("glm4v: input %s is %v, want I64 or I32", name, t)
	}
	return m.be.Upload(out)
}

// ZeroGrads zeroes every gradient accumulator.
func (m *Model) ZeroGrads() error {
	for _, s := range m.Stages() {
		for _, p := range s.Params() {
			if p.Grad != nil {
				if err := m.be.Zero(p.Grad); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Run runs one batch forward and, with grads, backward, returning the loss, logits and (with
// grads) every trainable parameter's gradient by hub name. Gradient accumulators are zeroed
// first, so the gradients are this batch's alone.
func (m *Model) Run(in Inputs, grads bool) (*Outputs, error) {
	if grads {
		if err := m.ZeroGrads(); err != nil {
			return nil, err
		}
	}
	out, err := m.Step(0, in, grads)
	if err != nil || !grads {
		return out, err
	}
	if out.Grads, err = m.Grads(); err != nil {
		return nil, err
	}
	return out, nil
}

// Step runs micro-batch mb forward and (with grads) backward through every stage, adding its
// parameter gradients to the accumulators (gradient accumulation: set ModelOptions.LossTokens
// or Head.SetLossTokens to the global batch's loss-token count). Outputs.Grads stays nil.
// Without grads only the forward runs (the vision stage, unless frozen, runs its backward on a
// zero gradient to release its state).
func (m *Model) Step(mb int, in Inputs, grads bool) (out *Outputs, err error) {
	var visOut *tensors.Tensor // the vision stage's output while its backward is due
	defer func() {
		if err != nil {
			m.release(mb, visOut)
		}
	}()
	if in.InputIDs == nil {
		return nil, fmt.Errorf("glm4v: input input_ids is missing")
	}
	ids, err := m.ids("input_ids", in.InputIDs, 2)
	if err != nil {
		return nil, err
	}
	B, S := ids.Dim(0), ids.Dim(1)
	V := m.Params.Config.Text.VocabSize
	shaped := func(name string, t *tensors.Tensor) (*tensors.Tensor, error) {
		x, err := m.ids(name, t, 2)
		if err == nil && (x.Dim(0) != B || x.Dim(1) != S) {
			err = fmt.Errorf("glm4v: input %s is %v, want [%d %d] like input_ids", name, t, B, S)
		}
		return x, err
	}
	var mask, labels *tensors.Tensor
	if in.AttentionMask != nil {
		if mask, err = shaped("attention_mask", in.AttentionMask); err != nil {
			return nil, err
		}
	} else {
		ones := tensors.New(tensors.I32, B, S)
		for i := range ones.I32() {
			ones.I32()[i] = 1
		}
		if mask, err = m.be.Upload(ones); err != nil {
			return nil, err
		}
	}
	if in.Labels != nil {
		if labels, err = shaped("labels", in.Labels); err != nil {
			return nil, err
		}
	} else {
		none := tensors.New(tensors.I32, B, S)
		for i := range none.I32() {
			none.I32()[i] = IgnoreIndex
		}
		if labels, err = m.be.Upload(none); err != nil {
			return nil, err
		}
	}
	out = &Outputs{}
	embIn := stages.Tensors{"input_ids": ids, "attention_mask": mask}
	useVision := false
	if in.ImageGridTHW != nil {
		grid, err := m.ids("image_grid_thw", in.ImageGridTHW, 2)
		if err != nil {
			return nil, err
		}
		if grid.Dim(1) != 3 {
			return nil, fmt.Errorf("glm4v: input image_grid_thw is %v, want [images, 3]", in.ImageGridTHW)
		}
		embIn["image_grid_thw"] = grid
		switch {
		case in.ImageEmbeds != nil:
			embIn["image_embeds"] = in.ImageEmbeds
		case m.Vision == nil:
			return nil, fmt.Errorf("glm4v: the batch has images but the model was built TextOnly and no image_embeds were given")
		case in.PixelValues == nil:
			return nil, fmt.Errorf("glm4v: input image_grid_thw is given but pixel_values is missing")
		default:
			vo, err := m.Vision.Forward(mb, stages.Tensors{"pixel_values": in.PixelValues, "image_grid_thw": grid})
			if err != nil {
				return nil, err
			}
			embIn["image_embeds"] = vo["image_embeds"]
			visOut = vo["image_embeds"]
			useVision = true
		}
	} else if in.PixelValues != nil || in.ImageEmbeds != nil {
		return nil, fmt.Errorf("glm4v: pixel_values or image_embeds given without image_grid_thw")
	}
	if x := embIn["image_embeds"]; x != nil {
		if out.ImageEmbeds, err = m.be.Download(x); err != nil {
			return nil, err
		}
	}
	// Forward.
	out.Router = map[int]*tensors.Tensor{}
	act, err := m.Embed.Forward(mb, embIn)
	if err != nil {
		return nil, err
	}
	if pos, err := m.be.Download(act["position_ids"]); err == nil {
		out.PositionIDs, _ = pos.Reshape(3, B, S)
	}
	for _, d := range m.Decoders {
		if act, err = d.Forward(mb, act); err != nil {
			return nil, err
		}
		a, err := d.AuxLoss(mb)
		if err != nil {
			return nil, err
		}
		out.AuxLoss += a
		for l := d.from; l < d.to; l++ {
			if c, err := d.RouterChoices(mb, l); err == nil {
				if out.Router[l], err = m.be.Download(c); err != nil {
					return nil, err
				}
			}
		}
	}
	hin := stages.Tensors{"hidden": act["hidden"], "labels": labels}
	for _, n := range []string{"router_counts", "router_probs"} {
		if x := act[n]; x != nil {
			hin[n] = x
		}
	}
	ho, err := m.Head.Forward(mb, hin)
	if err != nil {
		return nil, err
	}
	if ho["aux_loss"] != nil {
		a, err := m.Head.AuxLoss(mb) // the float64 value behind the F32 port
		if err != nil {
			return nil, err
		}
		out.AuxLoss += a
	}
	lossT, err := m.be.Download(ho["loss"])
	if err != nil {
		return nil, err
	}
	out.Loss = lossT.F32()[0]
	if lt := ho["logits"]; lt != nil {
		lg, err := m.be.Download(lt)
		if err != nil {
			return nil, err
		}
		if out.Logits, err = lg.Reshape(B, S, V); err != nil {
			return nil, err
		}
	}
	if !grads {
		m.release(mb, visOut)
		return out, nil
	}
	dOut := stages.Tensors{}
	g, err := m.Head.BackwardInput(mb, dOut)
	if err != nil {
		return nil, err
	}
	for i := len(m.Decoders) - 1; i >= 0; i-- {
		if g, err = m.Decoders[i].BackwardInput(mb, g); err != nil {
			return nil, err
		}
	}
	gi, err := m.Embed.BackwardInput(mb, g)
	if err != nil {
		return nil, err
	}
	if useVision {
		if _, err := m.Vision.BackwardInput(mb, stages.Tensors{"image_embeds": gi["image_embeds"]}); err != nil {
			return nil, err
		}
	}
	if x := gi["image_embeds"]; x != nil && grads {
		if out.ImageEmbedsGrad, err = m.be.Download(x); err != nil {
			return nil, err
		}
	}
	visOut = nil // its backward ran
	for _, s := range m.Stages() {
		if s == m.Vision && !useVision {
			continue
		}
		if err := s.BackwardWeight(mb); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// release drops what the stages kept for mb (after an error, or a forward-only step), so mb
// can run again. The vision stage has no such call: it runs its backward on a zero gradient.
func (m *Model) release(mb int, visOut *tensors.Tensor) {
	if visOut != nil {
		if z, err := m.be.Alloc(tensors.F32, visOut.Shape()...); err == nil {
			if _, err = m.Vision.BackwardInput(mb, stages.Tensors{"image_embeds": z}); err == nil {
				_ = m.Vision.BackwardWeight(mb)
			}
		}
	}
	_, _ = m.Embed.saved.Take(KindEmbed, mb)
	for _, d := range m.Decoders {
		if st, err := d.saved.Take(KindDecoder, mb); err == nil {
			d.arena.put(st.bufs)
			d.prec.release(st.gen)
		}
	}
	if st, err := m.Head.saved.Take(KindHead, mb); err == nil {
		m.Head.arena.put(st.bufs)
		m.Head.prec.release(st.gen)
	}
}

// Grads returns the accumulated gradient of every trainable parameter by hub name (fused
// experts split per expert; a tied weight's gradients summed), as host F32 tensors of the
// hub shapes.
func (m *Model) Grads() (map[string]*tensors.Tensor, error) {
	out := map[string]*tensors.Tensor{}
	for _, s := range m.Stages() {
		for _, p := range s.Params() {
			if !p.Trainable || p.Grad == nil {
				continue
			}
			g, err := m.be.Download(p.Grad)
			if err != nil {
				return nil, err
			}
			slot, ok := m.Params.Param(p.Name)
			if !ok {
				return nil, fmt.Errorf("glm4v: stage %s has parameter %s, which the tree lacks", s.Kind(), p.Name)
			}
			names := slot.HubNames()
			blk := g.Numel() / len(names)
			flat, err := g.Reshape(g.Numel())
			if err != nil {
				return nil, err
			}
			for i, n := range names {
				part, err := flat.Slice(0, i*blk, (i+1)*blk)
				if err != nil {
					return nil, err
				}
				shape := slot.Shape
				if slot.Fused() {
					shape = []int{slot.Shape[1] / (len(names) / slot.Shape[0]), slot.Shape[2]}
				}
				if part, err = part.Reshape(shape...); err != nil {
					return nil, err
				}
				if prev, dup := out[n]; dup { // tied weights
					sum := prev.Clone()
					for j, v := range part.F32() {
						sum.F32()[j] += v
					}
					part = sum
				}
				out[n] = part
			}
		}
	}
	return out, nil
}

// GradNames lists Grads' keys sorted.
func GradNames(g map[string]*tensors.Tensor) []string {
	names := make([]string, 0, len(g))
	for n := range g {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
