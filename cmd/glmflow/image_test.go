package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors/safetensors"
)

func runImage(args ...string) (string, error) { return runCLI(append([]string{"image"}, args...)...) }

const imageTestdata = "../../transforms/imageproc/testdata"

func TestImageCmdWritesHFTensors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pv.safetensors")
	msg, err := runImage("--in", filepath.Join(imageTestdata, "pv_src.png"), "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	// pv_src.png is 61×47: smart_resize's minimum budget takes it to 112 wide × 84 high → grid (t, h, w) = (1, 6, 8).
	if !strings.Contains(msg, "pixel_values [48, 1176], image_grid_thw [1 6 8]") {
		t.Errorf("output %q", msg)
	}
	f, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pv, err := f.Tensor("pixel_values")
	if err != nil {
		t.Fatal(err)
	}
	if s := pv.Shape(); len(s) != 2 || s[0] != 48 || s[1] != 1176 {
		t.Errorf("pixel_values shape %v", s)
	}
	grid, err := f.Tensor("image_grid_thw")
	if err != nil {
		t.Fatal(err)
	}
	if g := grid.I64(); len(g) != 3 || g[0] != 1 || g[1] != 6 || g[2] != 8 {
		t.Errorf("image_grid_thw %v", g)
	}
	// Normalised CLIP values of 8-bit pixels lie in [(0-mean)/std, (1-mean)/std] ⊂ [-1.8, 2.2].
	for i, v := range pv.F32() {
		if v < -1.8 || v > 2.2 {
			t.Fatalf("pixel_values[%d] = %v out of range", i, v)
		}
	}
}

func TestImageCmdErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(imageTestdata, "broken", "skimage_truncated.jpg")
	_, err := runImage("--in", bad, "--out", filepath.Join(dir, "x.safetensors"))
	if err == nil || !strings.Contains(err.Error(), "skimage_truncated.jpg") {
		t.Errorf("err = %v, want the file named", err)
	}
	_, err = runImage("--in", filepath.Join(imageTestdata, "pv_src.png"), "--out", filepath.Join(dir, "y.safetensors"),
		"--min-pixels", "100", "--max-pixels", "10")
	if err == nil || !strings.Contains(err.Error(), "MaxPixels") {
		t.Errorf("bad budget: err = %v", err)
	}
}
