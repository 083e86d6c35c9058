package prepare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/datasets/makers"
	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/chat"
	"github.com/glmflow/glmflow/transforms/imageproc"
	"github.com/glmflow/glmflow/transforms/tokenizer"
)

const (
	miniDir  = "../../testdata/datasets"
	tinyTok  = "../../testdata/tiny/tokenizer.json"
	smallPix = 100352 // ≤ 256 patches per image: fast tests
)

func TestMain(m *testing.M) {
	beamlog.LogLevel = "warn"
	os.Exit(m.Run())
}

// run prepares with the tiny tokenizer into a new folder and returns the result.
func run(t testing.TB, o Options) *Result {
	t.Helper()
	if o.Out == "" {
		o.Out = t.TempDir()
	}
	o.Tokenizer = tinyTok
	if o.Image == (imageproc.Options{}) {
		o.Image = imageproc.DefaultOptions()
		o.Image.MaxPixels = smallPix
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readShards returns every sample of the job's shards in manifest order.
func readShards(t testing.TB, res *Result) []shard.Sample {
	t.Helper()
	var out []shard.Sample
	for _, info := range res.Manifest.Shards {
		if err := shard.VerifyShard(res.Out, info); err != nil {
			t.Fatal(err)
		}
		r, err := shard.Open(filepath.Join(res.Out, info.Name))
		if err != nil {
			t.Fatal(err)
		}
		err = r.Scan(context.Background(), func(_ int64, s *shard.Sample) error {
			out = append(out, *s)
			return nil
		})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// source is one input row as the makers see it, read independently of the job.
type source struct {
	conv chat.Conversation
	err  error
}

// sources streams every row of the split with makers.Stream, keyed by "name:row".
func sources(t *testing.T, maker, dir, config, split string) (map[string]source, int) {
	t.Helper()
	m, err := makers.New(maker, makers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := hub.Resolve([]string{dir}, config, split)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]source{}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		err := makers.Stream(m, f, hub.Options{}, func(c chat.Conversation, err error) error {
			out[filepath.ToSlash(rel)+":"+itoa(c.Source.Row)] = source{c, err}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, len(out)
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestMiniDatasets prepares the three mini datasets end to end and checks every sample
// against the maker's conversation, re-processed independently of the pipeline: the ids decode
// to chat.RenderText's text, the trained labels decode to the assistant's answer and nothing
// else, each <|image|> run matches its grid, the pixels are imageproc.Process's, and samples
// plus dead letters account for every input row.
func TestMiniDatasets(t *testing.T) {
	tok, err := tokenizer.Load(tinyTok)
	if err != nil {
		t.Fatal(err)
	}
	img := imageproc.DefaultOptions()
	img.MaxPixels = smallPix
	for _, c := range []struct{ maker, dir, config string }{
		{"cord_v2", "cord-v2", ""},
		{"medpix", "medpix-vqa", ""},
		{"raven", "the_cauldron", "raven"},
	} {
		t.Run(c.maker, func(t *testing.T) {
			dir := filepath.Join(miniDir, c.dir)
			res := run(t, Options{Maker: c.maker, Inputs: []string{dir}, Split: "train", SeqLength: 4096, RowsPerShard: 4, UnitRows: 2, Image: img})
			src, rows := sources(t, c.maker, dir, c.config, "train")
			if res.Rows != int64(rows) || res.Samples+res.DeadLetters != int64(rows) {
				t.Fatalf("rows %d (independent count %d), samples %d + dead letters %d", res.Rows, rows, res.Samples, res.DeadLetters)
			}
			if res.DeadLetters != 0 {
				b, _ := os.ReadFile(filepath.Join(res.Out, DeadLetterName))
				t.Fatalf("dead letters in a clean mini dataset:\n%s", b)
			}
			samples := readShards(t, res)
			if int64(len(samples)) != res.Samples || len(res.Manifest.Shards) != (len(samples)+3)/4 {
				t.Fatalf("%d samples in %d shards, manifest says %d", len(samples), len(res.Manifest.Shards), res.Samples)
			}
			imageID, _ := tok.TokenID("<|image|>")
			begin, _ := tok.TokenID("<|begin_of_image|>")
			end, _ := tok.TokenID("<|end_of_image|>")
			var prev string
			for i, s := range samples {
				key := s.SourceFile + ":" + itoa(s.SourceRow)
				if key <= prev && s.SourceFile == strings.Split(prev, ":")[0] {
					t.Errorf("sample %d (%s) not in (file, row) order after %s", i, key, prev)
				}
				prev = key
				in, ok := src[key]
				if !ok || in.err != nil {
					t.Fatalf("sample %d: source %s: %v", i, key, in.err)
				}
				checkSample(t, key, &s, in.conv, tok, img, imageID, begin, end)
			}
		})
	}
}

func checkSample(t *testing.T, key string, s *shard.Sample, conv chat.Conversation, tok *tokenizer.Tokenizer, img imageproc.Options, imageID, begin, end int32) {
	t.Helper()
	grids := make([][3]int, len(conv.Images))
	if len(s.Grids) != len(conv.Images) {
		t.Fatalf("%s: %d grids for %d images", key, len(s.Grids), len(conv.Images))
	}
	for k, data := range conv.Images {
		want, err := imageproc.Process(data, img)
		if err != nil {
			t.Fatal(err)
		}
		grids[k] = want.Grid
		if g := s.Grids[k]; int(g[0]) != want.Grid[0] || int(g[1]) != want.Grid[1] || int(g[2]) != want.Grid[2] || !bytes.Equal(s.Pixels[k], want.Rows) {
			t.Errorf("%s image %d: grid %v, want %v, or pixels differ", key, k, s.Grids[k], want.Grid)
		}
	}
	text, err := chat.RenderText(conv, grids, chat.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Decode(s.InputIDs, false)
	if err != nil || got != text {
		t.Errorf("%s: ids decode to\n%q\nwant the rendered text\n%q (%v)", key, got, text, err)
	}
	// Labels: pre-shifted, -100 except the assistant's answer, which they spell exactly.
	var trained []int32
	for i, l := range s.Labels {
		if l == shard.IgnoreIndex {
			continue
		}
		if i+1 >= len(s.InputIDs) || l != s.InputIDs[i+1] {
			t.Fatalf("%s: label %d = %d is not the next input id", key, i, l)
		}
		trained = append(trained, l)
	}
	answer := conv.Messages[len(conv.Messages)-1]
	if answer.Role != chat.Assistant {
		t.Fatalf("%s: last message is %s", key, answer.Role)
	}
	ans, err := tok.Decode(trained, false)
	if err != nil || ans != answer.Parts[0].Text {
		t.Errorf("%s: trained labels decode to %q, want the answer %q", key, ans, answer.Parts[0].Text)
	}
	// Image runs: <|begin_of_image|> <|image|>×(h·w/4) <|end_of_image|>, one per image, in order.
	k := 0
	for i := 0; i < len(s.InputIDs); i++ {
		if s.InputIDs[i] != imageID {
			continue
		}
		j := i
		for j < len(s.InputIDs) && s.InputIDs[j] == imageID {
			j++
		}
		if k >= len(grids) {
			t.Fatalf("%s: more image runs than images", key)
		}
		if n := grids[k][1] * grids[k][2] / 4; j-i != n || s.InputIDs[i-1] != begin || s.InputIDs[j] != end {
			t.Errorf("%s: image %d: run of %d tokens at %d, want %d between begin/end markers", key, k, j-i, i, n)
		}
		k++
		i = j
	}
	if k != len(grids) {
		t.Errorf("%s: %d image runs for %d images", key, k, len(grids))
	}
}

// TestDeterminism: the same job twice, with other unit sizes and on the direct runner gives
// byte-identical shards, manifest and dead-letter file.
func TestDeterminism(t *testing.T) {
	o := Options{Maker: "cord_v2", Inputs: []string{filepath.Join(miniDir, "cord-v2")}, Split: "train", SeqLength: 440, RowsPerShard: 3, UnitRows: 3}
	ref := run(t, o)
	if ref.DeadLetters == 0 || ref.Samples == 0 {
		t.Fatalf("want samples and dead letters, got %d and %d", ref.Samples, ref.DeadLetters)
	}
	want := dirBytes(t, ref.Out)
	variants := map[string]Options{"again": o}
	o1 := o
	o1.UnitRows = 1
	variants["unit-rows=1"] = o1
	if !testing.Short() {
		o2 := o
		o2.UnitRows, o2.Runner = 100, "direct"
		variants["direct"] = o2
	}
	for _, name := range sortedKeys(variants) {
		got := dirBytes(t, run(t, variants[name]).Out)
		if len(got) != len(want) {
			t.Fatalf("%s: %d files, want %d", name, len(got), len(want))
		}
		for n, b := range want {
			if !bytes.Equal(got[n], b) {
				t.Errorf("%s: %s differs", name, n)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestProgress: progress lines while the job runs, the final counts at the end.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	res := run(t, Options{Maker: "medpix", Inputs: []string{filepath.Join(miniDir, "medpix-vqa")}, Split: "train", Progress: &buf, ProgressEvery: time.Millisecond})
	out := buf.String()
	if !strings.Contains(out, "rows read") || !strings.Contains(out, "dead letters") {
		t.Errorf("no progress line:\n%s", out)
	}
	final := "prepare: " + itoa(res.Rows) + " rows → " + itoa(res.Samples) + " samples in 1 shards, 0 dead letters"
	if !strings.Contains(out, final) || !strings.Contains(out, "worker time: read") {
		t.Errorf("final counts missing (%q):\n%s", final, out)
	}
}
