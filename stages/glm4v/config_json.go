package glm4v

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// config.json ⇄ Config: the typed reader (both spellings) and the 4.5x writer.

// parse reads the whole config. Keys that set tensor shapes have no default (the HF class defaults are wrong for GLM-4.5V in
// places, glm45v.md §10.2); behaviour keys default to the HF class defaults.
func (r *cfgReader) parse(raw []byte) Config {
	var c Config
	top := r.object("", raw)
	if top == nil {
		return c
	}
	if mt, ok := top.str("model_type", false, ""); ok && mt != "glm4v_moe" {
		r.fail("model_type", "is %q, want \"glm4v_moe\"", mt)
	}
	tc := r.object("text_config", top.raw("text_config", true))
	vc := r.object("vision_config", top.raw("vision_config", true))
	if tc == nil || vc == nil {
		return c
	}
	c.Text = r.parseText(tc)
	c.Vision = r.parseVision(vc)

	c.ImageTokenID = r.sameInt(top, tc, "image_token_id", 151363)
	c.ImageStartTokenID = r.sameInt(top, tc, "image_start_token_id", 151339)
	c.ImageEndTokenID = r.sameInt(top, tc, "image_end_token_id", 151340)
	c.VideoTokenID = r.sameInt(top, tc, "video_token_id", 151364)
	c.VideoStartTokenID = r.sameInt(top, tc, "video_start_token_id", 151341)
	c.VideoEndTokenID = r.sameInt(top, tc, "video_end_token_id", 151342)
	tie, topHas := top.bool("tie_word_embeddings", false, false)
	if ttie, textHas := tc.bool("tie_word_embeddings", false, false); textHas && topHas && ttie != tie {
		r.fail("text_config.tie_word_embeddings", "is %v but tie_word_embeddings is %v", ttie, tie)
	} else if textHas && !topHas {
		tie = ttie
	}
	c.TieWordEmbeddings = tie
	c.DType = r.oneOf(top, "bfloat16", "torch_dtype", "dtype")
	return c
}

func (r *cfgReader) parseText(o *cfgObject) TextConfig {
	t := TextConfig{}
	if mt, ok := o.str("model_type", false, ""); ok && mt != "glm4v_moe_text" {
		r.fail("text_config.model_type", "is %q, want \"glm4v_moe_text\"", mt)
	}
	t.VocabSize, _ = o.int("vocab_size", true, 0)
	t.HiddenSize, _ = o.int("hidden_size", true, 0)
	t.IntermediateSize, _ = o.int("intermediate_size", true, 0)
	t.MoEIntermediateSize, _ = o.int("moe_intermediate_size", true, 0)
	t.NumHiddenLayers, _ = o.int("num_hidden_layers", true, 0)
	t.NumAttentionHeads, _ = o.int("num_attention_heads", true, 0)
	t.NumKeyValueHeads, _ = o.int("num_key_value_heads", true, 0)
	t.HeadDim, _ = o.int("head_dim", true, 0)
	t.NRoutedExperts, _ = o.int("n_routed_experts", true, 0)
	t.NumExpertsPerTok, _ = o.int("num_experts_per_tok", true, 0)
	t.FirstKDenseReplace, _ = o.int("first_k_dense_replace", false, 1)
	t.NSharedExperts, _ = o.int("n_shared_experts", false, 1)
	t.NGroup, _ = o.int("n_group", false, 1)
	t.TopKGroup, _ = o.int("topk_group", false, 1)
	t.AttentionBias, _ = o.bool("attention_bias", false, true)
	t.UseQKNorm, _ = o.bool("use_qk_norm", false, false)
	t.NormTopKProb, _ = o.bool("norm_topk_prob", false, true)
	t.UseCache, _ = o.bool("use_cache", false, true)
	t.HiddenAct, _ = o.str("hidden_act", false, "silu")
	t.AttentionDropout, _ = o.float("attention_dropout", false, 0)
	t.MaxPositionEmbeddings, _ = o.int("max_position_embeddings", false, 65536)
	t.RMSNormEps, _ = o.float("rms_norm_eps", false, 1e-5)
	t.InitializerRange, _ = o.float("initializer_range", false, 0.02)
	t.RoutedScalingFactor, _ = o.float("routed_scaling_factor", false, 1)
	t.RouterAuxLossCoef, _ = o.float("router_aux_loss_coef", false, 1e-4)
	t.PadTokenID, _ = o.optInt("pad_token_id")
	t.BOSTokenID, _ = o.optInt("bos_token_id")
	t.EOSTokenIDs = o.intOrInts("eos_token_id")

	// RoPE: v5 rope_parameters{rope_type, rope_theta, partial_rotary_factor, mrope_section};
	// 4.5x rope_scaling{rope_type|type, mrope_section} + rope_theta + partial_rotary_factor.
	rp := r.object("text_config.rope_parameters", o.raw("rope_parameters", false))
	rs := r.object("text_config.rope_scaling", o.raw("rope_scaling", false))
	srcs := []*cfgObject{o, rp, rs}
	t.RopeTheta = r.ropeFloat(srcs, "rope_theta", 10000)
	t.PartialRotaryFactor = r.ropeFloat(srcs, "partial_rotary_factor", 0.5)
	t.RopeType = r.ropeStr(srcs, "default", "rope_type", "type")
	t.MRopeSection = r.ropeInts(srcs, "mrope_section")
	return t
}

func (r *cfgReader) parseVision(o *cfgObject) VisionConfig {
	v := VisionConfig{}
	if mt, ok := o.str("model_type", false, ""); ok && mt != "glm4v_moe" && mt != "glm4v_moe_vision" {
		r.fail("vision_config.model_type", "is %q, want \"glm4v_moe\" or \"glm4v_moe_vision\"", mt)
	}
	v.Depth, _ = o.int("depth", true, 0)
	v.HiddenSize, _ = o.int("hidden_size", true, 0)
	v.NumHeads, _ = o.int("num_heads", true, 0)
	v.IntermediateSize, _ = o.int("intermediate_size", true, 0)
	v.OutHiddenSize, _ = o.int("out_hidden_size", true, 0)
	v.ImageSize = o.side("image_size")
	v.PatchSize = o.side("patch_size")
	v.TemporalPatchSize, _ = o.int("temporal_patch_size", true, 0)
	v.SpatialMergeSize, _ = o.int("spatial_merge_size", true, 0)
	v.InChannels, _ = o.int("in_channels", false, 3)
	v.HiddenAct, _ = o.str("hidden_act", false, "silu")
	v.AttentionBias, _ = o.bool("attention_bias", false, false)
	v.AttentionDropout, _ = o.float("attention_dropout", false, 0)
	v.RMSNormEps, _ = o.float("rms_norm_eps", false, 1e-5)
	v.InitializerRange, _ = o.float("initializer_range", false, 0.02)
	rp := r.object("vision_config.rope_parameters", o.raw("rope_parameters", false))
	v.RopeTheta = r.ropeFloat([]*cfgObject{o, rp}, "rope_theta", 10000)
	return v
}

// JSON writes the config as an HF config.json in the 4.5x spelling (what the hub file uses):
// keys sorted, two-space indent, floats as Python prints them, trailing newline — the form
// transformers' save_pretrained writes. Keys glmflow does not model are not written.
func (c *Config) JSON() []byte {
	t, v := &c.Text, &c.Vision
	optID := func(id int) any {
		if id < 0 {
			return nil
		}
		return id
	}
	eos := any(nil)
	if len(t.EOSTokenIDs) == 1 {
		eos = t.EOSTokenIDs[0]
	} else if len(t.EOSTokenIDs) > 1 {
		eos = t.EOSTokenIDs
	}
	mrope := t.MRopeSection
	if mrope == nil {
		mrope = []int{}
	}
	text := map[string]any{
		"model_type": "glm4v_moe_text", "vocab_size": t.VocabSize, "hidden_size": t.HiddenSize,
		"intermediate_size": t.IntermediateSize, "moe_intermediate_size": t.MoEIntermediateSize,
		"num_hidden_layers": t.NumHiddenLayers, "num_attention_heads": t.NumAttentionHeads,
		"num_key_value_heads": t.NumKeyValueHeads, "head_dim": t.HeadDim, "hidden_act": t.HiddenAct,
		"attention_bias": t.AttentionBias, "attention_dropout": pyFloat(t.AttentionDropout),
		"use_qk_norm": t.UseQKNorm, "partial_rotary_factor": pyFloat(t.PartialRotaryFactor),
		"rope_theta":              pyFloat(t.RopeTheta),
		"rope_scaling":            map[string]any{"rope_type": t.RopeType, "mrope_section": mrope},
		"max_position_embeddings": t.MaxPositionEmbeddings, "rms_norm_eps": pyFloat(t.RMSNormEps),
		"initializer_range": pyFloat(t.InitializerRange), "first_k_dense_replace": t.FirstKDenseReplace,
		"n_routed_experts": t.NRoutedExperts, "n_shared_experts": t.NSharedExperts,
		"num_experts_per_tok": t.NumExpertsPerTok, "n_group": t.NGroup, "topk_group": t.TopKGroup,
		"norm_topk_prob": t.NormTopKProb, "routed_scaling_factor": pyFloat(t.RoutedScalingFactor),
		"router_aux_loss_coef": pyFloat(t.RouterAuxLossCoef), "pad_token_id": optID(t.PadTokenID),
		"bos_token_id": optID(t.BOSTokenID), "eos_token_id": eos,
		"image_start_token_id": c.ImageStartTokenID, "image_end_token_id": c.ImageEndTokenID,
		"image_token_id": c.ImageTokenID, "use_cache": t.UseCache, "torch_dtype": c.DType,
		"tie_word_embeddings": c.TieWordEmbeddings,
	}
	vision := map[string]any{
		"model_type": "glm4v_moe", "depth": v.Depth, "hidden_size": v.HiddenSize, "num_heads": v.NumHeads,
		"intermediate_size": v.IntermediateSize, "out_hidden_size": v.OutHiddenSize, "hidden_act": v.HiddenAct,
		"attention_bias": v.AttentionBias, "attention_dropout": pyFloat(v.AttentionDropout),
		"image_size": v.ImageSize, "patch_size": v.PatchSize, "temporal_patch_size": v.TemporalPatchSize,
		"spatial_merge_size": v.SpatialMergeSize, "in_channels": v.InChannels,
		"rms_norm_eps": pyFloat(v.RMSNormEps), "initializer_range": pyFloat(v.InitializerRange),
	}
	if v.RopeTheta != 10000 { // the 4.5x file has no vision rope key; write one only when it matters
		vision["rope_theta"] = pyFloat(v.RopeTheta)
	}
	top := map[string]any{
		"architectures": []string{"Glm4vMoeForConditionalGeneration"}, "model_type": "glm4v_moe",
		"image_start_token_id": c.ImageStartTokenID, "image_end_token_id": c.ImageEndTokenID,
		"video_start_token_id": c.VideoStartTokenID, "video_end_token_id": c.VideoEndTokenID,
		"image_token_id": c.ImageTokenID, "video_token_id": c.VideoTokenID,
		"tie_word_embeddings": c.TieWordEmbeddings, "torch_dtype": c.DType,
		"text_config": text, "vision_config": vision,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil { // maps of plain values: cannot fail
		panic(err)
	}
	return buf.Bytes()
}

// pyFloat marshals like Python's repr(float): always a '.' or an exponent (1e-05, 10000.0).
type pyFloat float64

func (f pyFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("glm4v: %v is not valid JSON", x)
	}
	if x == 0 {
		return []byte("0.0"), nil
	}
	if e := math.Floor(math.Log10(math.Abs(x))); e < -4 || e >= 16 {
		return []byte(strconv.FormatFloat(x, 'e', -1, 64)), nil
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return []byte(s), nil
}

// --- typed reading of the JSON objects ---

type cfgReader struct {
	file string
	errs []error
}

func (r *cfgReader) fail(key, f string, a ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: "+f, append([]any{key}, a...)...))
}

// cfgObject is one JSON object of the config; path is its dotted key ("" at the top).
type cfgObject struct {
	r    *cfgReader
	path string
	m    map[string]json.RawMessage
}

// object decodes raw as an object; nil raw (absent key) gives nil without error.
func (r *cfgReader) object(path string, raw json.RawMessage) *cfgObject {
	if raw == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		if path == "" {
			r.errs = append(r.errs, fmt.Errorf("not a JSON object: %v", err))
		} else {
			r.fail(path, "want a JSON object, got %s", short(raw))
		}
		return nil
	}
	return &cfgObject{r: r, path: path, m: m}
}

func (o *cfgObject) key(k string) string {
	if o.path == "" {
		return k
	}
	return o.path + "." + k
}

// raw returns the value of k; nil when absent (an error if required). JSON null counts as absent.
func (o *cfgObject) raw(k string, required bool) json.RawMessage {
	if o == nil {
		return nil
	}
	v, ok := o.m[k]
	if ok && string(bytes.TrimSpace(v)) == "null" {
		v, ok = nil, false
	}
	if !ok && required {
		o.r.fail(o.key(k), "missing (required)")
	}
	return v
}

func short(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func (o *cfgObject) int(k string, required bool, def int) (int, bool) {
	raw := o.raw(k, required)
	if raw == nil {
		return def, false
	}
	n, err := parseInt(raw)
	if err != nil {
		o.r.fail(o.key(k), "want an integer, got %s", short(raw))
		return def, false
	}
	return n, true
}

func parseInt(raw json.RawMessage) (int, error) {
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&num); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n != int64(int(n)) {
		return 0, fmt.Errorf("not an integer")
	}
	return int(n), nil
}

// optInt reads an id that may be absent or null (-1).
func (o *cfgObject) optInt(k string) (int, bool) { return o.int(k, false, -1) }

// side reads image_size / patch_size: an integer, or (v5) a list of two equal integers.
func (o *cfgObject) side(k string) int {
	raw := o.raw(k, true)
	if raw == nil {
		return 0
	}
	if n, err := parseInt(raw); err == nil {
		return n
	}
	var l []json.RawMessage
	if json.Unmarshal(raw, &l) == nil && len(l) == 2 {
		a, err1 := parseInt(l[0])
		b, err2 := parseInt(l[1])
		if err1 == nil && err2 == nil && a == b {
			return a
		}
	}
	o.r.fail(o.key(k), "want an integer (or two equal integers), got %s", short(raw))
	return 0
}

func (o *cfgObject) intOrInts(k string) []int {
	raw := o.raw(k, false)
	if raw == nil {
		return nil
	}
	if n, err := parseInt(raw); err == nil {
		return []int{n}
	}
	if l, ok := ints(raw); ok {
		return l
	}
	o.r.fail(o.key(k), "want an integer or a list of integers, got %s", short(raw))
	return nil
}

func ints(raw json.RawMessage) ([]int, bool) {
	var l []json.RawMessage
	if json.Unmarshal(raw, &l) != nil || l == nil {
		return nil, false
	}
	out := make([]int, len(l))
	for i, e := range l {
		n, err := parseInt(e)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func (o *cfgObject) float(k string, required bool, def float64) (float64, bool) {
	raw := o.raw(k, required)
	if raw == nil {
		return def, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		o.r.fail(o.key(k), "want a number, got %s", short(raw))
		return def, false
	}
	return f, true
}

func (o *cfgObject) bool(k string, required bool, def bool) (bool, bool) {
	raw := o.raw(k, required)
	if raw == nil {
		return def, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		o.r.fail(o.key(k), "want true or false, got %s", short(raw))
		return def, false
	}
	return b, true
}

func (o *cfgObject) str(k string, required bool, def string) (string, bool) {
	raw := o.raw(k, required)
	if raw == nil {
		return def, false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		o.r.fail(o.key(k), "want a string, got %s", short(raw))
		return def, false
	}
	return s, true
}

// sameInt reads a top-level id that text_config may repeat; the two must agree.
func (r *cfgReader) sameInt(top, text *cfgObject, k string, def int) int {
	v, ok := top.int(k, false, def)
	if tv, tok := text.int(k, false, def); tok {
		if ok && tv != v {
			r.fail(text.key(k), "is %d but %s is %d", tv, k, v)
		} else if !ok {
			v = tv
		}
	}
	return v
}

// oneOf reads a string stored under any of keys (spellings of one value); they must agree.
func (r *cfgReader) oneOf(o *cfgObject, def string, keys ...string) string {
	val, from := def, ""
	for _, k := range keys {
		if s, ok := o.str(k, false, ""); ok {
			if from != "" && s != val {
				r.fail(o.key(k), "is %q but %s is %q", s, o.key(from), val)
			}
			val, from = s, k
		}
	}
	return val
}

// ropeFloat, ropeStr and ropeInts read a rope value that may be spelled in several objects
// (nil objects are skipped); all spellings present must agree.
func (r *cfgReader) ropeFloat(srcs []*cfgObject, k string, def float64) float64 {
	val, from := def, ""
	for _, o := range srcs {
		if o == nil {
			continue
		}
		if f, ok := o.float(k, false, 0); ok {
			if from != "" && f != val {
				r.fail(o.key(k), "is %v but %s is %v", f, from, val)
			}
			val, from = f, o.key(k)
		}
	}
	return val
}

func (r *cfgReader) ropeStr(srcs []*cfgObject, def string, keys ...string) string {
	val, from := def, ""
	for _, o := range srcs[1:] { // rope_type lives only inside rope_parameters / rope_scaling
		if o == nil {
			continue
		}
		for _, k := range keys {
			if s, ok := o.str(k, false, ""); ok {
				if from != "" && s != val {
					r.fail(o.key(k), "is %q but %s is %q", s, from, val)
				}
				val, from = s, o.key(k)
			}
		}
	}
	return val
}

func (r *cfgReader) ropeInts(srcs []*cfgObject, k string) []int {
	var val []int
	from := ""
	for _, o := range srcs {
		if o == nil {
			continue
		}
		raw := o.raw(k, false)
		if raw == nil {
			continue
		}
		l, ok := ints(raw)
		if !ok {
			r.fail(o.key(k), "want a list of integers, got %s", short(raw))
			continue
		}
		if from != "" && !slices.Equal(l, val) {
			r.fail(o.key(k), "is %v but %s is %v", l, from, val)
		}
		val, from = l, o.key(k)
	}
	if from == "" {
		r.fail("text_config.rope_scaling.mrope_section", "missing (required; or rope_parameters.mrope_section)")
	}
	return val
}
