package shard_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
)

// letters decodes id i as the i-th lower-case letter, and 300..302 as <img>, <boi>, <eoi>.
type letters struct{}

func (letters) Decode(ids []int32, _ bool) (string, error) {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id < 26:
			b.WriteByte(byte('a' + id))
		case id == 300:
			b.WriteString("<img>")
		case id == 301:
			b.WriteString("<boi>")
		case id == 302:
			b.WriteString("<eoi>")
		default:
			return "", fmt.Errorf("id %d", id)
		}
	}
	return b.String(), nil
}

func TestInspect(t *testing.T) {
	// "ab" + image (4 tokens) + "cd" trained + "e" untrained + "fg" trained.
	ids := []int32{0, 1, 301, 300, 300, 300, 300, 302, 2, 3, 4, 5, 6}
	labels := []int32{-100, -100, -100, -100, -100, -100, -100, 2, 3, -100, 5, 6, -100}
	s := shard.Sample{InputIDs: ids, Labels: labels, Grids: [][3]int32{{1, 2, 8}}, Pixels: [][]byte{make([]byte, 16*layout.RowBytes())}, SourceFile: "data/x.parquet", SourceRow: 17}
	path := filepath.Join(t.TempDir(), "a.parquet")
	writeShard(t, path, []shard.Sample{s, s, s}, shard.WriterOptions{Layout: layout})
	var out bytes.Buffer
	if err := shard.Inspect(&out, path, shard.InspectOptions{Rows: 1, Skip: 1, Decoder: letters{}}); err != nil {
		t.Fatal(err)
	}
	want := "shard " + path + ": 3 rows in 1 row groups; image_token_id 300, merge_size 2, patch_size 2 (12 bytes per patch row)\n" +
		"\n── row 1 ── data/x.parquet row 17 ── 13 tokens, 4 trained, 1 images\n" +
		"image 0: grid (t=1, h=2, w=8): 16 patches, 4 tokens, 192 bytes\n" +
		"ab<boi><img>×4<eoi>⟦cd⟧e⟦fg⟧\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := shard.Inspect(&out, path, shard.InspectOptions{Rows: 5, Color: true}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "── row"); n != 3 {
		t.Errorf("%d rows printed, want 3", n)
	}
	if !strings.Contains(out.String(), "[0 1 301][300]×4[302]\x1b[32m[2 3]\x1b[0m[4]\x1b[32m[5 6]\x1b[0m") {
		t.Errorf("ids without a decoder:\n%s", out.String())
	}
}
