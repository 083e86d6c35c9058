package glm4v

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/glmflow/glmflow/tensors"
)

// Param is one parameter slot: its name, expected shape and checkpoint dtype, how HF
// initialises it, and (once loaded or initialised) its values.
type Param struct {
	// Name is the HF name (model.language_model.layers.3.self_attn.q_proj.weight). For the fused
	// routed-expert tensors it is the transformers-v5 name (…mlp.experts.gate_up_proj); HubNames
	// lists the per-expert hub tensors it holds.
	Name  string
	Shape []int
	DType tensors.DType // dtype in the checkpoint (the config's; e_score_correction_bias: F32)
	Init  Init
	// T holds the values: F32, Shape, CPU. nil until Load, InitParams or Alloc.
	T *tensors.Tensor

	experts []string // fused experts only: per-expert hub suffixes, in row-block order
}

// InitKind is how InitParams fills a parameter (HF PreTrainedModel._init_weights semantics).
type InitKind uint8

const (
	InitNormal     InitKind = iota + 1 // N(0, Std²): Linear, Conv, Embedding weights, router, experts
	InitZeros                          // biases
	InitOnes                           // RMSNorm / LayerNorm weights
	InitRouterBias                     // e_score_correction_bias: zeros (HF), or N(0, InitOptions.SelectionBiasStd²)
)

// Init says how InitParams fills a Param.
type Init struct {
	Kind    InitKind
	Std     float64 // InitNormal: the owning sub-config's initializer_range
	ZeroRow int     // InitNormal: row zeroed after sampling (embedding padding_idx); -1: none
}

// Numel is the element count of Shape.
func (p *Param) Numel() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= int64(d)
	}
	return n
}

// Fused reports whether p holds several hub tensors (the routed experts).
func (p *Param) Fused() bool { return len(p.experts) > 0 }

// Alloc gives p a zeroed F32 tensor of its shape if it has none (or a wrong one).
func (p *Param) Alloc() *tensors.Tensor {
	if p.T == nil || p.T.DType() != tensors.F32 || !slices.Equal(p.T.Shape(), p.Shape) {
		p.T = tensors.New(tensors.F32, p.Shape...)
	}
	return p.T
}

// Linear is an nn.Linear (or a Conv whose weight is used as a matrix after a reshape).
type Linear struct {
	Weight Param  `hf:"weight"` // [out, in] (Conv: [out, in, kernel...])
	Bias   *Param `hf:"bias"`   // [out]; nil when the layer has no bias
}

// RMSNorm is weight-only RMS normalisation over the last dimension.
type RMSNorm struct {
	Weight Param `hf:"weight"` // [n]
}

// LayerNorm is nn.LayerNorm with weight and bias.
type LayerNorm struct {
	Weight Param `hf:"weight"` // [n]
	Bias   Param `hf:"bias"`   // [n]
}

// Embedding is an nn.Embedding table.
type Embedding struct {
	Weight Param `hf:"weight"` // [rows, dim]
}

// GatedMLP is a SwiGLU MLP without biases: down(silu(gate(x)) · up(x)).
type GatedMLP struct {
	GateProj Linear `hf:"gate_proj"` // [I, D]
	UpProj   Linear `hf:"up_proj"`   // [I, D]
	DownProj Linear `hf:"down_proj"` // [D, I]
}

// Params is the whole GLM-4.5V parameter tree. Names come from the hf struct tags, joined
// with '.', slice elements adding their index (blocks.7); a tag of "" adds nothing. NewParams
// fills names, shapes, dtypes and Init; tensors stay nil.
//
// Shapes (GLM-4.5V values): V 151552, D 4096, H 96, K 8, Dh 128, F 1408, E 128, L 46;
// vision Dv 1536, Do 4096 (= D), Iv 10944, C 3, Tp 2, p 14, m 2, Gp 24 (position grid side).
type Params struct {
	Config   Config
	Visual   *Vision   `hf:"model.visual"`
	Language *Language `hf:"model.language_model"`
	LMHead   *Linear   `hf:"lm_head"` // weight [V, D], no bias; nil when tie_word_embeddings

	all []*Param // every slot, sorted by Name
}

// Vision is the ViT (model.visual).
type Vision struct {
	PatchEmbed    Linear        `hf:"patch_embed.proj"`              // Conv3d weight [Dv, C, Tp, p, p], bias [Dv]
	PostConvNorm  RMSNorm       `hf:"post_conv_layernorm"`           // [Dv]
	PosEmbed      Embedding     `hf:"embeddings.position_embedding"` // [Gp², Dv]
	Blocks        []VisionBlock `hf:"blocks"`                        // depth
	PostLayerNorm RMSNorm       `hf:"post_layernorm"`                // [Dv]
	Downsample    Linear        `hf:"downsample"`                    // Conv2d weight [Do, Dv, m, m], bias [Do]
	Merger        Merger        `hf:"merger"`
}

// VisionBlock is one pre-norm ViT block.
type VisionBlock struct {
	Norm1 RMSNorm         `hf:"norm1"` // [Dv]
	Attn  VisionAttention `hf:"attn"`
	Norm2 RMSNorm         `hf:"norm2"` // [Dv]
	MLP   GatedMLP        `hf:"mlp"`   // gate/up [Do, Dv], down [Dv, Do] (width = out_hidden_size)
}

// VisionAttention is the fused-qkv attention of a vision block.
type VisionAttention struct {
	QKV  Linear `hf:"qkv"`  // [3·Dv, Dv]: rows q, then k, then v (head-major in each); bias if attention_bias
	Proj Linear `hf:"proj"` // [Dv, Dv], no bias
}

// Merger is the patch merger after the downsample conv.
type Merger struct {
	Proj     Linear    `hf:"proj"`                 // [Do, Do], no bias
	PostNorm LayerNorm `hf:"post_projection_norm"` // [Do] weight and bias
	MLP      GatedMLP  `hf:""`                     // gate/up [Iv, Do], down [Do, Iv]
}

// Language is the text decoder (model.language_model).
type Language struct {
	EmbedTokens Embedding      `hf:"embed_tokens"` // [V, D]; padding_idx = pad_token_id
	Layers      []DecoderLayer `hf:"layers"`       // L
	Norm        RMSNorm        `hf:"norm"`         // [D]
}

// DecoderLayer is one pre-norm decoder layer. Exactly one of MLP and MoE is set.
type DecoderLayer struct {
	InputNorm    RMSNorm   `hf:"input_layernorm"`          // [D]
	Attn         Attention `hf:"self_attn"`                //
	PostAttnNorm RMSNorm   `hf:"post_attention_layernorm"` // [D]
	MLP          *GatedMLP `hf:"mlp"`                      // layers < first_k_dense_replace: gate/up [I, D], down [D, I]
	MoE          *MoE      `hf:"mlp"`                      // the other layers
}

// Attention is GQA self-attention with partial MRoPE.
type Attention struct {
	Q     Linear   `hf:"q_proj"` // [H·Dh, D], bias [H·Dh] if attention_bias
	K     Linear   `hf:"k_proj"` // [K·Dh, D], bias [K·Dh] if attention_bias
	V     Linear   `hf:"v_proj"` // [K·Dh, D], bias [K·Dh] if attention_bias
	O     Linear   `hf:"o_proj"` // [D, H·Dh], no bias
	QNorm *RMSNorm `hf:"q_norm"` // [Dh]; only when use_qk_norm
	KNorm *RMSNorm `hf:"k_norm"` // [Dh]; only when use_qk_norm
}

// MoE is the routed + shared expert block.
type MoE struct {
	Gate          Router    `hf:"gate"`
	Experts       Experts   `hf:"experts"`
	SharedExperts *GatedMLP `hf:"shared_experts"` // gate/up [F·n_shared, D], down [D, F·n_shared]; nil if none
}

// Router is the sigmoid top-k router.
type Router struct {
	Weight               Param `hf:"weight"`                  // [E, D]
	EScoreCorrectionBias Param `hf:"e_score_correction_bias"` // [E], F32 in the checkpoint; selection only
}

// Experts holds all routed experts fused, in the layout kernels.Backend.GroupedLinear takes
// (w [E, N, K]) and transformers v5 uses. The hub checkpoint stores them per expert; the
// experts tag lists the per-expert tensors that make up each fused one, in row-block order:
//
//	GateUp[e, 0:F, :]  = …mlp.experts.{e}.gate_proj.weight   [F, D]
//	GateUp[e, F:2F, :] = …mlp.experts.{e}.up_proj.weight     [F, D]
//	Down[e]            = …mlp.experts.{e}.down_proj.weight   [D, F]
//
// Each is a contiguous block, so per-expert views are free (GateProj, UpProj, DownProj).
type Experts struct {
	GateUp Param `hf:"gate_up_proj" experts:"gate_proj.weight,up_proj.weight"` // [E, 2F, D]
	Down   Param `hf:"down_proj" experts:"down_proj.weight"`                   // [E, D, F]
}

// GateProj returns a view of expert e's gate_proj weight [F, D] (GateUp must be set).
func (x *Experts) GateProj(e int) (*tensors.Tensor, error) { return x.GateUp.block(e, 0) }

// UpProj returns a view of expert e's up_proj weight [F, D].
func (x *Experts) UpProj(e int) (*tensors.Tensor, error) { return x.GateUp.block(e, 1) }

// DownProj returns a view of expert e's down_proj weight [D, F].
func (x *Experts) DownProj(e int) (*tensors.Tensor, error) { return x.Down.block(e, 0) }

// block returns the j-th row block of expert e of a fused param as a 2-D view.
func (p *Param) block(e, j int) (*tensors.Tensor, error) {
	if p.T == nil {
		return nil, fmt.Errorf("glm4v: %s is not loaded", p.Name)
	}
	n := len(p.experts)
	rows := p.Shape[1] / n
	t, err := p.T.Slice(0, e, e+1)
	if err != nil {
		return nil, err
	}
	if t, err = t.Slice(1, j*rows, (j+1)*rows); err != nil {
		return nil, err
	}
	return t.Reshape(rows, p.Shape[2])
}

// NewParams builds the parameter tree of cfg (validated first). Nothing is allocated for
// values: every Param.T is nil.
func NewParams(cfg Config) (*Params, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("glm4v: invalid config: %w", err)
	}
	dt, _ := cfg.ParamDType()
	b := builder{dt: dt}
	p := &Params{Config: cfg}
	p.Visual = b.vision(&cfg.Vision)
	p.Language = b.language(&cfg.Text)
	if !cfg.TieWordEmbeddings {
		p.LMHead = &Linear{Weight: b.normal(cfg.Text.InitializerRange, cfg.Text.VocabSize, cfg.Text.HiddenSize)}
	}
	if err := p.bind(); err != nil {
		return nil, err
	}
	return p, nil
}

// builder makes Params of one checkpoint dtype.
type builder struct{ dt tensors.DType }

func (b builder) param(init Init, shape ...int) Param {
	return Param{Shape: shape, DType: b.dt, Init: init}
}
func (b builder) normal(std float64, shape ...int) Param {
	return b.param(Init{Kind: InitNormal, Std: std, ZeroRow: -1}, shape...)
}
func (b builder) zeros(shape ...int) *Param {
	p := b.param(Init{Kind: InitZeros, ZeroRow: -1}, shape...)
	return &p
}
func (b builder) ones(n int) Param  { return b.param(Init{Kind: InitOnes, ZeroRow: -1}, n) }
func (b builder) rms(n int) RMSNorm { return RMSNorm{Weight: b.ones(n)} }

// linear is a Linear [out, in] with an optional zero-initialised bias.
func (b builder) linear(std float64, bias bool, out, in int) Linear {
	l := Linear{Weight: b.normal(std, out, in)}
	if bias {
		l.Bias = b.zeros(out)
	}
	return l
}

func (b builder) mlp(std float64, d, i int) GatedMLP {
	return GatedMLP{GateProj: b.linear(std, false, i, d), UpProj: b.linear(std, false, i, d), DownProj: b.linear(std, false, d, i)}
}

func (b builder) vision(c *VisionConfig) *Vision {
	std, Dv, Do, m := c.InitializerRange, c.HiddenSize, c.OutHiddenSize, c.SpatialMergeSize
	v := &Vision{
		PatchEmbed: Linear{Weight: b.normal(std, Dv, c.InChannels, c.TemporalPatchSize, c.PatchSize, c.PatchSize),
			Bias: b.zeros(Dv)},
		PostConvNorm:  b.rms(Dv),
		PosEmbed:      Embedding{Weight: b.normal(std, c.GridSize()*c.GridSize(), Dv)},
		Blocks:        make([]VisionBlock, c.Depth),
		PostLayerNorm: b.rms(Dv),
		Downsample:    Linear{Weight: b.normal(std, Do, Dv, m, m), Bias: b.zeros(Do)},
		Merger: Merger{
			Proj:     b.linear(std, false, Do, Do),
			PostNorm: LayerNorm{Weight: b.ones(Do), Bias: *b.zeros(Do)},
			MLP:      b.mlp(std, Do, c.IntermediateSize),
		},
	}
	for i := range v.Blocks {
		v.Blocks[i] = VisionBlock{
			Norm1: b.rms(Dv),
			Attn:  VisionAttention{QKV: b.linear(std, c.AttentionBias, 3*Dv, Dv), Proj: b.linear(std, false, Dv, Dv)},
			Norm2: b.rms(Dv),
			MLP:   b.mlp(std, Dv, Do),
		}
	}
	return v
}

func (b builder) language(c *TextConfig) *Language {
	std, D, Dh := c.InitializerRange, c.HiddenSize, c.HeadDim
	emb := b.normal(std, c.VocabSize, D)
	emb.Init.ZeroRow = c.PadTokenID // nn.Embedding(padding_idx=pad_token_id): HF zeroes that row
	l := &Language{EmbedTokens: Embedding{Weight: emb}, Layers: make([]DecoderLayer, c.NumHiddenLayers), Norm: b.rms(D)}
	for i := range l.Layers {
		L := &l.Layers[i]
		L.InputNorm, L.PostAttnNorm = b.rms(D), b.rms(D)
		L.Attn = Attention{
			Q: b.linear(std, c.AttentionBias, c.NumAttentionHeads*Dh, D),
			K: b.linear(std, c.AttentionBias, c.NumKeyValueHeads*Dh, D),
			V: b.linear(std, c.AttentionBias, c.NumKeyValueHeads*Dh, D),
			O: b.linear(std, false, D, c.NumAttentionHeads*Dh),
		}
		if c.UseQKNorm {
			qn, kn := b.rms(Dh), b.rms(Dh)
			L.Attn.QNorm, L.Attn.KNorm = &qn, &kn
		}
		if !c.IsMoELayer(i) {
			mlp := b.mlp(std, D, c.IntermediateSize)
			L.MLP = &mlp
			continue
		}
		E, F := c.NRoutedExperts, c.MoEIntermediateSize
		bias := b.param(Init{Kind: InitRouterBias, ZeroRow: -1}, E)
		bias.DType = tensors.F32 // _keep_in_fp32_modules_strict
		L.MoE = &MoE{
			Gate:    Router{Weight: b.normal(std, E, D), EScoreCorrectionBias: bias},
			Experts: Experts{GateUp: b.normal(std, E, 2*F, D), Down: b.normal(std, E, D, F)},
		}
		if c.NSharedExperts > 0 {
			sh := b.mlp(std, D, F*c.NSharedExperts)
			L.MoE.SharedExperts = &sh
		}
	}
	return l
}

var paramType = reflect.TypeFor[Param]()

// bind walks the tree by reflection, naming every Param from the hf tags, and records the
// sorted slot list.
func (p *Params) bind() error {
	p.all = p.all[:0]
	var walk func(v reflect.Value, prefix string) error
	walk = func(v reflect.Value, prefix string) error {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("hf")
			if !ok {
				continue
			}
			name := joinName(prefix, tag)
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			switch {
			case fv.Type() == paramType:
				slot := fv.Addr().Interface().(*Param)
				slot.Name = name
				if ex, ok := f.Tag.Lookup("experts"); ok {
					slot.experts = strings.Split(ex, ",")
					if len(slot.Shape) != 3 || slot.Shape[1]%len(slot.experts) != 0 {
						return fmt.Errorf("glm4v: %s: shape %v does not split into %v", name, slot.Shape, slot.experts)
					}
				}
				p.all = append(p.all, slot)
			case fv.Kind() == reflect.Struct:
				if err := walk(fv, name); err != nil {
					return err
				}
			case fv.Kind() == reflect.Slice:
				for j := 0; j < fv.Len(); j++ {
					if err := walk(fv.Index(j), joinName(name, strconv.Itoa(j))); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("glm4v: field %s (%v) cannot carry an hf tag", f.Name, f.Type)
			}
		}
		return nil
	}
	if err := walk(reflect.ValueOf(p).Elem(), ""); err != nil {
		return err
	}
	slices.SortFunc(p.all, func(a, b *Param) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(p.all); i++ {
		if p.all[i].Name == p.all[i-1].Name {
			return fmt.Errorf("glm4v: two parameters named %s", p.all[i].Name)
		}
	}
	return nil
}

func joinName(prefix, s string) string {
	switch {
	case s == "":
		return prefix
	case prefix == "":
		return s
	}
	return prefix + "." + s
}

// Walk calls fn for every slot in name order; it stops at the first error.
func (p *Params) Walk(fn func(name string, slot *Param) error) error {
	for _, s := range p.all {
		if err := fn(s.Name, s); err != nil {
			return err
		}
	}
	return nil
}

// Select returns the slots whose Name sel accepts, in name order (nil sel: all).
func (p *Params) Select(sel Selector) []*Param {
	var out []*Param
	for _, s := range p.all {
		if sel == nil || sel(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// Param returns the slot named name (an internal name: fused experts by their v5 name).
func (p *Params) Param(name string) (*Param, bool) {
	i, ok := slices.BinarySearchFunc(p.all, name, func(s *Param, n string) int { return strings.Compare(s.Name, n) })
	if !ok {
		return nil, false
	}
	return p.all[i], true
}

// Check verifies that every slot sel accepts holds an F32 tensor of its shape (the "validate
// after load" step; Load and InitParams leave the tree in this state).
func (p *Params) Check(sel Selector) error {
	var bad []string
	for _, s := range p.Select(sel) {
		switch {
		case s.T == nil:
			bad = append(bad, s.Name+": not loaded")
		case s.T.DType() != tensors.F32 || !slices.Equal(s.T.Shape(), s.Shape):
			bad = append(bad, fmt.Sprintf("%s: holds %v, want F32%v", s.Name, s.T, s.Shape))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("glm4v: %d parameter(s) not ready: %s", len(bad), listFirst(bad, 10))
	}
	return nil
}

// Spec is one tensor of the hub checkpoint.
type Spec struct {
	Name  string
	Shape []int
	DType tensors.DType
}

// Numel is the element count of Shape.
func (s Spec) Numel() int64 {
	n := int64(1)
	for _, d := range s.Shape {
		n *= int64(d)
	}
	return n
}

// hubTensor is a hub tensor and where its values live: param's elements [off, off+numel).
type hubTensor struct {
	Spec
	param *Param
	off   int64
}

// hubTensors expands the slots sel accepts into hub tensors, sorted by name.
func (p *Params) hubTensors(sel Selector) []hubTensor {
	slots := p.Select(sel)
	n := 0
	for _, s := range slots {
		n++
		if s.Fused() {
			n += s.Shape[0]*len(s.experts) - 1
		}
	}
	out := make([]hubTensor, 0, n)
	for _, s := range slots {
		out = append(out, s.hub()...)
	}
	slices.SortFunc(out, func(a, b hubTensor) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// hub lists the hub tensors a slot holds: itself, or for fused experts E × len(experts) blocks.
func (s *Param) hub() []hubTensor {
	if !s.Fused() {
		return []hubTensor{{Spec: Spec{s.Name, s.Shape, s.DType}, param: s}}
	}
	prefix := s.Name[:strings.LastIndexByte(s.Name, '.')+1] // "….mlp.experts."
	E, n := s.Shape[0], len(s.experts)
	rows, cols := s.Shape[1]/n, s.Shape[2]
	blk := int64(rows * cols)
	out := make([]hubTensor, 0, E*n)
	for e := 0; e < E; e++ {
		for j, suffix := range s.experts {
			out = append(out, hubTensor{
				Spec:  Spec{prefix + strconv.Itoa(e) + "." + suffix, []int{rows, cols}, s.DType},
				param: s, off: int64(e*n+j) * blk,
			})
		}
	}
	return out
}

// Specs lists every tensor of the hub checkpoint (per-expert names), sorted by name.
func (p *Params) Specs() []Spec {
	hs := p.hubTensors(nil)
	out := make([]Spec, len(hs))
	for i, h := range hs {
		out[i] = h.Spec
	}
	return out
}

// HubNames returns the hub tensors this slot holds: its own name, or the per-expert names.
func (s *Param) HubNames() []string {
	hs := s.hub()
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// NumParams is the number of parameters (elements) of the slots sel accepts.
func (p *Params) NumParams(sel Selector) int64 {
	var n int64
	for _, s := range p.Select(sel) {
		n += s.Numel()
	}
	return n
}

func listFirst(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", … (%d more)", len(names)-n)
}
