package glm4v

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	realConfigPath = "../../testdata/glm45v/config.json"
	tinyDir        = "../../testdata/tiny"
)

func realConfig(t testing.TB) Config {
	t.Helper()
	c, err := LoadConfig(realConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tinyConfig(t testing.TB) Config {
	t.Helper()
	c, err := LoadConfig(tinyDir + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRealConfigValues(t *testing.T) {
	c := realConfig(t)
	tc, vc := c.Text, c.Vision
	for _, x := range []struct {
		name      string
		got, want any
	}{
		{"vocab", tc.VocabSize, 151552}, {"hidden", tc.HiddenSize, 4096}, {"intermediate", tc.IntermediateSize, 10944},
		{"moe_intermediate", tc.MoEIntermediateSize, 1408}, {"layers", tc.NumHiddenLayers, 46},
		{"heads", tc.NumAttentionHeads, 96}, {"kv", tc.NumKeyValueHeads, 8}, {"head_dim", tc.HeadDim, 128},
		{"rotary", tc.RotaryDim(), 64}, {"mrope", tc.MRopeSection, []int{8, 12, 12}}, {"theta", tc.RopeTheta, 10000.0},
		{"rope_type", tc.RopeType, "default"}, {"partial", tc.PartialRotaryFactor, 0.5},
		{"experts", tc.NRoutedExperts, 128}, {"topk", tc.NumExpertsPerTok, 8}, {"shared", tc.NSharedExperts, 1},
		{"first_k_dense", tc.FirstKDenseReplace, 1}, {"bias", tc.AttentionBias, true}, {"pad", tc.PadTokenID, 151329},
		{"bos", tc.BOSTokenID, -1}, {"eos", tc.EOSTokenIDs, []int{151329, 151336, 151338}},
		{"aux", tc.RouterAuxLossCoef, 1e-4}, {"max_pos", tc.MaxPositionEmbeddings, 65536},
		{"v.depth", vc.Depth, 24}, {"v.hidden", vc.HiddenSize, 1536}, {"v.heads", vc.NumHeads, 12},
		{"v.head_dim", vc.HeadDim(), 128}, {"v.intermediate", vc.IntermediateSize, 10944},
		{"v.out", vc.OutHiddenSize, 4096}, {"v.grid", vc.GridSize(), 24}, {"v.patch_dim", vc.PatchDim(), 1176},
		{"v.rope_theta", vc.RopeTheta, 10000.0}, {"v.bias", vc.AttentionBias, false},
		{"image", c.ImageTokenID, 151363}, {"video", c.VideoTokenID, 151364}, {"img_start", c.ImageStartTokenID, 151339},
		{"img_end", c.ImageEndTokenID, 151340}, {"vid_start", c.VideoStartTokenID, 151341},
		{"vid_end", c.VideoEndTokenID, 151342}, {"tie", c.TieWordEmbeddings, false}, {"dtype", c.DType, "bfloat16"},
	} {
		if !reflect.DeepEqual(x.got, x.want) {
			t.Errorf("%s = %v, want %v", x.name, x.got, x.want)
		}
	}
	if !tc.IsMoELayer(1) || tc.IsMoELayer(0) {
		t.Error("layer 0 must be dense, layer 1 MoE")
	}
}

// v5RealConfig is the real config as transformers v5 prints it: rope_parameters, dtype,
// vision model_type glm4v_moe_vision, plus keys glmflow does not model.
const v5RealConfig = `{
  "architectures": ["Glm4vMoeForConditionalGeneration"], "model_type": "glm4v_moe",
  "_name_or_path": "zai-org/GLM-4.5V", "transformers_version": "5.7.0", "output_attentions": false,
  "image_start_token_id": 151339, "image_end_token_id": 151340,
  "video_start_token_id": 151341, "video_end_token_id": 151342,
  "image_token_id": 151363, "video_token_id": 151364, "tie_word_embeddings": false, "dtype": "bfloat16",
  "text_config": {
    "model_type": "glm4v_moe_text", "vocab_size": 151552, "hidden_size": 4096,
    "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 46,
    "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128, "hidden_act": "silu",
    "attention_bias": true, "attention_dropout": 0.0, "use_qk_norm": false,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                        "mrope_section": [8, 12, 12]},
    "max_position_embeddings": 65536, "rms_norm_eps": 1e-05, "initializer_range": 0.02,
    "first_k_dense_replace": 1, "n_routed_experts": 128, "n_shared_experts": 1,
    "num_experts_per_tok": 8, "n_group": 1, "topk_group": 1, "norm_topk_prob": true,
    "routed_scaling_factor": 1.0, "router_aux_loss_coef": 0.0001, "pad_token_id": 151329,
    "eos_token_id": [151329, 151336, 151338], "bos_token_id": null, "dtype": "bfloat16",
    "use_cache": true, "id2label": {"0": "LABEL_0"}, "output_router_logits": false
  },
  "vision_config": {
    "model_type": "glm4v_moe_vision", "depth": 24, "hidden_size": 1536, "num_heads": 12,
    "intermediate_size": 10944, "out_hidden_size": 4096, "hidden_act": "silu",
    "attention_bias": false, "attention_dropout": 0.0, "image_size": 336, "patch_size": [14, 14],
    "temporal_patch_size": 2, "spatial_merge_size": 2, "in_channels": 3, "rms_norm_eps": 1e-05,
    "initializer_range": 0.02, "rope_parameters": {"rope_type": "axial", "rope_theta": 10000.0}
  }
}`

func TestBothSpellingsGiveTheSameConfig(t *testing.T) {
	want := realConfig(t)
	got, err := ParseConfig("v5.json", []byte(v5RealConfig))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v5 spelling:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	for _, c := range []Config{realConfig(t), tinyConfig(t)} {
		b := c.JSON()
		got, err := ParseConfig("written.json", b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
		if !strings.Contains(string(b), `"rms_norm_eps": 1e-05`) || !strings.Contains(string(b), `"rope_theta": 10000.0`) ||
			!strings.Contains(string(b), `"mrope_section": [`) {
			t.Errorf("floats or rope not written the Python/4.5x way:\n%s", b)
		}
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{0: "0.0", 1: "1.0", 1e-5: "1e-05", 1e-4: "0.0001", 0.02: "0.02",
		10000: "10000.0", 1e16: "1e+16", -2.5: "-2.5", 123456789012345.0: "123456789012345.0"} {
		b, err := pyFloat(f).MarshalJSON()
		if err != nil || string(b) != want {
			t.Errorf("pyFloat(%v) = %s, %v; want %s", f, b, err, want)
		}
	}
}

// TestBadConfigs: each mutation of the real config gives an error naming the file and the key.
func TestBadConfigs(t *testing.T) {
	raw, err := os.ReadFile(realConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	text := func(m map[string]any) map[string]any { return m["text_config"].(map[string]any) }
	vis := func(m map[string]any) map[string]any { return m["vision_config"].(map[string]any) }
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   []string
	}{
		{"wrong type", func(m map[string]any) { text(m)["vocab_size"] = "big" }, []string{"text_config.vocab_size", "want an integer"}},
		{"fractional int", func(m map[string]any) { text(m)["hidden_size"] = 4096.5 }, []string{"text_config.hidden_size", "want an integer"}},
		{"missing head_dim", func(m map[string]any) { delete(text(m), "head_dim") }, []string{"text_config.head_dim", "missing"}},
		{"null head_dim", func(m map[string]any) { text(m)["head_dim"] = nil }, []string{"text_config.head_dim", "missing"}},
		{"missing vision intermediate", func(m map[string]any) { delete(vis(m), "intermediate_size") }, []string{"vision_config.intermediate_size", "missing"}},
		{"missing text_config", func(m map[string]any) { delete(m, "text_config") }, []string{"text_config", "missing"}},
		{"text_config not object", func(m map[string]any) { m["text_config"] = []int{1} }, []string{"text_config", "JSON object"}},
		{"bool type", func(m map[string]any) { text(m)["attention_bias"] = "yes" }, []string{"text_config.attention_bias", "true or false"}},
		{"H % K", func(m map[string]any) { text(m)["num_key_value_heads"] = 7 }, []string{"text_config.num_key_value_heads", "multiple"}},
		{"mrope sum", func(m map[string]any) {
			text(m)["rope_scaling"] = map[string]any{"rope_type": "default", "mrope_section": []int{8, 12, 11}}
		}, []string{"mrope_section", "summing to rotary dims/2 = 32"}},
		{"mrope missing", func(m map[string]any) { text(m)["rope_scaling"] = map[string]any{"rope_type": "default"} }, []string{"mrope_section", "missing"}},
		{"partial", func(m map[string]any) { text(m)["partial_rotary_factor"] = 0.3 }, []string{"text_config.partial_rotary_factor"}},
		{"rope type", func(m map[string]any) {
			text(m)["rope_scaling"] = map[string]any{"rope_type": "yarn", "mrope_section": []int{8, 12, 12}}
		}, []string{"rope_type", "yarn"}},
		{"rope conflict", func(m map[string]any) {
			text(m)["rope_parameters"] = map[string]any{"rope_theta": 500000.0}
		}, []string{"text_config.rope_parameters.rope_theta", "text_config.rope_theta"}},
		{"dense > layers", func(m map[string]any) { text(m)["first_k_dense_replace"] = 47 }, []string{"text_config.first_k_dense_replace", "0..num_hidden_layers"}},
		{"top-k > experts", func(m map[string]any) { text(m)["num_experts_per_tok"] = 129 }, []string{"text_config.num_experts_per_tok"}},
		{"groups", func(m map[string]any) { text(m)["n_group"] = 3 }, []string{"text_config.n_group", "divisor"}},
		{"topk_group", func(m map[string]any) { text(m)["topk_group"] = 2 }, []string{"text_config.topk_group", "1..n_group"}},
		{"k over kept groups", func(m map[string]any) { text(m)["n_group"] = 32; text(m)["topk_group"] = 1 }, []string{"num_experts_per_tok", "kept group"}},
		{"merge", func(m map[string]any) { vis(m)["spatial_merge_size"] = 0 }, []string{"vision_config.spatial_merge_size", "want > 0"}},
		{"patch", func(m map[string]any) { vis(m)["patch_size"] = 15 }, []string{"vision_config.image_size", "patch_size"}},
		{"vision heads", func(m map[string]any) { vis(m)["num_heads"] = 7 }, []string{"vision_config.num_heads"}},
		{"out hidden", func(m map[string]any) { vis(m)["out_hidden_size"] = 2048 }, []string{"vision_config.out_hidden_size", "4096"}},
		{"image id", func(m map[string]any) { m["image_token_id"] = 151552; text(m)["image_token_id"] = 151552 }, []string{"image_token_id", "outside the vocabulary"}},
		{"same id", func(m map[string]any) { m["video_token_id"] = 151363 }, []string{"also image_token_id"}},
		{"text id disagrees", func(m map[string]any) { text(m)["image_token_id"] = 5 }, []string{"text_config.image_token_id", "151363"}},
		{"dtype", func(m map[string]any) { m["torch_dtype"] = "int8" }, []string{"torch_dtype", "int8"}},
		{"dtype spellings", func(m map[string]any) { m["dtype"] = "float32" }, []string{"dtype", "torch_dtype"}},
		{"act", func(m map[string]any) { text(m)["hidden_act"] = "gelu" }, []string{"text_config.hidden_act", "silu"}},
		{"model type", func(m map[string]any) { m["model_type"] = "glm4v" }, []string{"model_type", "glm4v_moe"}},
		{"vision model type", func(m map[string]any) { vis(m)["model_type"] = "siglip" }, []string{"vision_config.model_type"}},
		{"eos", func(m map[string]any) { text(m)["eos_token_id"] = []any{1, "x"} }, []string{"text_config.eos_token_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			tc.mutate(m)
			b, _ := json.Marshal(m)
			_, err := ParseConfig("bad/config.json", b)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append([]string{"bad/config.json"}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := ParseConfig("x.json", []byte("[1]")); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Errorf("non-object: %v", err)
	}
	if _, err := LoadConfig("does/not/exist.json"); err == nil || !strings.Contains(err.Error(), "does/not/exist.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestTinyConfig(t *testing.T) {
	c := tinyConfig(t)
	tc, vc := c.Text, c.Vision
	if tc.VocabSize != 512 || tc.HiddenSize != 64 || tc.NumHiddenLayers != 3 || tc.FirstKDenseReplace != 1 ||
		tc.NumAttentionHeads != 4 || tc.NumKeyValueHeads != 2 || tc.HeadDim != 16 || tc.RotaryDim() != 8 ||
		!reflect.DeepEqual(tc.MRopeSection, []int{2, 1, 1}) || tc.IntermediateSize != 96 || tc.MoEIntermediateSize != 32 ||
		tc.NRoutedExperts != 8 || tc.NumExpertsPerTok != 2 || tc.NSharedExperts != 1 || !tc.NormTopKProb || !tc.AttentionBias {
		t.Errorf("tiny text config %+v", tc)
	}
	if vc.Depth != 2 || vc.HiddenSize != 32 || vc.NumHeads != 2 || vc.OutHiddenSize != 64 || vc.IntermediateSize != 48 ||
		vc.PatchSize != 14 || vc.TemporalPatchSize != 2 || vc.SpatialMergeSize != 2 || vc.GridSize() != 4 {
		t.Errorf("tiny vision config %+v", vc)
	}
	// The special ids are those of the tiny model's tokenizer.json.
	raw, err := os.ReadFile(filepath.Join(tinyDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Added []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, a := range tok.Added {
		ids[a.Content] = a.ID
	}
	for _, c := range []struct {
		token string
		id    int
	}{
		{"<|image|>", c.ImageTokenID}, {"<|video|>", c.VideoTokenID}, {"<|begin_of_image|>", c.ImageStartTokenID},
		{"<|end_of_image|>", c.ImageEndTokenID}, {"<|begin_of_video|>", c.VideoStartTokenID}, {"<|end_of_video|>", c.VideoEndTokenID},
		{"<|endoftext|>", tc.PadTokenID}, {"<|endoftext|>", tc.EOSTokenIDs[0]}, {"<|user|>", tc.EOSTokenIDs[1]}, {"<|observation|>", tc.EOSTokenIDs[2]},
	} {
		if got, ok := ids[c.token]; !ok || got != c.id || c.id >= tc.VocabSize {
			t.Errorf("config id of %s is %d; tokenizer.json has %d (vocab %d)", c.token, c.id, got, tc.VocabSize)
		}
	}
}
