package hub

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseShardName(t *testing.T) {
	for _, c := range []struct {
		name         string
		split        string
		index, count int
		ok           bool
	}{
		{"train-00000-of-00001.parquet", "train", 0, 1, true},
		{"train-00003-of-00004-b4aaeceff1d90ecb.parquet", "train", 3, 4, true},
		{"validation-00001-of-00002.parquet", "validation", 1, 2, true},
		{"my-split-00000-of-00001.parquet", "my-split", 0, 1, true},
		{"train-00002-of-00002.parquet", "", 0, 0, false}, // index ≥ count
		{"train-00000-of-00000.parquet", "", 0, 0, false},
		{"train-0-of-1.parquet", "", 0, 0, false},
		{"train-00000-of-00001-XYZ.parquet", "", 0, 0, false},
		{"train-00000-of-00001.json", "", 0, 0, false},
		{"-00000-of-00001.parquet", "", 0, 0, false},
		{"0000.parquet", "", 0, 0, false},
	} {
		s, i, n, ok := ParseShardName(c.name)
		if s != c.split || i != c.index || n != c.count || ok != c.ok {
			t.Errorf("%s: got (%q,%d,%d,%v), want (%q,%d,%d,%v)", c.name, s, i, n, ok, c.split, c.index, c.count, c.ok)
		}
	}
}

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSplitFiles(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	touch(t,
		filepath.Join(d, "train-00001-of-00003-bbb.parquet"),
		filepath.Join(d, "train-00000-of-00003-aaa.parquet"),
		filepath.Join(d, "train-00002-of-00003-ccc.parquet"),
		filepath.Join(d, "test-00000-of-00001.parquet"),
		filepath.Join(d, "README.md"),
		filepath.Join(dir, "raven", "train-00000-of-00001.parquet"),
		filepath.Join(dir, "conv", "train", "0000.parquet"),
		filepath.Join(dir, "conv", "train", "0001.parquet"),
	)
	got, err := SplitFiles(dir, "", "train")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(d, "train-00000-of-00003-aaa.parquet"), filepath.Join(d, "train-00001-of-00003-bbb.parquet"), filepath.Join(d, "train-00002-of-00003-ccc.parquet")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("train: %v, want %v", got, want)
	}
	if got, err := SplitFiles(dir, "raven", "train"); err != nil || len(got) != 1 {
		t.Errorf("raven/train: %v %v", got, err)
	}
	if got, err := SplitFiles(dir, "conv", "train"); err != nil || len(got) != 2 || filepath.Base(got[1]) != "0001.parquet" {
		t.Errorf("conv/train/: %v %v", got, err)
	}
	if _, err := SplitFiles(dir, "", "validation"); err == nil || !strings.Contains(err.Error(), `"validation"`) {
		t.Errorf("missing split: %v", err)
	}
	splits, err := Splits(dir, "")
	if err != nil || !reflect.DeepEqual(splits, []string{"test", "train"}) {
		t.Errorf("Splits: %v %v", splits, err)
	}
	if splits, err := Splits(dir, "conv"); err != nil || !reflect.DeepEqual(splits, []string{"train"}) {
		t.Errorf("Splits of the conversion layout: %v %v", splits, err)
	}
	files, err := Resolve([]string{want[2], dir}, "", "test")
	if err != nil || len(files) != 2 || files[0] != want[2] {
		t.Errorf("Resolve: %v %v", files, err)
	}
}

func TestSplitFilesIncomplete(t *testing.T) {
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{"train-00000-of-00003.parquet", "train-00002-of-00003.parquet"}, "train-00001-of-00003.parquet is missing"},
		{[]string{"train-00000-of-00002.parquet", "train-00001-of-00003.parquet"}, "shard counts disagree"},
		{[]string{"train-00000-of-00002-aa.parquet", "train-00000-of-00002-bb.parquet", "train-00001-of-00002.parquet"}, "shard 0 appears twice"},
	} {
		dir := t.TempDir()
		for _, f := range c.files {
			touch(t, filepath.Join(dir, "data", f))
		}
		_, err := SplitFiles(dir, "", "train")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.files, err, c.want)
		}
	}
	dir := t.TempDir()
	touch(t, filepath.Join(dir, "cfg", "train", "0000.parquet"), filepath.Join(dir, "cfg", "train", "0002.parquet"))
	if _, err := SplitFiles(dir, "cfg", "train"); err == nil || !strings.Contains(err.Error(), "0001.parquet is missing") {
		t.Errorf("conversion layout gap: %v", err)
	}
}

func TestMiniDatasetLayouts(t *testing.T) {
	for _, c := range []struct {
		dir, config, split string
		n                  int
	}{
		{"cord-v2", "", "train", 2}, {"cord-v2", "", "validation", 1}, {"cord-v2", "", "test", 1},
		{"medpix-vqa", "", "train", 1}, {"medpix-vqa", "", "validation", 1},
		{"the_cauldron", "raven", "train", 1},
	} {
		files, err := SplitFiles(filepath.Join(miniDir, c.dir), c.config, c.split)
		if err != nil || len(files) != c.n {
			t.Errorf("%s/%s %s: %v %v", c.dir, c.config, c.split, files, err)
		}
	}
}
