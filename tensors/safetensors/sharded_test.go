package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// shardState makes n tensors of 1 KiB each (F32 [256]) with distinct contents.
func shardTestState(n int) map[string]*tensors.Tensor {
	ts := map[string]*tensors.Tensor{}
	for i := range n {
		x := tensors.New(tensors.F32, 256)
		for j := range x.F32() {
			x.F32()[j] = float32(i*1000 + j)
		}
		ts[fmt.Sprintf("model.layers.%d.w", i)] = x
	}
	return ts
}

func TestShardedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ts := shardTestState(10)
	ts["big"] = tensors.New(tensors.U8, 5000) // larger than a shard: alone in its own
	files, err := WriteSharded(dir, ts, map[string]string{"format": "pt"}, 3*1024)
	if err != nil {
		t.Fatal(err)
	}
	// big, then 10 × 1 KiB in groups of 3 → 1 + 4 shards.
	want := []string{"model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors",
		"model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors",
		"model-00005-of-00005.safetensors", IndexName}
	if !slices.Equal(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, IndexName))
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.Metadata["total_size"] != 10*1024+5000 || len(idx.WeightMap) != 11 || idx.WeightMap["big"] != want[0] {
		t.Fatalf("index %s", raw)
	}
	if !strings.HasPrefix(string(raw), "{\n  \"metadata\": {\n    \"total_size\": 15240\n  },\n  \"weight_map\": {\n    \"big\": ") ||
		!strings.HasSuffix(string(raw), "\"\n  }\n}\n") {
		t.Errorf("index not in json.dumps(indent=2, sort_keys=True) form:\n%s", raw)
	}

	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.TotalSize() != 15240 || s.Metadata()["total_size"] != "15240" {
		t.Errorf("TotalSize %d, metadata %v", s.TotalSize(), s.Metadata())
	}
	checkSame(t, s, ts)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(s.Opened()) != 5 {
		t.Errorf("opened %v", s.Opened())
	}

	// Byte-identical on rewrite.
	dir2 := t.TempDir()
	if _, err := WriteSharded(dir2, ts, map[string]string{"format": "pt"}, 3*1024); err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if string(a) != string(b) {
			t.Errorf("%s differs between two writes", f)
		}
	}
}

func TestShardedSingleFile(t *testing.T) {
	dir := t.TempDir()
	ts := shardTestState(3)
	files, err := WriteSharded(dir, ts, nil, 1<<20)
	if err != nil || !slices.Equal(files, []string{SingleFileName}) {
		t.Fatalf("files %v, %v", files, err)
	}
	if _, err := os.Stat(filepath.Join(dir, IndexName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("single shard wrote an index")
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkSame(t, s, ts)
	if _, err := OpenDir(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
}

// Reading one tensor opens only its shard: the other shards are overwritten with garbage
// after OpenIndex, and reading still works.
func TestShardedLazy(t *testing.T) {
	dir := t.TempDir()
	ts := shardTestState(8)
	if _, err := WriteSharded(dir, ts, nil, 2*1024); err != nil {
		t.Fatal(err)
	}
	s, err := OpenIndex(filepath.Join(dir, IndexName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Shards()) != 4 || len(s.Opened()) != 0 {
		t.Fatalf("shards %v opened %v", s.Shards(), s.Opened())
	}
	name := "model.layers.5.w"
	mine, _ := s.ShardOf(name)
	for _, f := range s.Shards() {
		if f != mine {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	x, err := s.Tensor(name)
	if err != nil || x.F32()[3] != 5003 {
		t.Fatalf("Tensor(%s) = %v, %v", name, x, err)
	}
	if _, err := s.Info("model.layers.4.w"); err != nil { // same shard (4, 5)
		t.Fatal(err)
	}
	if got := s.Opened(); !slices.Equal(got, []string{mine}) {
		t.Fatalf("opened %v, want only %s", got, mine)
	}
	// Touching a corrupted shard reports it, naming the file.
	_, err = s.Tensor("model.layers.0.w")
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "model-00001-of-00004.safetensors") {
		t.Fatalf("corrupt shard: %v", err)
	}
	if _, err := s.Tensor("nope"); !errors.Is(err, TensorNotFound) {
		t.Errorf("unknown tensor: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tensor(name); err == nil {
		t.Error("Tensor after Close: no error")
	}
}

func writeIndex(t *testing.T, dir string, weightMap string) string {
	t.Helper()
	p := filepath.Join(dir, IndexName)
	if err := os.WriteFile(p, []byte(`{"metadata":{"total_size":0},"weight_map":{`+weightMap+`}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShardedErrors(t *testing.T) {
	mk := func(t *testing.T, files map[string][]string) string {
		dir := t.TempDir()
		for file, names := range files {
			ts := map[string]*tensors.Tensor{}
			for _, n := range names {
				ts[n] = tensors.New(tensors.U8, 1)
			}
			if err := Write(filepath.Join(dir, file), ts, nil); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("MissingShard", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a"}})
		_, err := OpenIndex(writeIndex(t, dir, `"a":"s1","b":"s2"`))
		var fe *FormatError
		if !errors.Is(err, MissingShard) || !errors.As(err, &fe) || fe.Tensor != "b" || filepath.Base(fe.File) != "s2" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("TensorNotInShard", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a"}, "s2": {"c"}})
		s, err := OpenIndex(writeIndex(t, dir, `"a":"s1","b":"s1","c":"s2"`))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Tensor("c"); err != nil { // other shard unaffected
			t.Fatal(err)
		}
		_, err = s.Tensor("a")
		var fe *FormatError
		if !errors.Is(err, IndexMismatch) || !errors.As(err, &fe) || fe.Tensor != "b" || filepath.Base(fe.File) != "s1" {
			t.Fatalf("err %v", err)
		}
		if _, err2 := s.Tensor("a"); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("error not sticky: %v", err2)
		}
	})
	t.Run("UnlistedTensor", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a", "x"}})
		s, _ := OpenIndex(writeIndex(t, dir, `"a":"s1"`))
		defer s.Close()
		if _, err := s.Tensor("a"); !errors.Is(err, IndexMismatch) || !strings.Contains(err.Error(), `"x"`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("DuplicateTensor", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a", "b"}, "s2": {"b", "c"}})
		s, _ := OpenIndex(writeIndex(t, dir, `"a":"s1","b":"s1","c":"s2"`))
		defer s.Close()
		_, err := s.Tensor("c")
		var fe *FormatError
		if !errors.Is(err, DuplicateTensor) || !errors.As(err, &fe) || fe.Tensor != "b" || filepath.Base(fe.File) != "s2" {
			t.Fatalf("err %v", err)
		}
		if err := s.Validate(); !errors.Is(err, DuplicateTensor) {
			t.Fatalf("Validate: %v", err)
		}
	})
	t.Run("DuplicateKey", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a"}, "s2": {"b"}})
		if _, err := OpenIndex(writeIndex(t, dir, `"a":"s1","a":"s2"`)); !errors.Is(err, DuplicateKey) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("UnsafePath", func(t *testing.T) {
		dir := mk(t, map[string][]string{"s1": {"a"}})
		for _, bad := range []string{`../s1`, `/etc/passwd`, `sub/s1`, ``, `..`} {
			if _, err := OpenIndex(writeIndex(t, dir, `"a":"`+bad+`"`)); !errors.Is(err, BadIndex) {
				t.Errorf("%q: err %v", bad, err)
			}
		}
	})
	t.Run("BadIndexJSON", func(t *testing.T) {
		dir := t.TempDir()
		for body, kind := range map[string]Kind{
			`{"metadata":{}}`:                                BadIndex,
			`{"weight_map":{"a":1}}`:                         BadIndex,
			`{"weight_map":{}`:                               InvalidJSON,
			`{"weight_map":{}} x`:                            InvalidJSON,
			`{"metadata":{"total_size":-1},"weight_map":{}}`: BadIndex,
			`{"weight_map":{},"weight_map":{}}`:              DuplicateKey,
		} {
			p := filepath.Join(dir, IndexName)
			os.WriteFile(p, []byte(body), 0o644)
			if _, err := OpenIndex(p); !errors.Is(err, kind) {
				t.Errorf("%s: err %v, want %v", body, err, kind)
			}
		}
		p := filepath.Join(dir, IndexName)
		os.WriteFile(p, []byte(`{"metadata":{"total_size":0,"format":"pt"},"extra":[1,{"x":2}],"weight_map":{}}`), 0o644)
		if s, err := OpenIndex(p); err != nil || s.Metadata()["format"] != "pt" || len(s.Names()) != 0 {
			t.Errorf("tolerant index: %v", err)
		}
	})
}

// Concurrent first accesses open each shard once (run with -race).
func TestShardedConcurrent(t *testing.T) {
	dir := t.TempDir()
	ts := shardTestState(12)
	if _, err := WriteSharded(dir, ts, nil, 2*1024); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errc := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 12 {
				name := fmt.Sprintf("model.layers.%d.w", (i+g*3)%12)
				x, err := s.Tensor(name)
				if err == nil && x.F32()[1] != float32((i+g*3)%12*1000+1) {
					err = fmt.Errorf("%s: wrong value", name)
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Opened()) != 6 {
		t.Errorf("opened %v", s.Opened())
	}
}

func BenchmarkWrite(b *testing.B) {
	ts := shardTestState(0)
	x := tensors.New(tensors.BF16, 4096, 4096) // 32 MiB
	ts["w"] = x
	p := filepath.Join(b.TempDir(), "b.safetensors")
	b.SetBytes(x.NBytes())
	for b.Loop() {
		if err := Write(p, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(x.NBytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
