package makers

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/transforms/chat"
)

const miniDir = "../../testdata/datasets"

type golden struct {
	Name        string `json:"name"`
	GroundTruth string `json:"ground_truth"`
	Target      string `json:"target"`
}

func loadGolden(t testing.TB) []golden {
	b, err := os.ReadFile("testdata/json2token_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g []golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestJson2TokenGolden compares with targets computed by Python running NeMo's json2token
// (testdata/json2token_golden.py).
func TestJson2TokenGolden(t *testing.T) {
	g := loadGolden(t)
	if len(g) < 20 {
		t.Fatalf("only %d golden cases", len(g))
	}
	for _, c := range g {
		got, err := CordTarget(c.GroundTruth)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if got != c.Target {
			t.Errorf("%s:\n got %s\nwant %s", c.Name, got, c.Target)
		}
	}
}

func TestCordTargetErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"gt_parse": `:           "invalid JSON",
		`[1, 2]`:                  "not a JSON object",
		`{"gt_parses": {"a": 1}}`: "gt_parses is not a list",
		`{"gt_parses": []}`:       "gt_parses is empty",
		`{"gt_parse": ["a"]}`:     "neither a gt_parses list nor a gt_parse object",
		`{"meta": {}}`:            "neither",
		`{"gt_parse": {"k": {"text_sequence": 5}}}`: "text_sequence is not a string",
		`{"gt_parse": {"a": NaN}}`:                  "invalid JSON",
		`{"gt_parse": {}} extra`:                    "after top-level value",
		`{"gt_parse": ` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`: "nested deeper",
	} {
		_, err := CordTarget(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: error %v, want %q", in, err, want)
		}
	}
}

func TestPyFloatRepr(t *testing.T) {
	for lit, want := range map[string]string{
		"1.0": "1.0", "0.1": "0.1", "1e16": "1e+16", "9999999999999998.0": "9999999999999998.0",
		"1e15": "1000000000000000.0", "0.0001": "0.0001", "0.00001": "1e-05", "-2.5e-7": "-2.5e-07",
		"1.7976931348623157e308": "1.7976931348623157e+308", "1e400": "inf", "-1e400": "-inf",
		"123.456e1": "1234.56", "-0.0": "-0.0", "3": "3", "-0": "0", "007": "7",
	} {
		got, err := pyNumberStr(lit)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", lit, got, err, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	if got := Names(); !reflect.DeepEqual(got, []string{"cord_v2", "medpix", "raven"}) {
		t.Errorf("Names() = %v", got)
	}
	if _, err := New("nope", Options{}); err == nil || !strings.Contains(err.Error(), "cord_v2") {
		t.Errorf("unknown maker: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register("medpix", func(Options) Maker { return medpix{} })
}

func TestSplits(t *testing.T) {
	m, _ := New("raven", Options{})
	if err := CheckSplit(m, "validation"); err == nil || !strings.Contains(err.Error(), "raven") {
		t.Errorf("raven validation: %v", err)
	}
	if err := CheckSplit(m, "train"); err != nil {
		t.Error(err)
	}
}

// collect runs maker name over every file of split in the mini dataset.
func collect(t *testing.T, name, split string, o Options) ([]chat.Conversation, []error) {
	t.Helper()
	m, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSplit(m, split); err != nil {
		t.Fatal(err)
	}
	dir := map[string]string{"cord_v2": "cord-v2", "medpix": "medpix-vqa", "raven": "the_cauldron"}[name]
	files, err := hub.SplitFiles(filepath.Join(miniDir, dir), m.Config(), split)
	if err != nil {
		t.Fatal(err)
	}
	var convs []chat.Conversation
	var errs []error
	for _, f := range files {
		err := Stream(m, f, hub.Options{}, func(c chat.Conversation, err error) error {
			if err != nil {
				errs = append(errs, err)
			} else {
				convs = append(convs, c)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return convs, errs
}

func checkShape(t *testing.T, c chat.Conversation, images int, prompt, answer string) {
	t.Helper()
	if len(c.Images) != images || len(c.Messages) != 2 {
		t.Fatalf("%v: %d images, %d messages", c.Source, len(c.Images), len(c.Messages))
	}
	u, a := c.Messages[0], c.Messages[1]
	if u.Role != chat.User || a.Role != chat.Assistant || len(u.Parts) != images+1 || len(a.Parts) != 1 {
		t.Fatalf("%v: messages %+v", c.Source, c.Messages)
	}
	for i := 0; i < images; i++ {
		if u.Parts[i] != chat.Image(i) {
			t.Errorf("%v: part %d = %+v, want image %d", c.Source, i, u.Parts[i], i)
		}
		if _, _, err := image.DecodeConfig(bytes.NewReader(c.Images[i])); err != nil {
			t.Errorf("%v: image %d: %v", c.Source, i, err)
		}
	}
	if prompt != "" && u.Parts[images] != chat.Text(prompt) {
		t.Errorf("%v: prompt %+v, want %q", c.Source, u.Parts[images], prompt)
	}
	if answer != "" && a.Parts[0] != chat.Text(answer) {
		t.Errorf("%v: answer %q, want %q", c.Source, a.Parts[0].Text, answer)
	}
	if a.Parts[0].Text == "" || u.Parts[images].Text == "" {
		t.Errorf("%v: empty text", c.Source)
	}
}

func TestCordMini(t *testing.T) {
	targets := map[string]string{}
	for _, g := range loadGolden(t) {
		targets[g.Name] = g.Target
	}
	for split, n := range map[string]int{"train": 8, "validation": 2, "test": 2} {
		convs, errs := collect(t, "cord_v2", split, Options{})
		if len(convs) != n || len(errs) != 0 {
			t.Fatalf("%s: %d conversations, errors %v", split, len(convs), errs)
		}
		for _, c := range convs {
			key := filepath.Base(c.Source.File) + "#" + string(rune('0'+c.Source.Row))
			want, ok := targets[key]
			if !ok {
				t.Fatalf("no golden target for %s", key)
			}
			checkShape(t, c, 1, "Describe this image.", want)
		}
	}
	convs, _ := collect(t, "cord_v2", "test", Options{Prompt: "Parse the receipt."})
	checkShape(t, convs[0], 1, "Parse the receipt.", "")
}

func TestMedpixMini(t *testing.T) {
	formats := map[string]int{}
	for split, n := range map[string]int{"train": 6, "validation": 2} {
		convs, errs := collect(t, "medpix", split, Options{})
		if len(convs) != n || len(errs) != 0 {
			t.Fatalf("%s: %d conversations, errors %v", split, len(convs), errs)
		}
		for i, c := range convs {
			checkShape(t, c, 1, "", "")
			if c.Source.Row != int64(i) {
				t.Errorf("row %d has Source.Row %d", i, c.Source.Row)
			}
			if !strings.HasSuffix(c.Messages[0].Parts[1].Text, "?") {
				t.Errorf("%v: question %q", c.Source, c.Messages[0].Parts[1].Text)
			}
			_, f, _ := image.DecodeConfig(bytes.NewReader(c.Images[0]))
			formats[f]++
		}
	}
	if formats["png"] == 0 || formats["jpeg"] == 0 {
		t.Errorf("image formats %v, want both png and jpeg", formats)
	}
}

func TestRavenMini(t *testing.T) {
	convs, errs := collect(t, "raven", "train", Options{})
	if len(convs) != 6 || len(errs) != 0 {
		t.Fatalf("%d conversations, errors %v", len(convs), errs)
	}
	for _, c := range convs {
		checkShape(t, c, 4, "", "")
		if !strings.HasPrefix(c.Messages[1].Parts[0].Text, "Answer: ") {
			t.Errorf("%v: answer %q", c.Source, c.Messages[1].Parts[0].Text)
		}
	}
}

// writeParquet writes a one-file table for the error tests.
func writeParquet(t *testing.T, fields []arrow.Field, build func(b *array.RecordBuilder)) string {
	t.Helper()
	sc := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	build(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "train-00000-of-00001.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var imageType = arrow.StructOf(
	arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
	arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true},
)

func appendImage(b *array.StructBuilder, data []byte) {
	b.Append(true)
	b.FieldBuilder(0).(*array.BinaryBuilder).Append(data)
	b.FieldBuilder(1).(*array.StringBuilder).AppendNull()
}

// streamAll runs maker over path and returns one line per row: "ok" or the error.
func streamAll(t *testing.T, maker, path string) []string {
	t.Helper()
	m, _ := New(maker, Options{})
	var out []string
	err := Stream(m, path, hub.Options{}, func(c chat.Conversation, err error) error {
		if err != nil {
			var re *hub.RowError
			if !errors.As(err, &re) || re.Row != c.Source.Row || re.File != path {
				t.Errorf("row error %v is not a RowError for %v", err, c.Source)
			}
			out = append(out, strings.TrimPrefix(err.Error(), path+": "))
		} else {
			out = append(out, "ok")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRavenBadRows(t *testing.T) {
	turn := arrow.StructOf(
		arrow.Field{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "assistant", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	path := writeParquet(t, []arrow.Field{
		{Name: "images", Type: arrow.ListOf(imageType), Nullable: true},
		{Name: "texts", Type: arrow.ListOf(turn), Nullable: true},
	}, func(b *array.RecordBuilder) {
		ib, tb := b.Field(0).(*array.ListBuilder), b.Field(1).(*array.ListBuilder)
		addTurn := func(u, a *string) {
			tb.Append(true)
			s := tb.ValueBuilder().(*array.StructBuilder)
			s.Append(true)
			for i, v := range []*string{u, a} {
				if v == nil {
					s.FieldBuilder(i).AppendNull()
				} else {
					s.FieldBuilder(i).(*array.StringBuilder).Append(*v)
				}
			}
		}
		q, a := "Which?", "Answer: A"
		png := []byte("\x89PNG\r\n\x1a\n")
		// 0: good; 1: no images; 2: null images; 3: no texts; 4: null user; 5: null assistant; 6: good
		for r := 0; r < 7; r++ {
			switch r {
			case 1:
				ib.Append(true)
			case 2:
				ib.AppendNull()
			default:
				ib.Append(true)
				appendImage(ib.ValueBuilder().(*array.StructBuilder), png)
				appendImage(ib.ValueBuilder().(*array.StructBuilder), png)
			}
			switch r {
			case 3:
				tb.Append(true)
			case 4:
				addTurn(nil, &a)
			case 5:
				addTurn(&q, nil)
			default:
				addTurn(&q, &a)
			}
		}
	})
	got := streamAll(t, "raven", path)
	want := []string{"ok", "row 1: column images: no images", "row 2: column images: null", "row 3: column texts: no turns",
		"row 4: column texts[0].user: null", "row 5: column texts[0].assistant: null", "ok"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCordBadRows(t *testing.T) {
	path := writeParquet(t, []arrow.Field{
		{Name: "image", Type: imageType, Nullable: true},
		{Name: "ground_truth", Type: arrow.BinaryTypes.String, Nullable: true},
	}, func(b *array.RecordBuilder) {
		for _, gt := range []string{`{"gt_parse": {"a": "1"}}`, `{"gt_parse": {"a": `, "", `{"gt_parse": {"b": "2"}}`} {
			appendImage(b.Field(0).(*array.StructBuilder), []byte("jpeg"))
			if gt == "" {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(gt)
			}
		}
	})
	got := streamAll(t, "cord_v2", path)
	want := []string{"ok", "row 1: column ground_truth: invalid JSON at offset 19: unexpected end of JSON input", "row 2: column ground_truth: null", "ok"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A file without the maker's columns fails as a whole, naming file and column.
	m, _ := New("medpix", Options{})
	err := Stream(m, path, hub.Options{}, func(chat.Conversation, error) error { return nil })
	if err == nil || !strings.Contains(err.Error(), path+": column image_id: missing") {
		t.Errorf("medpix on a cord file: %v", err)
	}
}

// TestMiniDatasetsUpToDate runs the committed generator and compares its output with the
// committed mini datasets byte for byte (the generator's own test lives under testdata/, which
// `go test ./...` does not visit).
func TestMiniDatasetsUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	tmp := t.TempDir()
	cmd := exec.Command(goBin, "run", "./testdata/datasets/gen", "-out", tmp)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./testdata/datasets/gen: %v\n%s", err, out)
	}
	n := 0
	err = filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join(miniDir, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: committed file differs from the generator's output (run `go run ./testdata/datasets/gen`): %v", rel, err)
		}
		n++
		return nil
	})
	if err != nil || n != 7 {
		t.Errorf("%d files generated, %v", n, err)
	}
}

// BenchmarkCordTrain measures reading the mini CORD train split through the cord_v2 maker
// (Parquet decode + json2token + image copy), in rows/s.
func BenchmarkCordTrain(b *testing.B) {
	m, _ := New("cord_v2", Options{})
	files, err := hub.SplitFiles(filepath.Join(miniDir, "cord-v2"), "", "train")
	if err != nil {
		b.Fatal(err)
	}
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			err := Stream(m, f, hub.Options{}, func(c chat.Conversation, err error) error {
				rows++
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkJson2Token measures CordTarget on the mini CORD ground truths (full CORD-shaped JSON
// with valid_line boxes), in rows/s.
func BenchmarkJson2Token(b *testing.B) {
	var gts []string
	for _, g := range loadGolden(b) {
		if strings.Contains(g.Name, ".parquet#") {
			gts = append(gts, g.GroundTruth)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, gt := range gts {
			if _, err := CordTarget(gt); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(gts))/b.Elapsed().Seconds(), "rows/s")
}

// TestDuckDBWrittenFile reads a MedPix-shaped file written by DuckDB (another Parquet writer:
// no stored Arrow schema; see testdata/datasets/duckdb/make.mjs) through the medpix maker.
func TestDuckDBWrittenFile(t *testing.T) {
	dir := filepath.Join(miniDir, "duckdb")
	files, err := hub.SplitFiles(filepath.Join(dir, "medpix-vqa"), "", "train")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := New("medpix", Options{})
	var convs []chat.Conversation
	err = Stream(m, files[0], hub.Options{}, func(c chat.Conversation, err error) error {
		convs = append(convs, c)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 3 {
		t.Fatalf("%d rows, want 3", len(convs))
	}
	for i, c := range convs {
		png, err := os.ReadFile(filepath.Join(dir, "pngs", "scan"+string(rune('0'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		checkShape(t, c, 1, "What organ is shown in scan "+string(rune('1'+i))+"?", "A synthetic ellipse phantom.")
		if !bytes.Equal(c.Images[0], png) {
			t.Errorf("row %d: image bytes differ from pngs/scan%d.png", i, i)
		}
	}
}
