package glm4v

import (
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/glmflow/glmflow/tensors"
)

// Config is a GLM-4.5V (Glm4vMoeForConditionalGeneration) config.json, typed. ParseConfig
// reads both the 4.5x spelling (rope_scaling + rope_theta + partial_rotary_factor at
// text_config level, torch_dtype) and the transformers-v5 spelling (rope_parameters, dtype,
// vision model_type "glm4v_moe_vision") into the same value; WriteJSON writes the 4.5x spelling.
// Values in brackets are zai-org/GLM-4.5V's (glm45v.md §1.1).
type Config struct {
	Text   TextConfig
	Vision VisionConfig

	ImageTokenID      int // <|image|> placeholder, one per merged patch [151363]
	VideoTokenID      int // <|video|> [151364]
	ImageStartTokenID int // <|begin_of_image|> [151339]
	ImageEndTokenID   int // <|end_of_image|> [151340]
	VideoStartTokenID int // <|begin_of_video|> [151341]
	VideoEndTokenID   int // <|end_of_video|> [151342]

	TieWordEmbeddings bool   // lm_head shares embed_tokens (no lm_head.weight) [false]
	DType             string // checkpoint dtype: "bfloat16", "float32" or "float16"; absent: bfloat16 [bfloat16]
}

// TextConfig is text_config: the MoE decoder.
type TextConfig struct {
	VocabSize             int     // V: rows of embed_tokens and lm_head [151552]
	HiddenSize            int     // D [4096]
	IntermediateSize      int     // dense MLP width of layers < FirstKDenseReplace [10944]
	MoEIntermediateSize   int     // F: width of one routed expert (and of a shared expert) [1408]
	NumHiddenLayers       int     // L [46]
	NumAttentionHeads     int     // H [96]
	NumKeyValueHeads      int     // K [8]
	HeadDim               int     // Dh, required (4096/96 is not an integer) [128]
	HiddenAct             string  // ["silu"]
	AttentionBias         bool    // q/k/v have biases (o never) [true]
	AttentionDropout      float64 // [0]
	UseQKNorm             bool    // q_norm/k_norm over Dh [false]
	PartialRotaryFactor   float64 // rotary dims = Dh·factor [0.5]
	RopeTheta             float64 // [10000]
	RopeType              string  // ["default"]
	MRopeSection          []int   // frequency slots per t/h/w stream, sums to rotary dims/2 [8 12 12]
	MaxPositionEmbeddings int     // [65536]
	RMSNormEps            float64 // [1e-5]
	InitializerRange      float64 // std of the normal init [0.02]
	FirstKDenseReplace    int     // layers [0, this) are dense, the rest MoE [1]
	NRoutedExperts        int     // E [128]
	NSharedExperts        int     // shared expert width = F·this; 0: none [1]
	NumExpertsPerTok      int     // k [8]
	NGroup                int     // expert groups for group-limited routing [1]
	TopKGroup             int     // groups kept per token [1]
	NormTopKProb          bool    // renormalise the k routing weights [true]
	RoutedScalingFactor   float64 // [1.0]
	RouterAuxLossCoef     float64 // HF Switch-style aux loss coefficient [0.0001]
	PadTokenID            int     // also embed_tokens' padding_idx; -1 when null [151329]
	BOSTokenID            int     // -1 when null [null]
	EOSTokenIDs           []int   // [151329 151336 151338]
	UseCache              bool    // [true]
}

// VisionConfig is vision_config: the ViT, its downsample conv and the patch merger.
type VisionConfig struct {
	Depth             int     // blocks [24]
	HiddenSize        int     // Dv [1536]
	NumHeads          int     // [12] (head dim 128)
	IntermediateSize  int     // merger SwiGLU width (NOT the block MLP's) [10944]
	OutHiddenSize     int     // Do: block MLP width and merger width; must equal text D [4096]
	HiddenAct         string  // ["silu"]
	AttentionBias     bool    // qkv bias [false]
	AttentionDropout  float64 // [0]
	ImageSize         int     // learned position grid is (ImageSize/PatchSize)² [336]
	PatchSize         int     // p [14]
	TemporalPatchSize int     // Tp [2]
	SpatialMergeSize  int     // m [2]
	InChannels        int     // C [3]
	RMSNormEps        float64 // [1e-5]
	InitializerRange  float64 // [0.02]
	RopeTheta         float64 // 2-D rotary base; not in 4.5x files [10000]
}

// RotaryDim is the number of rotated dims per text head: Dh·PartialRotaryFactor [64].
func (t *TextConfig) RotaryDim() int {
	return int(math.Round(float64(t.HeadDim) * t.PartialRotaryFactor))
}

// IsMoELayer reports whether decoder layer i has the MoE block (else the dense MLP).
func (t *TextConfig) IsMoELayer(i int) bool { return i >= t.FirstKDenseReplace }

// HeadDim is Dv / heads [128].
func (v *VisionConfig) HeadDim() int { return v.HiddenSize / v.NumHeads }

// GridSize is the side of the learned position grid, ImageSize/PatchSize [24].
func (v *VisionConfig) GridSize() int { return v.ImageSize / v.PatchSize }

// PatchDim is the length of one pixel_values row, C·Tp·p·p [1176].
func (v *VisionConfig) PatchDim() int {
	return v.InChannels * v.TemporalPatchSize * v.PatchSize * v.PatchSize
}

// ParamDType is the checkpoint dtype of every tensor except e_score_correction_bias (always F32).
func (c *Config) ParamDType() (tensors.DType, error) {
	switch c.DType {
	case "bfloat16":
		return tensors.BF16, nil
	case "float32":
		return tensors.F32, nil
	case "float16":
		return tensors.F16, nil
	}
	return tensors.Invalid, fmt.Errorf("dtype %q is not bfloat16, float32 or float16", c.DType)
}

// LoadConfig reads and validates an HF config.json. Errors name the file and the key.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("glm4v: %w", err)
	}
	return ParseConfig(path, raw)
}

// ParseConfig parses config.json bytes (file names the source in errors) and validates the
// result. Unknown keys are ignored; a wrong type, a missing required key or two spellings of
// one value that disagree is an error naming the key.
func ParseConfig(file string, raw []byte) (Config, error) {
	r := &cfgReader{file: file}
	c := r.parse(raw)
	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("glm4v: %s: %w", file, errors.Join(r.errs...))
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("glm4v: %s: %w", file, err)
	}
	return c, nil
}

// Validate checks the invariants the parameter tree and the model code rely on. All
// violations are reported, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, f string, a ...any) { errs = append(errs, fmt.Errorf("%s: "+f, append([]any{key}, a...)...)) }
	t, v := &c.Text, &c.Vision
	for _, p := range []struct {
		key string
		v   int
	}{
		{"text_config.vocab_size", t.VocabSize}, {"text_config.hidden_size", t.HiddenSize},
		{"text_config.num_hidden_layers", t.NumHiddenLayers}, {"text_config.num_attention_heads", t.NumAttentionHeads},
		{"text_config.num_key_value_heads", t.NumKeyValueHeads}, {"text_config.head_dim", t.HeadDim},
		{"vision_config.depth", v.Depth}, {"vision_config.hidden_size", v.HiddenSize},
		{"vision_config.num_heads", v.NumHeads}, {"vision_config.intermediate_size", v.IntermediateSize},
		{"vision_config.out_hidden_size", v.OutHiddenSize}, {"vision_config.image_size", v.ImageSize},
		{"vision_config.patch_size", v.PatchSize}, {"vision_config.temporal_patch_size", v.TemporalPatchSize},
		{"vision_config.spatial_merge_size", v.SpatialMergeSize}, {"vision_config.in_channels", v.InChannels},
	} {
		if p.v <= 0 {
			bad(p.key, "is %d, want > 0", p.v)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // the checks below divide by these
	}
	if t.NumAttentionHeads%t.NumKeyValueHeads != 0 {
		bad("text_config.num_key_value_heads", "%d attention heads are not a multiple of %d kv heads", t.NumAttentionHeads, t.NumKeyValueHeads)
	}
	if t.FirstKDenseReplace < 0 || t.FirstKDenseReplace > t.NumHiddenLayers {
		bad("text_config.first_k_dense_replace", "is %d, want 0..num_hidden_layers (%d)", t.FirstKDenseReplace, t.NumHiddenLayers)
	} else {
		if t.FirstKDenseReplace > 0 && t.IntermediateSize <= 0 {
			bad("text_config.intermediate_size", "is %d, want > 0 (layers 0..%d are dense)", t.IntermediateSize, t.FirstKDenseReplace-1)
		}
		if t.FirstKDenseReplace < t.NumHiddenLayers {
			errs = append(errs, t.validateMoE()...)
		}
	}
	errs = append(errs, t.validateRope()...)
	for _, a := range []struct{ key, v string }{{"text_config.hidden_act", t.HiddenAct}, {"vision_config.hidden_act", v.HiddenAct}} {
		if a.v != "silu" {
			bad(a.key, "is %q; only \"silu\" is implemented", a.v)
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"text_config.rms_norm_eps", t.RMSNormEps}, {"vision_config.rms_norm_eps", v.RMSNormEps}, {"vision_config.rope_theta", v.RopeTheta}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			bad(f.key, "is %v, want > 0", f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"text_config.initializer_range", t.InitializerRange}, {"vision_config.initializer_range", v.InitializerRange},
		{"text_config.attention_dropout", t.AttentionDropout}, {"vision_config.attention_dropout", v.AttentionDropout}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			bad(f.key, "is %v, want ≥ 0", f.v)
		}
	}
	// Vision.
	if v.HiddenSize%v.NumHeads != 0 {
		bad("vision_config.num_heads", "hidden_size %d is not a multiple of %d heads", v.HiddenSize, v.NumHeads)
	} else if v.HeadDim()%4 != 0 {
		bad("vision_config.num_heads", "head dim %d is not a multiple of 4 (2-D rotary: Dh/4 frequencies per axis)", v.HeadDim())
	}
	// The learned position table is resampled bicubically to each image's grid, so the merge
	// size must divide the image grids (checked per image at run time), not this table.
	if v.ImageSize%v.PatchSize != 0 {
		bad("vision_config.image_size", "%d is not a multiple of patch_size %d", v.ImageSize, v.PatchSize)
	}
	if v.OutHiddenSize != t.HiddenSize {
		bad("vision_config.out_hidden_size", "is %d, want text_config.hidden_size %d (merger output feeds the text stream)", v.OutHiddenSize, t.HiddenSize)
	}
	// Token ids.
	ids := []struct {
		key string
		v   int
	}{{"image_token_id", c.ImageTokenID}, {"video_token_id", c.VideoTokenID}, {"image_start_token_id", c.ImageStartTokenID},
		{"image_end_token_id", c.ImageEndTokenID}, {"video_start_token_id", c.VideoStartTokenID}, {"video_end_token_id", c.VideoEndTokenID}}
	seen := map[int]string{}
	for _, id := range ids {
		if id.v < 0 || id.v >= t.VocabSize {
			bad(id.key, "%d is outside the vocabulary [0, %d)", id.v, t.VocabSize)
		} else if other, dup := seen[id.v]; dup {
			bad(id.key, "%d is also %s", id.v, other)
		}
		seen[id.v] = id.key
	}
	for _, id := range []struct {
		key string
		v   int
	}{{"text_config.pad_token_id", t.PadTokenID}, {"text_config.bos_token_id", t.BOSTokenID}} {
		if id.v < -1 || id.v >= t.VocabSize {
			bad(id.key, "%d is outside the vocabulary [0, %d)", id.v, t.VocabSize)
		}
	}
	for _, id := range t.EOSTokenIDs {
		if id < 0 || id >= t.VocabSize {
			bad("text_config.eos_token_id", "%d is outside the vocabulary [0, %d)", id, t.VocabSize)
		}
	}
	if _, err := c.ParamDType(); err != nil {
		bad("torch_dtype", "%v", err)
	}
	return errors.Join(errs...)
}

func (t *TextConfig) validateMoE() []error {
	var errs []error
	bad := func(key, f string, a ...any) {
		errs = append(errs, fmt.Errorf("text_config.%s: "+f, append([]any{key}, a...)...))
	}
	E, k := t.NRoutedExperts, t.NumExpertsPerTok
	switch {
	case t.MoEIntermediateSize <= 0:
		bad("moe_intermediate_size", "is %d, want > 0", t.MoEIntermediateSize)
	case E <= 0:
		bad("n_routed_experts", "is %d, want > 0", E)
	case k <= 0 || k > E:
		bad("num_experts_per_tok", "is %d, want 1..n_routed_experts (%d)", k, E)
	case t.NGroup <= 0 || E%t.NGroup != 0:
		bad("n_group", "is %d, want a positive divisor of n_routed_experts (%d)", t.NGroup, E)
	case t.TopKGroup <= 0 || t.TopKGroup > t.NGroup:
		bad("topk_group", "is %d, want 1..n_group (%d)", t.TopKGroup, t.NGroup)
	case t.NGroup > 1 && E/t.NGroup < 2:
		bad("n_group", "%d groups of %d expert(s): a group's score is the sum of its top 2", t.NGroup, E/t.NGroup)
	case k > t.TopKGroup*(E/t.NGroup):
		bad("num_experts_per_tok", "%d exceeds the %d experts in %d kept group(s)", k, t.TopKGroup*(E/t.NGroup), t.TopKGroup)
	}
	if t.NSharedExperts < 0 {
		bad("n_shared_experts", "is %d, want ≥ 0", t.NSharedExperts)
	}
	if !(t.RoutedScalingFactor > 0) || math.IsInf(t.RoutedScalingFactor, 0) {
		bad("routed_scaling_factor", "is %v, want > 0", t.RoutedScalingFactor)
	}
	return errs
}

func (t *TextConfig) validateRope() []error {
	var errs []error
	bad := func(key, f string, a ...any) {
		errs = append(errs, fmt.Errorf("text_config.%s: "+f, append([]any{key}, a...)...))
	}
	if t.RopeType != "default" {
		bad("rope_scaling.rope_type", "is %q; only \"default\" (MRoPE) is implemented", t.RopeType)
	}
	if !(t.RopeTheta > 0) || math.IsInf(t.RopeTheta, 0) {
		bad("rope_theta", "is %v, want > 0", t.RopeTheta)
	}
	f := t.PartialRotaryFactor
	rd := float64(t.HeadDim) * f
	if !(f > 0 && f <= 1) || rd != math.Round(rd) || int(rd)%2 != 0 {
		bad("partial_rotary_factor", "%v × head_dim %d is not an even number of dims in (0, head_dim]", f, t.HeadDim)
		return errs
	}
	sum := 0
	for _, s := range t.MRopeSection {
		if s < 0 {
			bad("rope_scaling.mrope_section", "%v has a negative entry", t.MRopeSection)
			return errs
		}
		sum += s
	}
	if len(t.MRopeSection) != 3 || sum != t.RotaryDim()/2 {
		bad("rope_scaling.mrope_section", "%v must have 3 entries (t, h, w) summing to rotary dims/2 = %d", t.MRopeSection, t.RotaryDim()/2)
	}
	return errs
}
