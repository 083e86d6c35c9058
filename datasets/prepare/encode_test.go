package prepare

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
)

func TestSampleEncoding(t *testing.T) {
	s := &shard.Sample{
		InputIDs: []int32{1, 2, 510, 510, 3, -7}, Labels: []int32{-100, 510, 510, 3, -7, -100},
		Grids: [][3]int32{{1, 2, 4}, {1, 6, 2}}, Pixels: [][]byte{{1, 2, 3}, {}},
		SourceFile: "data/train-00000-of-00001.parquet", SourceRow: 1 << 40,
	}
	b := encodeSample(nil, s)
	got, err := decodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, want %+v", got, s)
	}
	// Every truncation and a trailing byte are errors, never panics.
	for n := range len(b) {
		if _, err := decodeSample(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := decodeSample(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing byte: %v", err)
	}
	// A length larger than the data is refused before allocating.
	if _, err := decodeSample([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("huge token count: no error")
	}
}

func TestPrepareOut(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "new", "out")
	if err := prepareOut(out, false); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{ManifestName, DeadLetterName, "train-00000-of-00002.parquet", ".train-00001-of-00002.parquet.tmp-123"} {
		if err := os.WriteFile(filepath.Join(out, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := prepareOut(out, false); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("earlier output without overwrite: %v", err)
	}
	if err := prepareOut(out, true); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("overwrite left %v", es)
	}
	os.WriteFile(filepath.Join(out, "train.parquet"), nil, 0o644)
	if err := prepareOut(out, true); err == nil || !strings.Contains(err.Error(), "train.parquet") {
		t.Errorf("foreign file with overwrite: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "train.parquet")); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
}

func TestPlanUnits(t *testing.T) {
	o := Options{Maker: "cord_v2", Inputs: []string{"../../testdata/datasets/cord-v2"}, Split: "train", UnitRows: 3}
	pl, err := plan(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range pl.Units {
		got = append(got, u.Name+":"+itoa(u.Start)+"-"+itoa(u.End))
	}
	want := "data/train-00000-of-00002-394135fc5e46499a.parquet:0-3 data/train-00000-of-00002-394135fc5e46499a.parquet:3-4 " +
		"data/train-00001-of-00002-394136fc5e464b4d.parquet:0-3 data/train-00001-of-00002-394136fc5e464b4d.parquet:3-4"
	if strings.Join(got, " ") != want || pl.Rows != 8 || pl.Inputs[1].First != 4 {
		t.Errorf("units %v (rows %d)", got, pl.Rows)
	}
	// The same file twice would give two samples the same source name.
	f := "../../testdata/datasets/cord-v2/data/train-00000-of-00002-394135fc5e46499a.parquet"
	o.Inputs = []string{f, f}
	if _, err := plan(o); err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("duplicate input: %v", err)
	}
}
