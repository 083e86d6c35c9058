package glm4v

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

// initTiny returns the tiny model in dtype, initialised from seed with a non-zero selection bias.
func initTiny(t testing.TB, dtype string, seed uint64) *Params {
	t.Helper()
	c := tinyConfig(t)
	c.DType = dtype
	p, err := NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := InitParams(p, seed, InitOptions{SelectionBiasStd: 0.05}); err != nil {
		t.Fatal(err)
	}
	return p
}

func roundBF16(x float32) float32 { return tensors.BF16ToF32Scalar(tensors.BF16FromF32(x)) }

// sameValues checks got == want for every slot sel accepts, want rounded to each slot's
// checkpoint dtype when round is set.
func sameValues(t *testing.T, got, want *Params, sel Selector, round bool) {
	t.Helper()
	bad := 0
	for _, w := range want.Select(sel) {
		g, _ := got.Param(w.Name)
		if g.T == nil {
			t.Errorf("%s not loaded", w.Name)
			continue
		}
		gv, wv := g.T.F32(), w.T.F32()
		for i := range wv {
			x := wv[i]
			if round && w.DType == tensors.BF16 {
				x = roundBF16(x)
			}
			if gv[i] != x {
				if bad++; bad < 5 {
					t.Errorf("%s[%d] = %v, want %v", w.Name, i, gv[i], x)
				}
				break
			}
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	fa, fb := readDir(t, a), readDir(t, b)
	if len(fa) != len(fb) {
		t.Errorf("%d files vs %d", len(fa), len(fb))
	}
	for n, x := range fa {
		if !bytes.Equal(x, fb[n]) {
			t.Errorf("%s differs between %s and %s", n, a, b)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, dtype := range []string{"float32", "bfloat16"} {
		for _, shard := range []int64{DefaultMaxShardBytes, 40_000} {
			t.Run(dtype+"/"+map[bool]string{true: "single", false: "sharded"}[shard == DefaultMaxShardBytes], func(t *testing.T) {
				p := initTiny(t, dtype, 1)
				dir := t.TempDir()
				if err := Save(dir, p, shard); err != nil {
					t.Fatal(err)
				}
				files := readDir(t, dir)
				_, hasIndex := files[safetensors.IndexName]
				if hasIndex != (shard != DefaultMaxShardBytes) || (hasIndex && len(files) < 4) {
					t.Errorf("files written: %d, index %v", len(files), hasIndex)
				}
				c, err := LoadConfig(filepath.Join(dir, ConfigName))
				if err != nil {
					t.Fatal(err)
				}
				p2, err := NewParams(c)
				if err != nil {
					t.Fatal(err)
				}
				if err := Load(dir, p2, nil); err != nil {
					t.Fatal(err)
				}
				if err := p2.Check(nil); err != nil {
					t.Fatal(err)
				}
				sameValues(t, p2, p, nil, true)
				ck, err := safetensors.OpenDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer ck.Close()
				for _, s := range p.Specs() {
					info, err := ck.Info(s.Name)
					if err != nil || info.DType != s.DType || !slices.Equal(info.Shape, s.Shape) {
						t.Fatalf("%s on disk: %+v, %v; want %v%v", s.Name, info, err, s.DType, s.Shape)
					}
				}
				if md := ck.Metadata(); !hasIndex && md["format"] != "pt" {
					t.Errorf("metadata %v lacks format=pt", md)
				}
				dir2 := t.TempDir() // saving what was loaded reproduces the files
				if err := Save(dir2, p2, shard); err != nil {
					t.Fatal(err)
				}
				sameFiles(t, dir, dir2)
			})
		}
	}
}

// fusedCheckpoint writes p in the transformers-v5 layout (fused experts) in dtype.
func fusedCheckpoint(t *testing.T, p *Params, dt tensors.DType, maxShard int64) string {
	t.Helper()
	ts := map[string]*tensors.Tensor{}
	p.Walk(func(name string, s *Param) error {
		x := s.T
		if s.DType != tensors.F32 {
			var err error
			if x, err = s.T.FromF32To(dt); err != nil {
				t.Fatal(err)
			}
		}
		ts[name] = x
		return nil
	})
	dir := t.TempDir()
	if _, err := safetensors.WriteSharded(dir, ts, nil, maxShard); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadFusedExperts(t *testing.T) {
	for _, tc := range []struct {
		dtype string
		dt    tensors.DType
		shard int64
	}{{"float32", tensors.F32, 1 << 30}, {"bfloat16", tensors.BF16, 1 << 30}, {"bfloat16", tensors.BF16, 30_000}} {
		p := initTiny(t, tc.dtype, 2)
		dir := fusedCheckpoint(t, p, tc.dt, tc.shard)
		p2, _ := NewParams(p.Config)
		if err := Load(dir, p2, nil); err != nil {
			t.Fatal(err)
		}
		sameValues(t, p2, p, nil, true)
		// Fused and per-expert give the same slots: save (per expert) and compare with a fresh save.
		a, b := t.TempDir(), t.TempDir()
		if err := Save(a, p2, 1<<30); err != nil {
			t.Fatal(err)
		}
		p3, _ := NewParams(p.Config)
		if err := Load(a, p3, nil); err != nil {
			t.Fatal(err)
		}
		if err := Save(b, p3, 1<<30); err != nil {
			t.Fatal(err)
		}
		sameFiles(t, a, b)
	}
}

func TestLoadSubsetOpensOnlyItsShards(t *testing.T) {
	p := initTiny(t, "bfloat16", 4)
	dir := t.TempDir()
	if err := Save(dir, p, 20_000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sel  Selector
	}{{"layer 1", SelectLayers(1, 2)}, {"vision", SelectVision()}, {"head", SelectHead()}, {"embed+layer 0", Any(SelectEmbed(), SelectLayers(0, 1))}} {
		ck, err := safetensors.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := NewParams(p.Config)
		if err := LoadFrom(ck, p2, tc.sel); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, n := range ck.Names() {
			if tc.sel(n) {
				f, _ := ck.ShardOf(n)
				want = append(want, f)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		if got := ck.Opened(); !slices.Equal(got, want) || len(got) >= len(ck.Shards()) {
			t.Errorf("%s: opened %v of %d shards, want %v", tc.name, got, len(ck.Shards()), want)
		}
		ck.Close()
		if err := p2.Check(tc.sel); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		sameValues(t, p2, p, tc.sel, true)
		for _, s := range p2.Select(nil) {
			if !tc.sel(s.Name) && s.T != nil {
				t.Errorf("%s: %s loaded but not selected", tc.name, s.Name)
			}
		}
		if err := p2.Check(nil); err == nil || !strings.Contains(err.Error(), "not loaded") {
			t.Errorf("%s: Check(all) = %v", tc.name, err)
		}
	}
}

func TestLoadReportsMismatches(t *testing.T) {
	p := initTiny(t, "float32", 5)
	ts := map[string]*tensors.Tensor{}
	for _, h := range p.hubTensors(nil) {
		ts[h.Name] = tensors.MustF32(h.param.T.F32()[h.off:h.off+h.Numel()], h.Shape...)
	}
	delete(ts, "model.visual.post_layernorm.weight")
	for e := 0; e < 8; e++ { // 24 missing tensors: the listing is cut
		delete(ts, "model.language_model.layers.2.mlp.experts."+string(rune('0'+e))+".up_proj.weight")
	}
	ts["model.language_model.layers.1.mlp.experts.8.gate_proj.weight"] = tensors.New(tensors.F32, 32, 64) // extra expert
	ts["model.language_model.norm.weight"] = tensors.New(tensors.F32, 63)                                 // mis-shaped
	ts["lm_head.weight"] = tensors.New(tensors.I32, 512, 64)                                              // not a float
	ts["model.language_model.layers.3.self_attn.q_proj.weight"] = tensors.New(tensors.F32, 4, 4)          // MTP layer: ignored
	ts["model.visual.blocks.0.attn.qkv.bias"] = tensors.New(tensors.F32, 96)                              // extra
	dir := t.TempDir()
	if err := safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, nil); err != nil {
		t.Fatal(err)
	}
	p2, _ := NewParams(p.Config)
	err := Load(dir, p2, nil)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load: %v", err)
	}
	if len(le.Missing) != 9 || le.Missing[0] != "model.language_model.layers.2.mlp.experts.0.up_proj.weight" ||
		!slices.Contains(le.Missing, "model.visual.post_layernorm.weight") {
		t.Errorf("missing %v", le.Missing)
	}
	if !slices.Equal(le.Extra, []string{"model.language_model.layers.1.mlp.experts.8.gate_proj.weight", "model.visual.blocks.0.attn.qkv.bias"}) {
		t.Errorf("extra %v", le.Extra)
	}
	if !slices.Equal(le.Mismatched, []string{"lm_head.weight: I32[512 64], want a float dtype", "model.language_model.norm.weight: F32[63], want [64]"}) {
		t.Errorf("mismatched %v", le.Mismatched)
	}
	msg := err.Error()
	for _, w := range []string{dir, "9 missing", "(1 more)", "2 unexpected", "2 mis-shaped", "model.language_model.norm.weight: F32[63]"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	for _, s := range p2.Select(nil) {
		if s.T != nil {
			t.Fatalf("%s was read although the checkpoint was rejected", s.Name)
		}
	}
	// Problems outside the selection do not matter.
	if err := Load(dir, p2, SelectLayers(0, 1)); err != nil {
		t.Errorf("layer 0: %v", err)
	}
	err = Load(dir, p2, SelectVision())
	if !errors.As(err, &le) || !slices.Equal(le.Missing, []string{"model.visual.post_layernorm.weight"}) ||
		!slices.Equal(le.Extra, []string{"model.visual.blocks.0.attn.qkv.bias"}) || len(le.Mismatched) != 0 {
		t.Errorf("vision: %v", err)
	}
	if err := Load(t.TempDir(), p2, nil); err == nil {
		t.Error("empty dir: no error")
	}
}

func TestSaveReplacesShards(t *testing.T) {
	p := initTiny(t, "bfloat16", 6)
	dir := t.TempDir()
	if err := Save(dir, p, 20_000); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kept"), 0o644)
	if err := Save(dir, p, DefaultMaxShardBytes); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range readDir(t, dir) {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"config.json", "model.safetensors", "notes.txt"}) {
		t.Errorf("after re-save: %v", names)
	}
	p2, _ := NewParams(p.Config)
	if err := Load(dir, p2, nil); err != nil {
		t.Fatal(err)
	}
	unloaded, _ := NewParams(p.Config)
	if err := Save(t.TempDir(), unloaded, DefaultMaxShardBytes); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("saving an unloaded tree: %v", err)
	}
}
