package layout

import (
	"errors"
	"strings"
	"testing"
)

var glm45v = Model{DecoderLayers: 46, VisionUnits: 1}

func TestValidate(t *testing.T) {
	mtp := Model{DecoderLayers: 4, MTPLayers: 1}
	for _, tc := range []struct {
		in    string
		pp    int
		model Model
		col   int // 0: valid
		want  string
	}{
		{"VEt*5|(t*6|)*6t*5L", 8, glm45v, 0, ""},
		{"Et*5|(t*6|)*6t*5L", 8, Model{DecoderLayers: 46}, 0, ""},
		{"VEt*11|t*12|t*12|t*11L", 4, glm45v, 0, ""},
		{"VEt|(t*7|)*6t*3L", 8, glm45v, 0, ""},
		{"VEt|(t*3|)*14t*3L", 16, glm45v, 0, ""},
		{"VEt*2|t*2|t*3|t*3|(t*3|)*11t*3L", 4, glm45v, 0, ""}, // pp 4 × vp 4
		{"Et*2|t*2mL", 2, mtp, 0, ""},
		{"Et|t|t|tmL", 2, mtp, 0, ""},
		{"", 1, glm45v, 1, "the layout has 0 E units (embedding), the model has 1"},
		{"Et*5|(t*6|)*6t*5L", 8, glm45v, 18, "the layout has 0 V units (vision), the model has 1"},
		{"VEt*5|(t*6|)*6t*4L", 8, glm45v, 19, "the layout has 45 t units (decoder), the model has 46"},
		{"VEt*5|(t*6|)*6t*6L", 8, glm45v, 15, "t unit number 47 (decoder) but the model has 46"},
		{"VEEt*46L", 1, glm45v, 3, "E unit number 2 (embedding) but the model has 1"},
		{"VEt*46LL", 1, glm45v, 8, "L unit number 2 (loss)"},
		{"EVt*46L", 1, glm45v, 2, "V (vision) after E"},
		{"tVEt*45L", 1, glm45v, 1, "t (decoder) before E (embedding)"},
		{"VELt*46", 1, glm45v, 4, "t (decoder) after L (loss)"},
		{"V|Et*46L", 2, glm45v, 3, "E (embedding) is on stage 1 (rank 1, chunk 0); it must be on the first stage"},
		{"VEt*46L|", 2, glm45v, 7, "L (loss) is on stage 0; it must be on the last stage 1 (rank 1, chunk 0)"},
		{"Etmt*3L", 1, mtp, 4, "decoder layer after an MTP layer"},
		{"Et|m|t*3|L", 2, Model{DecoderLayers: 4, MTPLayers: 1}, 6, "decoder layer after an MTP layer"},
		{"Et*4|m||L", 2, mtp, 6, "MTP layer on chunk 0 of rank 1; MTP layers must be in a rank's last chunk (1)"},
		{"Et*2|t*2|m|L", 2, mtp, 0, ""},
		{"Et*2|t*2m|L", 3, mtp, 0, ""},
		{"Et*2|mt*2|L", 3, mtp, 7, "decoder layer after an MTP layer"},
		{"Et*2|t*2|m|mL", 2, Model{DecoderLayers: 4, MTPLayers: 2}, 12, "all MTP layers share one stage"},
		{"Et*2|t*2|m*2|L", 2, Model{DecoderLayers: 4, MTPLayers: 2}, 0, ""},
		{"Et*2|t|m|t|mL", 5, Model{DecoderLayers: 4, MTPLayers: 2}, 10, "decoder layer after an MTP layer"},
		{"Et*4|m|t|mL", 2, Model{DecoderLayers: 5, MTPLayers: 2}, 8, "decoder layer after an MTP layer"},
		{"Et*4|m|L|m", 2, Model{DecoderLayers: 4, MTPLayers: 2}, 10, "m (mtp) after L (loss)"},
	} {
		l, err := Parse(tc.in, tc.pp)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		err = l.Validate(tc.model)
		if tc.col == 0 {
			if err != nil {
				t.Errorf("Validate(%q): %v", tc.in, err)
			}
			continue
		}
		var le *Error
		if !errors.As(err, &le) || le.Offset+1 != tc.col || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%q): %v (column %d), want column %d containing %q", tc.in, err, offsetOf(le)+1, tc.col, tc.want)
		}
	}
	l, _ := Parse("Et*2|t*2|m|L", 2)
	if err := l.Validate(Model{DecoderLayers: -1}); err == nil {
		t.Error("negative model accepted")
	}
}

func offsetOf(e *Error) int {
	if e == nil {
		return -2
	}
	return e.Offset
}

// bridgeLayouts are set_glm_45v_pipeline_model_parallel_layout's maps (megatron-bridge.md 1.4),
// built the way the Python builds them.
func bridgeLayouts() map[string][][]string {
	rep := func(name string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name
		}
		return out
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	stages := func(first []string, mid []string, nmid int, last []string) [][]string {
		out := [][]string{first}
		for range nmid {
			out = append(out, mid)
		}
		return append(out, last)
	}
	emb, loss := []string{"embedding"}, []string{"loss"}
	pp4 := [][]string{cat(emb, rep("decoder", 11)), rep("decoder", 12), rep("decoder", 12), cat(rep("decoder", 11), loss)}
	return map[string][][]string{
		"peft-pp4":      pp4,
		"peft-pp8":      stages(cat(emb, rep("decoder", 5)), rep("decoder", 6), 6, cat(rep("decoder", 5), loss)),
		"peft-pp16":     stages(cat(emb, rep("decoder", 2)), rep("decoder", 3), 14, cat(rep("decoder", 2), loss)),
		"sft-pp4":       pp4,
		"sft-pp8":       stages(cat(emb, rep("decoder", 1)), rep("decoder", 7), 6, cat(rep("decoder", 3), loss)),
		"sft-pp16-v030": stages(emb, rep("decoder", 3), 14, cat(rep("decoder", 3), loss)),
		"sft-pp16-head": stages(cat(emb, rep("decoder", 1)), rep("decoder", 3), 14, cat(rep("decoder", 3), loss)),
	}
}

// TestGLM45VBridgeLayouts parses Megatron-Bridge's GLM-4.5V layouts in the list form, checks
// them against the compact strings, the 46-layer model and the per-stage decoder ranges, and
// reproduces the v0.3.0 PP16 SFT layout's missing decoder layer.
func TestGLM45VBridgeLayouts(t *testing.T) {
	text := Model{DecoderLayers: 46}
	for _, tc := range []struct {
		name, compact string
		pp            int
		firsts        []int // first decoder layer of each stage
		bad           string
	}{
		{"peft-pp4", "Et*11|t*12|t*12|t*11L", 4, []int{0, 11, 23, 35}, ""},
		{"peft-pp8", "Et*5|(t*6|)*6t*5L", 8, []int{0, 5, 11, 17, 23, 29, 35, 41}, ""},
		{"peft-pp16", "Et*2|(t*3|)*14t*2L", 16, []int{0, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 44}, ""},
		{"sft-pp4", "Et*11|t*12|t*12|t*11L", 4, []int{0, 11, 23, 35}, ""},
		{"sft-pp8", "Et|(t*7|)*6t*3L", 8, []int{0, 1, 8, 15, 22, 29, 36, 43}, ""},
		{"sft-pp16-head", "Et|(t*3|)*14t*3L", 16, []int{0, 1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34, 37, 40, 43}, ""},
		{"sft-pp16-v030", "E|(t*3|)*14t*3L", 16, nil, "layout stage 15: the layout has 45 t units (decoder), the model has 46"},
	} {
		l, err := ParseList(bridgeLayouts()[tc.name], tc.pp)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c, err := Parse(tc.compact, tc.pp)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if stagesString(l) != stagesString(c) || l.VP != 1 {
			t.Errorf("%s: list form %q, compact %q, vp %d", tc.name, stagesString(l), stagesString(c), l.VP)
		}
		err = l.Validate(text)
		if tc.bad != "" {
			if err == nil || err.Error() != tc.bad {
				t.Errorf("%s: got %v, want %q", tc.name, err, tc.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for j, want := range tc.firsts {
			if first, _ := l.Layers(j, Decoder); first != want {
				t.Errorf("%s stage %d: first decoder layer %d, want %d", tc.name, j, first, want)
			}
		}
		if last, n := l.Layers(tc.pp-1, Decoder); last+n != 46 {
			t.Errorf("%s: last stage ends at layer %d", tc.name, last+n)
		}
		// With the vision tower on stage 0 the same cut is valid for glmflow's GLM-4.5V.
		v, err := Parse("V"+l.String(), tc.pp)
		if err != nil || v.Validate(glm45v) != nil {
			t.Errorf("%s with V: %v", tc.name, err)
		}
	}
}

func TestInterleavedMapping(t *testing.T) {
	l, err := Parse("VEt*2|t*3|t*3|t*3|t*3|t*3|t*3|t*2L", 4)
	if err != nil {
		t.Fatal(err)
	}
	if l.VP != 2 || l.NumStages() != 8 {
		t.Fatalf("vp %d stages %d", l.VP, l.NumStages())
	}
	// Megatron's order: stage j on rank j mod pp, chunk j / pp.
	for j := range 8 {
		if l.Rank(j) != j%4 || l.Chunk(j) != j/4 || l.Stage(l.Rank(j), l.Chunk(j)) != j {
			t.Errorf("stage %d: rank %d chunk %d", j, l.Rank(j), l.Chunk(j))
		}
	}
	if got := l.RankStages(1); len(got) != 2 || got[0] != 1 || got[1] != 5 {
		t.Errorf("RankStages(1) = %v", got)
	}
	if first, n := l.Layers(5, Decoder); first != 14 || n != 3 {
		t.Errorf("stage 5 decoder layers %d+%d, want 14+3", first, n)
	}
	if err := l.Validate(Model{DecoderLayers: 22, VisionUnits: 1}); err != nil {
		t.Error(err)
	}
	want := "rank 0:  [chunk 0, stage 0] VEt*2  [chunk 1, stage 4] t*3\n"
	if got := strings.SplitAfter(l.Table(), "\n")[0]; got != want {
		t.Errorf("Table first line %q, want %q", got, want)
	}
	if l.Total(Decoder) != 22 || l.Count(7, Loss) != 1 {
		t.Errorf("counts: %d decoders, %d loss on stage 7", l.Total(Decoder), l.Count(7, Loss))
	}
}
