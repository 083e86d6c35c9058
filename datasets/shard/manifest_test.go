package shard_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

func TestManifestDeterministicAndRoundTrip(t *testing.T) {
	samples := shardtest.Samples(8, 50, layout, shardtest.DefaultConfig())
	d1, d2 := t.TempDir(), t.TempDir()
	o := shard.WriterOptions{Layout: layout}
	m1, err := shardtest.WriteDir(d1, samples, 20, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shardtest.WriteDir(d2, samples, 20, o); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(filepath.Join(d1, shard.ManifestName))
	b2, _ := os.ReadFile(filepath.Join(d2, shard.ManifestName))
	if !bytes.Equal(b1, b2) {
		t.Fatal("equal inputs gave different manifests")
	}
	// Keys are sorted at every level, raw JSON included.
	s := string(b1)
	order := []string{`"format_version"`, `"layout"`, `"image_token_id"`, `"merge_size"`, `"patch_size"`, `"maker"`, `"name": "shardtest"`, `"processor"`, `"hash": "test"`, `"settings"`, `"MaxDecodePixels"`, `"Mean"`, `"MergeSize"`, `"sample_schema_version"`, `"schema"`, `"shards"`, `"tokenizer"`, `"totals"`, `"dead_letters"`}
	last := -1
	for _, k := range order {
		i := strings.Index(s, k)
		if i <= last {
			t.Fatalf("key %s at %d, not after %d:\n%s", k, i, last, s)
		}
		last = i
	}
	m, err := shard.ReadManifest(d1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) != 3 || m.Totals.Samples != 50 || m.Shards[2].Rows != 10 {
		t.Errorf("manifest %+v", m)
	}
	var toks int64
	for i := range samples {
		toks += int64(len(samples[i].InputIDs))
	}
	if m.Totals.Tokens != toks {
		t.Errorf("totals tokens %d, want %d", m.Totals.Tokens, toks)
	}
	h1, _ := m.Hash()
	h2, _ := m1.Hash()
	if h1 != h2 || len(h1) != 64 {
		t.Errorf("hash %s after reading, %s before", h1, h2)
	}
	for _, info := range m.Shards {
		if err := shard.VerifyShard(d1, info); err != nil {
			t.Error(err)
		}
	}
	m.Totals.DeadLetters = 4
	h3, _ := m.Hash()
	if h3 == h1 {
		t.Error("hash ignores dead letters")
	}
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	samples := shardtest.Samples(9, 10, layout, shardtest.DefaultConfig())
	if _, err := shardtest.WriteDir(dir, samples, 10, shard.WriterOptions{Layout: layout}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, shard.ManifestName))
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	shard0 := func(m map[string]any) map[string]any { return m["shards"].([]any)[0].(map[string]any) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"unknown key", edit(func(m map[string]any) { m["extra"] = 1 }), `unknown field "extra"`},
		{"totals", edit(func(m map[string]any) { m["totals"].(map[string]any)["samples"] = 11 }), "totals"},
		{"path name", edit(func(m map[string]any) { shard0(m)["name"] = "../x.parquet" }), "invalid name"},
		{"sha", edit(func(m map[string]any) { shard0(m)["sha256"] = "abc" }), "64 hex digits"},
		{"version", edit(func(m map[string]any) { m["format_version"] = 7 }), "format_version 7"},
		{"schema", edit(func(m map[string]any) { m["schema"].([]any)[0].(map[string]any)["type"] = "list<int64>" }), "schema"},
		{"trailing", append(append([]byte(nil), orig...), []byte("{}")...), "trailing"},
		{"not json", []byte("{"), "unexpected EOF"},
	}
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, shard.ManifestName), c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := shard.ReadManifest(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "manifest.json") {
			t.Errorf("%s: error %v, want one naming manifest.json and containing %q", c.name, err, c.want)
		}
	}
}
