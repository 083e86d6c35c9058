package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/tokenizer"
)

func runDataInspect(args ...string) (string, error) {
	return runCLI(append([]string{"data", "inspect"}, args...)...)
}

func TestDataInspect(t *testing.T) {
	tokPath := "../../testdata/tokenizer/tokenizer.json"
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>What is this?<|assistant|>\n")
	answer := tok.Encode("A cat.")
	ids := slices.Concat(prompt, answer, tok.Encode("<|endoftext|>"))
	labels := make([]int32, len(ids))
	for i := range labels {
		labels[i] = shard.IgnoreIndex
		if j := i + 1; j >= len(prompt) && j < len(prompt)+len(answer) {
			labels[i] = ids[j]
		}
	}
	l := shard.Layout{ImageTokenID: 151363, MergeSize: 2, PatchSize: 14}
	s := shard.Sample{InputIDs: ids, Labels: labels, Grids: [][3]int32{{1, 2, 2}}, Pixels: [][]byte{make([]byte, 4*588)}, SourceFile: "data/train-00000-of-00001.parquet", SourceRow: 41}
	path := filepath.Join(t.TempDir(), "s.parquet")
	w, err := shard.Create(path, shard.WriterOptions{Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&s); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := runDataInspect(path, "--tokenizer", tokPath, "--color", "never")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1 rows in 1 row groups; image_token_id 151363, merge_size 2, patch_size 14",
		"data/train-00000-of-00001.parquet row 41",
		"image 0: grid (t=1, h=2, w=2): 4 patches, 1 tokens, 2352 bytes",
		"[gMASK]<sop><|user|>\n<|begin_of_image|><|image|>×1<|end_of_image|>What is this?<|assistant|>\n⟦A cat.⟧<|endoftext|>\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = runDataInspect(path, "--color", "always")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\x1b[32m[") || !strings.Contains(out, "[151363]×1") {
		t.Errorf("ids output:\n%s", out)
	}
	if _, err := runDataInspect(filepath.Join(t.TempDir(), "missing.parquet")); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("missing shard: %v", err)
	}
	if _, err := runDataInspect(path, "--color", "blue"); err == nil {
		t.Error("--color blue accepted")
	}
}
