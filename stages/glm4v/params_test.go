package glm4v

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// docTensor is one row of glm45v.md §2.6 / §3.8: a name pattern with {i} over [lo, hi] and
// {e} over experts [0, 127].
type docTensor struct {
	pat    string
	lo, hi int
	shape  []int
	dtype  tensors.DType
}

var docListing = []docTensor{
	// §2.6 vision (all bf16).
	{"model.visual.patch_embed.proj.weight", 0, 0, []int{1536, 3, 2, 14, 14}, tensors.BF16},
	{"model.visual.patch_embed.proj.bias", 0, 0, []int{1536}, tensors.BF16},
	{"model.visual.post_conv_layernorm.weight", 0, 0, []int{1536}, tensors.BF16},
	{"model.visual.embeddings.position_embedding.weight", 0, 0, []int{576, 1536}, tensors.BF16},
	{"model.visual.blocks.{i}.norm1.weight", 0, 23, []int{1536}, tensors.BF16},
	{"model.visual.blocks.{i}.norm2.weight", 0, 23, []int{1536}, tensors.BF16},
	{"model.visual.blocks.{i}.attn.qkv.weight", 0, 23, []int{4608, 1536}, tensors.BF16},
	{"model.visual.blocks.{i}.attn.proj.weight", 0, 23, []int{1536, 1536}, tensors.BF16},
	{"model.visual.blocks.{i}.mlp.gate_proj.weight", 0, 23, []int{4096, 1536}, tensors.BF16},
	{"model.visual.blocks.{i}.mlp.up_proj.weight", 0, 23, []int{4096, 1536}, tensors.BF16},
	{"model.visual.blocks.{i}.mlp.down_proj.weight", 0, 23, []int{1536, 4096}, tensors.BF16},
	{"model.visual.post_layernorm.weight", 0, 0, []int{1536}, tensors.BF16},
	{"model.visual.downsample.weight", 0, 0, []int{4096, 1536, 2, 2}, tensors.BF16},
	{"model.visual.downsample.bias", 0, 0, []int{4096}, tensors.BF16},
	{"model.visual.merger.proj.weight", 0, 0, []int{4096, 4096}, tensors.BF16},
	{"model.visual.merger.post_projection_norm.weight", 0, 0, []int{4096}, tensors.BF16},
	{"model.visual.merger.post_projection_norm.bias", 0, 0, []int{4096}, tensors.BF16},
	{"model.visual.merger.gate_proj.weight", 0, 0, []int{10944, 4096}, tensors.BF16},
	{"model.visual.merger.up_proj.weight", 0, 0, []int{10944, 4096}, tensors.BF16},
	{"model.visual.merger.down_proj.weight", 0, 0, []int{4096, 10944}, tensors.BF16},
	// §3.8 text.
	{"model.language_model.embed_tokens.weight", 0, 0, []int{151552, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.input_layernorm.weight", 0, 45, []int{4096}, tensors.BF16},
	{"model.language_model.layers.{i}.post_attention_layernorm.weight", 0, 45, []int{4096}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.q_proj.weight", 0, 45, []int{12288, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.q_proj.bias", 0, 45, []int{12288}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.k_proj.weight", 0, 45, []int{1024, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.k_proj.bias", 0, 45, []int{1024}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.v_proj.weight", 0, 45, []int{1024, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.v_proj.bias", 0, 45, []int{1024}, tensors.BF16},
	{"model.language_model.layers.{i}.self_attn.o_proj.weight", 0, 45, []int{4096, 12288}, tensors.BF16},
	{"model.language_model.layers.0.mlp.gate_proj.weight", 0, 0, []int{10944, 4096}, tensors.BF16},
	{"model.language_model.layers.0.mlp.up_proj.weight", 0, 0, []int{10944, 4096}, tensors.BF16},
	{"model.language_model.layers.0.mlp.down_proj.weight", 0, 0, []int{4096, 10944}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.gate.weight", 1, 45, []int{128, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.gate.e_score_correction_bias", 1, 45, []int{128}, tensors.F32},
	{"model.language_model.layers.{i}.mlp.experts.{e}.gate_proj.weight", 1, 45, []int{1408, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.experts.{e}.up_proj.weight", 1, 45, []int{1408, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.experts.{e}.down_proj.weight", 1, 45, []int{4096, 1408}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.shared_experts.gate_proj.weight", 1, 45, []int{1408, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.shared_experts.up_proj.weight", 1, 45, []int{1408, 4096}, tensors.BF16},
	{"model.language_model.layers.{i}.mlp.shared_experts.down_proj.weight", 1, 45, []int{4096, 1408}, tensors.BF16},
	{"model.language_model.norm.weight", 0, 0, []int{4096}, tensors.BF16},
	{"lm_head.weight", 0, 0, []int{151552, 4096}, tensors.BF16},
}

func expandDoc() map[string]docTensor {
	out := map[string]docTensor{}
	for _, d := range docListing {
		for i := d.lo; i <= d.hi; i++ {
			n := strings.ReplaceAll(d.pat, "{i}", fmt.Sprint(i))
			if !strings.Contains(n, "{e}") {
				out[n] = d
				continue
			}
			for e := 0; e < 128; e++ {
				out[strings.ReplaceAll(n, "{e}", fmt.Sprint(e))] = d
			}
		}
	}
	return out
}

// TestRealStructure: the tree built from the real config is exactly the hub checkpoint of
// glm45v.md §2.6 / §3.8, and building it allocates almost nothing.
func TestRealStructure(t *testing.T) {
	cfg := realConfig(t)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	p, err := NewParams(cfg)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("NewParams allocated %d bytes for %d slots", alloc, len(p.all))
	if alloc > 2<<20 {
		t.Errorf("NewParams allocated %d bytes; the structure should need well under 10 MB", alloc)
	}
	if err := p.Walk(func(name string, s *Param) error {
		if s.T != nil {
			return fmt.Errorf("%s has a tensor", name)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	runtime.ReadMemStats(&m0)
	specs := p.Specs()
	runtime.ReadMemStats(&m1)
	t.Logf("Specs allocated %d bytes", m1.TotalAlloc-m0.TotalAlloc)
	if a := m1.TotalAlloc - m0.TotalAlloc; a > 10<<20 {
		t.Errorf("Specs allocated %d bytes for 18,106 entries", a)
	}
	if len(specs) != 18106 {
		t.Errorf("%d tensors, want 18,106", len(specs))
	}
	var total int64
	for _, s := range specs {
		total += s.Numel()
	}
	if total != 107_710_933_120 || p.NumParams(nil) != total {
		t.Errorf("%d parameters (NumParams %d), want 107,710,933,120", total, p.NumParams(nil))
	}
	if n := p.NumParams(SelectVision()); n != 858_681_856 {
		t.Errorf("vision: %d parameters, want 858,681,856", n)
	}
	if n := p.NumParams(Any(prefix(LanguagePrefix), prefix(LMHeadPrefix))); n != 106_852_251_264 {
		t.Errorf("text: %d parameters, want 106,852,251,264", n)
	}
	if !slices.IsSortedFunc(specs, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Specs not sorted by name")
	}

	want := expandDoc()
	if len(want) != 18106 {
		t.Fatalf("doc listing expands to %d names", len(want))
	}
	for _, s := range specs {
		d, ok := want[s.Name]
		switch {
		case !ok:
			t.Errorf("%s is not in the doc listing", s.Name)
		case !slices.Equal(s.Shape, d.shape) || s.DType != d.dtype:
			t.Errorf("%s: %v%v, doc says %v%v", s.Name, s.DType, s.Shape, d.dtype, d.shape)
		}
		delete(want, s.Name)
	}
	for n := range want {
		t.Errorf("doc tensor %s missing from Specs", n)
	}
}

func TestWalkSelectAndNames(t *testing.T) {
	p, err := NewParams(realConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	p.Walk(func(name string, s *Param) error {
		if name != s.Name {
			t.Errorf("Walk name %q for slot %q", name, s.Name)
		}
		names = append(names, name)
		return nil
	})
	if !slices.IsSorted(names) {
		t.Error("Walk is not in name order")
	}
	L := &p.Language.Layers[7]
	for _, x := range []struct{ got, want string }{
		{L.Attn.Q.Bias.Name, "model.language_model.layers.7.self_attn.q_proj.bias"},
		{L.MoE.Experts.GateUp.Name, "model.language_model.layers.7.mlp.experts.gate_up_proj"},
		{L.MoE.Gate.EScoreCorrectionBias.Name, "model.language_model.layers.7.mlp.gate.e_score_correction_bias"},
		{p.Visual.Merger.MLP.GateProj.Weight.Name, "model.visual.merger.gate_proj.weight"},
		{p.Visual.Blocks[23].Attn.QKV.Weight.Name, "model.visual.blocks.23.attn.qkv.weight"},
		{p.Language.Layers[0].MLP.DownProj.Weight.Name, "model.language_model.layers.0.mlp.down_proj.weight"},
		{p.LMHead.Weight.Name, "lm_head.weight"},
	} {
		if x.got != x.want {
			t.Errorf("name %q, want %q", x.got, x.want)
		}
	}
	if L.MLP != nil || p.Language.Layers[0].MoE != nil || p.Visual.Blocks[0].Attn.QKV.Bias != nil || L.Attn.O.Bias != nil {
		t.Error("dense/MoE or bias presence wrong")
	}
	if got := L.MoE.Experts.GateUp.Shape; !slices.Equal(got, []int{128, 2816, 4096}) {
		t.Errorf("fused gate_up shape %v", got)
	}
	if s, ok := p.Param("model.language_model.layers.7.mlp.experts.down_proj"); !ok || s != &L.MoE.Experts.Down {
		t.Error("Param lookup of the fused down_proj")
	}
	if hn := L.MoE.Experts.Down.HubNames(); len(hn) != 128 || hn[5] != "model.language_model.layers.7.mlp.experts.5.down_proj.weight" {
		t.Errorf("HubNames: %d, %q", len(hn), hn[5])
	}

	count := func(sel Selector) int { return len(p.hubTensors(sel)) }
	for _, x := range []struct {
		name string
		sel  Selector
		want int
	}{
		{"vision", SelectVision(), 181}, {"embed", SelectEmbed(), 1}, {"head", SelectHead(), 2},
		{"layer 0", SelectLayers(0, 1), 12}, {"layer 1", SelectLayers(1, 2), 9 + 2 + 384 + 3},
		{"layers 0-46", SelectLayers(0, 46), 18106 - 181 - 3}, {"none", SelectLayers(46, 100), 0},
		{"any", Any(SelectEmbed(), SelectHead()), 3},
	} {
		if got := count(x.sel); got != x.want {
			t.Errorf("%s selects %d tensors, want %d", x.name, got, x.want)
		}
	}
	for name, want := range map[string]int{"model.language_model.layers.10.x": 10, "model.language_model.layers.0.y": 0,
		"model.language_model.layers.01.x": -1, "model.language_model.layers.x": -1, "model.language_model.layers.3": -1,
		"model.visual.blocks.1.x": -1} {
		i, ok := LayerIndex(name)
		if (want < 0) == ok || (ok && i != want) {
			t.Errorf("LayerIndex(%q) = %d, %v", name, i, ok)
		}
	}
}

func TestVariants(t *testing.T) {
	c := tinyConfig(t)
	c.TieWordEmbeddings = true
	c.Text.UseQKNorm = true
	c.Text.NSharedExperts = 0
	c.Text.AttentionBias = false
	c.Vision.AttentionBias = true
	p, err := NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.LMHead != nil {
		t.Error("tied model has an lm_head")
	}
	L := p.Language.Layers[1]
	if L.Attn.QNorm == nil || L.Attn.QNorm.Weight.Name != "model.language_model.layers.1.self_attn.q_norm.weight" ||
		!slices.Equal(L.Attn.KNorm.Weight.Shape, []int{16}) {
		t.Error("q_norm/k_norm")
	}
	if L.MoE.SharedExperts != nil || L.Attn.Q.Bias != nil || p.Visual.Blocks[1].Attn.QKV.Bias == nil {
		t.Error("shared experts / biases")
	}
	c.Text.FirstKDenseReplace = 3 // all dense
	if p, err = NewParams(c); err != nil || p.Language.Layers[2].MLP == nil {
		t.Errorf("all-dense config: %v", err)
	}
	c.Text.NumKeyValueHeads = 3
	if _, err := NewParams(c); err == nil || !strings.Contains(err.Error(), "num_key_value_heads") {
		t.Errorf("invalid config: %v", err)
	}
}

func TestExpertViews(t *testing.T) {
	p, err := NewParams(tinyConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	x := &p.Language.Layers[2].MoE.Experts
	if _, err := x.GateProj(0); err == nil {
		t.Error("view of an unloaded param")
	}
	if err := InitParams(p, 3, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	const E, F, D = 8, 32, 64
	all := x.GateUp.T.F32()
	for e := 0; e < E; e++ {
		g, err1 := x.GateProj(e)
		u, err2 := x.UpProj(e)
		d, err3 := x.DownProj(e)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if !slices.Equal(g.Shape(), []int{F, D}) || !slices.Equal(d.Shape(), []int{D, F}) {
			t.Fatalf("view shapes %v %v", g.Shape(), d.Shape())
		}
		base := e * 2 * F * D
		if !reflect.DeepEqual(g.F32(), all[base:base+F*D]) || !reflect.DeepEqual(u.F32(), all[base+F*D:base+2*F*D]) ||
			!reflect.DeepEqual(d.F32(), x.Down.T.F32()[e*D*F:(e+1)*D*F]) {
			t.Errorf("expert %d views do not match the fused layout", e)
		}
	}
}
