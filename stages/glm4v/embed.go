package glm4v

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// KindEmbed is the token-embedding stage: lookup, image splicing, MRoPE positions.
const KindEmbed = "glm4v.embed"

// StageConfig is what every text stage is built from.
type StageConfig struct {
	Params  *Params         // parameter tree with this stage's slots loaded (Load with its Selector)
	Backend kernels.Backend // where the stage computes; its parameters are uploaded there
	Frozen  bool            // no parameter gradients (Param.Trainable false, Grad nil)
	// Precision is the GEMM precision, as VisionStageConfig.Precision: "fp32" (or "", the
	// default) or "bf16", mixed precision: every Linear GEMM (q/k/v/o, MLP, shared and
	// routed experts, lm_head; forward, input and weight gradient) takes bf16 operands with
	// fp32 accumulation and outputs; weights, gradients, norms, softmax, router and loss stay
	// fp32 (text_precision.go). The embed stage has no GEMM.
	Precision string
}

// EmbedConfig configures glm4v.embed (parameters: SelectEmbed).
type EmbedConfig struct {
	StageConfig
}

// DecoderConfig configures glm4v.decoder over layers [From, To) (parameters:
// SelectLayers(From, To)).
type DecoderConfig struct {
	StageConfig
	From, To int
	Aux      AuxLoss // optional MoE load-balancing loss; zero value: none
	// Recompute keeps only each layer's input from Forward to BackwardInput and recomputes
	// the activations there, layer by layer (less memory, one more forward; bit-identical
	// gradients). Also settable with Decoder.SetRecompute (stages.Recomputer).
	Recompute bool
}

// HeadConfig configures glm4v.head (parameters: SelectHead, plus SelectEmbed when
// tie_word_embeddings).
type HeadConfig struct {
	StageConfig
	// LossTokens is the number of loss tokens (labels ≠ −100 after the shift) in the whole
	// global batch; the loss of a micro-batch is Σ CE / LossTokens, so m micro-batches
	// accumulate the gradients of one big batch. 0: this micro-batch's own count (HF's
	// per-batch mean). SetLossTokens changes it between steps.
	LossTokens int
	// Logits adds the logits [T, V] output port (the forward tool; training does not need it).
	Logits bool
	// Aux: with Type "hf" the head computes HF's pooled MoE aux loss (AuxLoss); other types
	// are the decoder stages' business and ignored here.
	Aux AuxLoss
	// Recompute keeps only the stage inputs from Forward and recomputes the norm, lm_head and
	// cross-entropy statistics in BackwardInput (Head.SetRecompute; stages.Recomputer).
	Recompute bool
}

func init() {
	stages.Register(KindEmbed, func(cfg any) (stages.Stage, error) {
		c, ok := cfg.(EmbedConfig)
		if !ok {
			return nil, fmt.Errorf("%s: config is %T, want glm4v.EmbedConfig", KindEmbed, cfg)
		}
		st, err := NewEmbed(c)
		if err != nil {
			return nil, err
		}
		return st, nil
	})
	stages.Register(KindDecoder, func(cfg any) (stages.Stage, error) {
		c, ok := cfg.(DecoderConfig)
		if !ok {
			return nil, fmt.Errorf("%s: config is %T, want glm4v.DecoderConfig", KindDecoder, cfg)
		}
		st, err := NewDecoder(c)
		if err != nil {
			return nil, err
		}
		return st, nil
	})
	stages.Register(KindHead, func(cfg any) (stages.Stage, error) {
		c, ok := cfg.(HeadConfig)
		if !ok {
			return nil, fmt.Errorf("%s: config is %T, want glm4v.HeadConfig", KindHead, cfg)
		}
		st, err := NewHead(c)
		if err != nil {
			return nil, err
		}
		return st, nil
	})
}

func (c *StageConfig) check(kind string) error {
	if c.Params == nil || c.Backend == nil {
		return fmt.Errorf("%s: config needs Params and Backend", kind)
	}
	if _, err := parsePrecision(c.Precision); err != nil {
		return fmt.Errorf("%s: precision %q: want %q or %q", kind, c.Precision, PrecisionFP32, PrecisionBF16)
	}
	return nil
}

// Embed is glm4v.embed: h = embed_tokens(input_ids) with the image features written over the
// <|image|> rows (batch order), the 3-stream MRoPE position ids (RopeIndex) and the packed
// layout the decoder needs (attention_mask passed through).
//
// Ports (T = B·S, token (b, s) at row b·S + s):
//
//	in   input_ids      I32 [B, S]
//	     attention_mask I32 [B, S]   1 = token, 0 = padding; packed rows: segment ids 1, 2, …
//	     image_embeds   F32 [N, D]   Grad; merger output, one row per <|image|> token, image order
//	     image_grid_thw I32 [I, 3]   (t, h, w) per image
//	out  hidden         F32 [T, D]   Grad
//	     position_ids   I32 [3, T]   temporal, height, width streams
//	     attention_mask I32 [B, S]   the input, passed on
//
// image_embeds and image_grid_thw may be left out when the batch has no <|image|> token.
// embed_tokens' pad_token_id row gets no gradient (nn.Embedding padding_idx), nor does the
// <|image|> row (its lookups are overwritten).
type Embed struct {
	cfg   *Config
	be    kernels.Backend
	table *stages.Param
	saved stages.Saved[*embedState]
}

type embedState struct {
	dh      *tensors.Tensor // [T, D] gradient of hidden (set by BackwardInput)
	imgIdx  *tensors.Tensor // [N] I32 rows of <|image|> tokens; nil without images
	txtIdx  *tensors.Tensor // [T−N] I32 other rows; nil when every row is text
	txtIDs  *tensors.Tensor // [T−N] I32 their token ids
	nImages int
}

// NewEmbed builds the stage.
func NewEmbed(c EmbedConfig) (*Embed, error) {
	if err := c.check(KindEmbed); err != nil {
		return nil, err
	}
	tp, err := txParam(c.Backend, &c.Params.Language.EmbedTokens.Weight, !c.Frozen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindEmbed, err)
	}
	return &Embed{cfg: &c.Params.Config, be: c.Backend, table: tp}, nil
}

func (e *Embed) Kind() string { return KindEmbed }

func (e *Embed) Ports() (in, out []stages.Port) {
	D := fmt.Sprint(e.cfg.Text.HiddenSize)
	in = []stages.Port{
		{Name: "input_ids", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "image_embeds", DType: tensors.F32, Shape: []string{"N", D}, Grad: true},
		{Name: "image_grid_thw", DType: tensors.I32, Shape: []string{"I", "3"}},
	}
	out = []stages.Port{
		{Name: "hidden", DType: tensors.F32, Shape: []string{"T", D}, Grad: true},
		{Name: "position_ids", DType: tensors.I32, Shape: []string{"3", "T"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
	}
	return in, out
}

func (e *Embed) Params() []*stages.Param { return []*stages.Param{e.table} }

func (e *Embed) Forward(mb int, in stages.Tensors) (stages.Tensors, error) {
	ports, _ := e.Ports()
	if in["image_embeds"] == nil && in["image_grid_thw"] == nil { // text-only batch
		ports = ports[:2]
		in = stages.Tensors{"input_ids": in["input_ids"], "attention_mask": in["attention_mask"]}
	}
	if err := stages.Bind(KindEmbed, ports, in, map[string]int{}); err != nil {
		return nil, err
	}
	out, st, err := e.forward(in)
	if err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindEmbed, mb, err)
	}
	if err := e.saved.Put(KindEmbed, mb, st); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Embed) forward(in stages.Tensors) (stages.Tensors, *embedState, error) {
	be, tc := e.be, &e.cfg.Text
	idsT, maskT := in["input_ids"], in["attention_mask"]
	B, S := idsT.Dim(0), idsT.Dim(1)
	T, D := B*S, tc.HiddenSize
	ids, err := txHostI32(be, idsT)
	if err != nil {
		return nil, nil, err
	}
	mask, err := txHostI32(be, maskT)
	if err != nil {
		return nil, nil, err
	}
	if _, err := newTxLayout(mask, B, S); err != nil {
		return nil, nil, err
	}
	var img, txt, txtIDs []int32
	for i, id := range ids {
		if id < 0 || int(id) >= tc.VocabSize {
			return nil, nil, fmt.Errorf("input_ids[%d][%d] = %d is outside the vocabulary [0, %d)", i/S, i%S, id, tc.VocabSize)
		}
		if int(id) == e.cfg.ImageTokenID {
			img = append(img, int32(i))
		} else {
			txt = append(txt, int32(i))
			txtIDs = append(txtIDs, id)
		}
	}
	var grids [][3]int32
	if g := in["image_grid_thw"]; g != nil {
		gv, err := txHostI32(be, g)
		if err != nil {
			return nil, nil, err
		}
		for i := 0; i+2 < len(gv); i += 3 {
			grids = append(grids, [3]int32{gv[i], gv[i+1], gv[i+2]})
		}
	}
	nEmb := 0
	if x := in["image_embeds"]; x != nil {
		nEmb = x.Dim(0)
	}
	if nEmb != len(img) {
		return nil, nil, fmt.Errorf("image features and image tokens do not match: image_embeds has %d rows, input_ids has %d <|image|> (id %d) tokens", nEmb, len(img), e.cfg.ImageTokenID)
	}
	pos, _, err := RopeIndex(e.cfg, ids, mask, B, S, grids)
	if err != nil {
		return nil, nil, err
	}
	o := &txOps{be: be}
	h := o.f32(T, D)
	st := &embedState{nImages: len(img)}
	flatIDs := o.view(idsT, T)
	o.do(func() error { return be.Embedding(h, e.table.Value, flatIDs) })
	if len(img) > 0 {
		st.imgIdx = o.upI32(img, len(img))
		o.do(func() error { return be.ScatterRows(h, in["image_embeds"], st.imgIdx) })
		st.txtIdx = o.upI32(txt, len(txt))
		st.txtIDs = o.upI32(txtIDs, len(txtIDs))
	} else {
		st.txtIDs = flatIDs
	}
	posT := o.upI32(pos, 3, T)
	if o.err != nil {
		return nil, nil, o.err
	}
	return stages.Tensors{"hidden": h, "position_ids": posT, "attention_mask": maskT}, st, nil
}

func (e *Embed) BackwardInput(mb int, dOut stages.Tensors) (stages.Tensors, error) {
	st, err := e.saved.Get(KindEmbed, mb)
	if err != nil {
		return nil, err
	}
	dh := dOut["hidden"]
	if dh == nil {
		return nil, fmt.Errorf("%s: micro-batch %d: missing gradient of \"hidden\"", KindEmbed, mb)
	}
	st.dh = dh
	if st.imgIdx == nil {
		return stages.Tensors{}, nil
	}
	o := &txOps{be: e.be}
	dImg := o.f32(st.nImages, dh.Dim(1))
	o.do(func() error { return e.be.GatherRows(dImg, dh, st.imgIdx) })
	if o.err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", KindEmbed, mb, o.err)
	}
	return stages.Tensors{"image_embeds": dImg}, nil
}

func (e *Embed) BackwardWeight(mb int) error {
	st, err := e.saved.Take(KindEmbed, mb)
	if err != nil {
		return err
	}
	if !e.table.Trainable {
		return nil
	}
	if st.dh == nil {
		return fmt.Errorf("%s: BackwardWeight of micro-batch %d before its BackwardInput", KindEmbed, mb)
	}
	o := &txOps{be: e.be}
	d := st.dh
	if st.txtIdx != nil {
		d = o.f32(st.txtIdx.Dim(0), st.dh.Dim(1))
		o.do(func() error { return e.be.GatherRows(d, st.dh, st.txtIdx) })
	}
	o.do(func() error {
		return e.be.EmbeddingBackward(e.table.Grad, d, st.txtIDs, e.cfg.Text.PadTokenID)
	})
	if o.err != nil {
		return fmt.Errorf("%s: micro-batch %d: %w", KindEmbed, mb, o.err)
	}
	return nil
}
