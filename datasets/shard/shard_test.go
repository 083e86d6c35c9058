package shard_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

var layout = shardtest.Layout

// norm makes nil and empty slices compare equal.
func norm(s shard.Sample) shard.Sample {
	if len(s.Grids) == 0 {
		s.Grids = nil
	}
	if len(s.Pixels) == 0 {
		s.Pixels = nil
	}
	return s
}

func writeShard(t testing.TB, path string, samples []shard.Sample, o shard.WriterOptions) shard.ShardInfo {
	t.Helper()
	w, err := shard.Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		if err := w.Write(&samples[i]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func readAll(t testing.TB, path string) []shard.Sample {
	t.Helper()
	r, err := shard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []shard.Sample
	err = r.Scan(context.Background(), func(row int64, s *shard.Sample) error {
		if row != int64(len(out)) {
			t.Fatalf("row %d, want %d", row, len(out))
		}
		out = append(out, *s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	samples := shardtest.Samples(1, 300, layout, shardtest.DefaultConfig())
	path := filepath.Join(t.TempDir(), "a.parquet")
	info := writeShard(t, path, samples, shard.WriterOptions{Layout: layout, MaxRowGroupRows: 37})
	if info.Rows != 300 || info.Name != "a.parquet" {
		t.Errorf("info %+v", info)
	}
	var tok, loss, imgs int64
	for i := range samples {
		tok += int64(len(samples[i].InputIDs))
		loss += int64(samples[i].NumLossTokens())
		imgs += int64(len(samples[i].Grids))
	}
	if info.Tokens != tok || info.LossTokens != loss || info.Images != imgs {
		t.Errorf("info counts %+v, want tokens %d loss %d images %d", info, tok, loss, imgs)
	}
	if imgs == 0 || loss == 0 {
		t.Fatal("generator made no images or no trained tokens")
	}
	got := readAll(t, path)
	if len(got) != len(samples) {
		t.Fatalf("%d rows, want %d", len(got), len(samples))
	}
	for i := range samples {
		if !reflect.DeepEqual(norm(got[i]), norm(samples[i])) {
			t.Fatalf("row %d differs:\n got %+v\nwant %+v", i, got[i], samples[i])
		}
	}
	r, err := shard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRowGroups() != 9 || r.Layout() != layout || r.NumRows() != 300 {
		t.Errorf("%d row groups (want 9), layout %+v, %d rows", r.NumRowGroups(), r.Layout(), r.NumRows())
	}
	for g := range r.NumRowGroups() {
		first, n := r.RowGroupRange(g)
		rows, err := r.ReadRowGroup(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)) != n {
			t.Fatalf("row group %d: %d rows, want %d", g, len(rows), n)
		}
		for k := range rows {
			if !reflect.DeepEqual(norm(rows[k]), norm(samples[first+int64(k)])) {
				t.Fatalf("row group %d row %d differs", g, k)
			}
		}
	}
	if _, err := r.ReadRowGroup(context.Background(), 9); err == nil {
		t.Error("row group 9 of 9: no error")
	}
}

func TestDeterministicBytes(t *testing.T) {
	samples := shardtest.Samples(2, 120, layout, shardtest.DefaultConfig())
	dir := t.TempDir()
	o := shard.WriterOptions{Layout: layout, MaxRowGroupRows: 50}
	a := writeShard(t, filepath.Join(dir, "a.parquet"), samples, o)
	b := writeShard(t, filepath.Join(dir, "b.parquet"), samples, o)
	ba, _ := os.ReadFile(filepath.Join(dir, "a.parquet"))
	bb, _ := os.ReadFile(filepath.Join(dir, "b.parquet"))
	if !bytes.Equal(ba, bb) {
		t.Fatal("same samples gave different bytes")
	}
	sum := sha256.Sum256(ba)
	if a.SHA256 != hex.EncodeToString(sum[:]) || a.SHA256 != b.SHA256 || a.Bytes != int64(len(ba)) {
		t.Errorf("info %+v does not match the file (%d bytes, sha256 %x)", a, len(ba), sum)
	}
	// A different sample changes the bytes (the check above is not vacuous).
	samples[5].SourceRow++
	c := writeShard(t, filepath.Join(dir, "c.parquet"), samples, o)
	if c.SHA256 == a.SHA256 {
		t.Error("a changed sample gave the same sha256")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the directory, want 3 (temporary files left?)", len(entries))
	}
}

func TestRowGroupByteBound(t *testing.T) {
	samples := shardtest.Samples(3, 40, layout, shardtest.DefaultConfig())
	path := filepath.Join(t.TempDir(), "a.parquet")
	writeShard(t, path, samples, shard.WriterOptions{Layout: layout, MaxRowGroupBytes: 2000})
	r, err := shard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Every sample alone has ≥ 8·8 payload bytes per token, so 2000 bytes holds few rows.
	var payload int64
	g := 0
	for i := range samples {
		payload += 8 * int64(len(samples[i].InputIDs))
		for _, p := range samples[i].Pixels {
			payload += int64(len(p))
		}
		first, n := r.RowGroupRange(g)
		if int64(i) == first+n-1 {
			if payload < 2000 && i != len(samples)-1 {
				t.Errorf("row group %d closed at %d payload bytes < 2000", g, payload)
			}
			payload = 0
			g++
		} else if payload >= 2000 {
			t.Errorf("row group %d passed the bound at row %d (%d bytes)", g, i, payload)
		}
	}
	if g != r.NumRowGroups() || g < 5 {
		t.Errorf("walked %d row groups, file has %d", g, r.NumRowGroups())
	}
}

func TestWriterRejectsInvalidSamples(t *testing.T) {
	good := shardtest.Sample(4, 0, layout, shardtest.Config{MinText: 20, MaxText: 20, MaxImages: 0, MaxGridSide: 4})
	good.Grids = [][3]int32{{1, 2, 4}}
	good.Pixels = [][]byte{make([]byte, 8*layout.RowBytes())}
	good.InputIDs = slices.Concat([]int32{1, shardtest.BeginImage, 300, 300, shardtest.EndImage}, good.InputIDs)
	good.Labels = slices.Concat([]int32{-100, -100, -100, -100, -100}, good.Labels)
	good.Labels[4] = good.InputIDs[5]
	clone := func() shard.Sample {
		s := good
		s.InputIDs = slices.Clone(good.InputIDs)
		s.Labels = slices.Clone(good.Labels)
		s.Grids = slices.Clone(good.Grids)
		s.Pixels = [][]byte{slices.Clone(good.Pixels[0])}
		return s
	}
	if s := clone(); s.Check(layout) != nil {
		t.Fatal(s.Check(layout))
	}
	cases := []struct {
		name, want string
		edit       func(s *shard.Sample)
	}{
		{"empty", "input_ids: 0 tokens", func(s *shard.Sample) { s.InputIDs, s.Labels = nil, nil }},
		{"label count", "labels: 24 labels for 25", func(s *shard.Sample) { s.Labels = s.Labels[1:] }},
		{"unshifted label", "labels[4] = 7", func(s *shard.Sample) { s.Labels[4] = 7; s.InputIDs[5] = 8 }},
		{"last label", "last label", func(s *shard.Sample) { s.Labels[len(s.Labels)-1] = 5 }},
		{"grid t", "t = 2", func(s *shard.Sample) { s.Grids[0][0] = 2 }},
		{"grid odd", "multiples of the merge size", func(s *shard.Sample) { s.Grids[0][1] = 3 }},
		{"pixel bytes", "image_rows[0]: 95 bytes, want 96", func(s *shard.Sample) { s.Pixels[0] = s.Pixels[0][1:] }},
		{"pixel count", "image_rows: 0 images but 1 grids", func(s *shard.Sample) { s.Pixels = nil }},
		{"run too short", "does not match", func(s *shard.Sample) { s.InputIDs[3] = 9 }},
		{"missing run", "cover 0 of 1 images", func(s *shard.Sample) { s.InputIDs[2], s.InputIDs[3] = 9, 9 }},
		{"grid bigger than run", "does not match", func(s *shard.Sample) {
			s.Grids[0] = [3]int32{1, 4, 4}
			s.Pixels[0] = make([]byte, 16*layout.RowBytes())
		}},
		{"negative row", "source_row: -1", func(s *shard.Sample) { s.SourceRow = -1 }},
	}
	path := filepath.Join(t.TempDir(), "a.parquet")
	w, err := shard.Create(path, shard.WriterOptions{Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		s := clone()
		c.edit(&s)
		err := w.Write(&s)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", c.name, err, path, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("shard visible before Close")
	}
	s := clone()
	if err := w.Write(&s); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Errorf("Abort left %v", entries)
	}
}
