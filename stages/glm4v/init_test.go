package glm4v

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func stats(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

func TestInitRules(t *testing.T) {
	c := tinyConfig(t)
	c.DType = "float32"
	c.Vision.InitializerRange = 0.05 // vision tensors use the vision std
	p, err := NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := InitParams(p, 7, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Select(nil) {
		v := s.T.F32()
		switch s.Init.Kind {
		case InitOnes:
			if slices.ContainsFunc(v, func(x float32) bool { return x != 1 }) {
				t.Errorf("%s: not all ones", s.Name)
			}
		case InitZeros, InitRouterBias:
			if slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
				t.Errorf("%s: not all zeros", s.Name)
			}
		case InitNormal:
			mean, std := stats(v)
			want := 0.02
			if strings.HasPrefix(s.Name, VisionPrefix) {
				want = 0.05
			}
			if tol := 6 * want / math.Sqrt(float64(len(v))); math.Abs(mean) > tol || math.Abs(std-want) > 0.15*want {
				t.Errorf("%s: mean %.4g std %.4g, want N(0, %v²)", s.Name, mean, std, want)
			}
		}
	}
	emb := p.Language.EmbedTokens.Weight.T.F32()
	pad := p.Config.Text.PadTokenID
	for r := 0; r < p.Config.Text.VocabSize; r++ {
		row := emb[r*64 : (r+1)*64]
		zero := !slices.ContainsFunc(row, func(x float32) bool { return x != 0 })
		if zero != (r == pad) {
			t.Errorf("embed_tokens row %d all-zero = %v (padding row is %d)", r, zero, pad)
		}
	}
	for _, name := range []string{"model.visual.patch_embed.proj.bias", "model.visual.downsample.bias",
		"model.visual.merger.post_projection_norm.bias", "model.language_model.layers.0.self_attn.q_proj.bias"} {
		if s, ok := p.Param(name); !ok || s.Init.Kind != InitZeros {
			t.Errorf("%s: init %+v", name, s.Init)
		}
	}

	if err := InitParams(p, 7, InitOptions{SelectionBiasStd: 0.05}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		b := p.Language.Layers[i].MoE.Gate.EScoreCorrectionBias.T.F32()
		if slices.Contains(b, 0) || slices.ContainsFunc(b, func(x float32) bool { return math.Abs(float64(x)) > 0.3 }) {
			t.Errorf("layer %d selection bias %v: want non-zero N(0, 0.05²) draws", i, b)
		}
	}
}

func TestInitDeterministic(t *testing.T) {
	a, b, c := initTiny(t, "float32", 11), initTiny(t, "float32", 11), initTiny(t, "float32", 12)
	sameValues(t, a, b, nil, false)
	wa, wc := a.Language.Layers[1].Attn.Q.Weight.T.F32(), c.Language.Layers[1].Attn.Q.Weight.T.F32()
	if slices.Equal(wa, wc) {
		t.Error("seeds 11 and 12 give the same q_proj")
	}
	// A stage initialising only its own tensors gets the same values as the whole model.
	part, _ := NewParams(a.Config)
	sel := Any(SelectLayers(2, 3), SelectHead())
	if err := InitParams(part, 11, InitOptions{Select: sel, SelectionBiasStd: 0.05}); err != nil {
		t.Fatal(err)
	}
	sameValues(t, part, a, sel, false)
	for _, s := range part.Select(nil) {
		if !sel(s.Name) && s.T != nil {
			t.Errorf("%s initialised but not selected", s.Name)
		}
	}
	// Every expert gets its own stream.
	x := &a.Language.Layers[1].MoE.Experts
	g0, _ := x.GateProj(0)
	g1, _ := x.GateProj(1)
	u0, _ := x.UpProj(0)
	if slices.Equal(g0.F32(), g1.F32()) || slices.Equal(g0.F32(), u0.F32()) {
		t.Error("experts share random values")
	}
}

// TestWriteInitMatchesSave: streaming init writes exactly what InitParams + Save write.
func TestWriteInitMatchesSave(t *testing.T) {
	for _, dtype := range []string{"float32", "bfloat16"} {
		for _, shard := range []int64{DefaultMaxShardBytes, 50_000} {
			p := initTiny(t, dtype, 13)
			a, b := t.TempDir(), t.TempDir()
			if err := Save(a, p, shard); err != nil {
				t.Fatal(err)
			}
			q, _ := NewParams(p.Config)
			if err := WriteInit(b, q, 13, InitOptions{SelectionBiasStd: 0.05}, shard); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, a, b)
			for _, s := range q.Select(nil) {
				if s.T != nil {
					t.Fatalf("WriteInit allocated %s", s.Name)
				}
			}
		}
	}
	q, _ := NewParams(tinyConfig(t))
	if err := WriteInit(t.TempDir(), q, 1, InitOptions{Select: SelectVision()}, DefaultMaxShardBytes); err == nil {
		t.Error("WriteInit with a selection: no error")
	}
}

// TestTinyModel: the shipped tiny model loads, has a non-zero selection bias, and holds what
// its documented command generates (seed 0, --bias-std 0.05, bf16 storage).
func TestTinyModel(t *testing.T) {
	c := tinyConfig(t)
	p, err := NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := Load(tinyDir, p, nil); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if b := p.Language.Layers[i].MoE.Gate.EScoreCorrectionBias.T.F32(); slices.Contains(b, 0) {
			t.Errorf("layer %d: zero selection bias entry %v", i, b)
		}
	}
	want := initTiny(t, "bfloat16", 0)
	sameValues(t, p, want, nil, true)
}
