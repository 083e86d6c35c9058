package hub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// miniDir holds the committed mini datasets (testdata/datasets, written by its gen command).
const miniDir = "../../testdata/datasets"

// writeTable writes columns (one arrow.Array per field) to a Parquet file in row groups of
// rowGroup rows; storeSchema keeps the Arrow schema (pyarrow and arrow-go do; DuckDB does not).
func writeTable(t *testing.T, fields []arrow.Field, cols []arrow.Array, rowGroup int64, storeSchema bool) string {
	t.Helper()
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(sc, cols, int64(cols[0].Len()))
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "t.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var ap []pqarrow.WriterOption
	if storeSchema {
		ap = append(ap, pqarrow.WithStoreSchema())
	}
	w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(rowGroup), parquet.WithCompression(compress.Codecs.Zstd)), pqarrow.NewArrowWriterProperties(ap...))
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

// buildArray builds an array of type dt from values (string, []byte, nil, []any for lists,
// map[string]any for structs).
func buildArray(t *testing.T, dt arrow.DataType, values []any) arrow.Array {
	t.Helper()
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	for _, v := range values {
		appendValue(t, b, v)
	}
	return b.NewArray()
}

func appendValue(t *testing.T, b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.StringBuilder:
		bb.Append(v.(string))
	case *array.LargeStringBuilder:
		bb.Append(v.(string))
	case *array.StringViewBuilder:
		bb.Append(v.(string))
	case *array.BinaryBuilder:
		if s, ok := v.(string); ok {
			bb.AppendString(s)
		} else {
			bb.Append(v.([]byte))
		}
	case *array.BinaryViewBuilder:
		bb.Append(v.([]byte))
	case *array.BinaryDictionaryBuilder:
		if err := bb.AppendString(v.(string)); err != nil {
			t.Fatal(err)
		}
	case *array.StructBuilder:
		m := v.(map[string]any)
		bb.Append(true)
		st := bb.Type().(*arrow.StructType)
		for i, f := range st.Fields() {
			appendValue(t, bb.FieldBuilder(i), m[f.Name])
		}
	case array.ListLikeBuilder:
		bb.Append(true)
		for _, e := range v.([]any) {
			appendValue(t, bb.ValueBuilder(), e)
		}
	default:
		t.Fatalf("appendValue: builder %T", b)
	}
}

func imageOf(bt, st arrow.DataType, nullable bool, reversed bool) arrow.DataType {
	fb := arrow.Field{Name: "bytes", Type: bt, Nullable: nullable}
	fp := arrow.Field{Name: "path", Type: st, Nullable: nullable}
	if reversed {
		return arrow.StructOf(fp, fb, arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	}
	return arrow.StructOf(fb, fp)
}

// TestWriterVariants reads the same medpix-like rows written with the type variants that
// pyarrow, DuckDB and arrow-go produce, and checks the values come back unchanged.
func TestWriterVariants(t *testing.T) {
	const n = 7
	var imgs, questions []any
	for i := 0; i < n; i++ {
		imgs = append(imgs, map[string]any{"bytes": []byte(fmt.Sprintf("\x89PNG-image-%d", i)), "path": fmt.Sprintf("img%d.png", i)})
		questions = append(questions, []string{"What is shown?", "Where is the lesion?"}[i%2])
	}
	bin, str := arrow.BinaryTypes.Binary, arrow.BinaryTypes.String
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: str}
	for _, v := range []struct {
		name        string
		img, q      arrow.DataType
		nullable    bool
		storeSchema bool
	}{
		{"pyarrow", imageOf(bin, str, true, false), str, true, true},
		{"large types", imageOf(arrow.BinaryTypes.LargeBinary, arrow.BinaryTypes.LargeString, true, false), arrow.BinaryTypes.LargeString, true, true},
		{"dictionary strings", imageOf(bin, str, true, false), dict, true, true},
		{"required, no arrow schema (DuckDB-like)", imageOf(bin, str, false, false), str, false, false},
		{"struct fields reordered, extra field", imageOf(bin, str, true, true), str, true, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			fields := []arrow.Field{
				{Name: "image_id", Type: v.img, Nullable: v.nullable},
				{Name: "question", Type: v.q, Nullable: v.nullable},
			}
			cols := []arrow.Array{buildArray(t, v.img, imgs), buildArray(t, v.q, questions)}
			path := writeTable(t, fields, cols, 3, v.storeSchema)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			var got int
			err := Rows(path, []Column{{"image_id", KindImage}, {"question", KindString}}, Options{BatchRows: 2, Allocator: mem}, func(r Row) error {
				i := int(r.Index())
				if i != got {
					return fmt.Errorf("row index %d, want %d", i, got)
				}
				im, err := r.Image("image_id")
				if err != nil {
					return err
				}
				q, err := r.String("question")
				if err != nil {
					return err
				}
				want := imgs[i].(map[string]any)
				if !bytes.Equal(im.Bytes, want["bytes"].([]byte)) || im.Path != want["path"] || q != questions[i] {
					return fmt.Errorf("row %d: got (%q,%q,%q)", i, im.Bytes, im.Path, q)
				}
				got++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Errorf("%d rows, want %d", got, n)
			}
			mem.AssertSize(t, 0)
		})
	}
}

func TestListColumns(t *testing.T) {
	im := imageOf(arrow.BinaryTypes.Binary, arrow.BinaryTypes.String, true, false)
	turn := arrow.StructOf(
		arrow.Field{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "assistant", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "source", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	for _, large := range []bool{false, true} {
		listOf := func(e arrow.DataType) arrow.DataType {
			if large {
				return arrow.LargeListOf(e)
			}
			return arrow.ListOf(e)
		}
		images := []any{
			[]any{map[string]any{"bytes": "a"}, map[string]any{"bytes": "bb", "path": "p"}},
			[]any{},
			nil,
		}
		texts := []any{
			[]any{map[string]any{"user": "q?", "assistant": "A", "source": "raven"}, map[string]any{"user": "2", "assistant": "3"}},
			[]any{map[string]any{"user": nil, "assistant": "A"}},
			[]any{},
		}
		fields := []arrow.Field{{Name: "images", Type: listOf(im), Nullable: true}, {Name: "texts", Type: listOf(turn), Nullable: true}}
		path := writeTable(t, fields, []arrow.Array{buildArray(t, listOf(im), images), buildArray(t, listOf(turn), texts)}, 2, true)
		var rows []string
		err := Rows(path, []Column{{"images", KindImageList}, {"texts", KindTurns}}, Options{}, func(r Row) error {
			ims, err1 := r.Images("images")
			ts, err2 := r.Turns("texts")
			rows = append(rows, fmt.Sprintf("%d %v %v %v %v", r.Index(), ims, err1, ts, err2))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			`0 [{[97] } {[98 98] p}] <nil> [{q? A raven} {2 3 }] <nil>`,
			`1 [] <nil> [] ` + path + `: row 1: column texts[0].user: null`,
			`2 [] ` + path + `: row 2: column images: null [] <nil>`,
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("large=%v:\n%s\nwant\n%s", large, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	str := arrow.BinaryTypes.String
	path := writeTable(t,
		[]arrow.Field{{Name: "image", Type: str, Nullable: true}, {Name: "ground_truth", Type: arrow.PrimitiveTypes.Int64, Nullable: true}},
		[]arrow.Array{buildArray(t, str, []any{"x"}), func() arrow.Array {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			b.Append(1)
			return b.NewArray()
		}()}, 10, true)
	for _, c := range []struct {
		cols []Column
		want string
	}{
		{[]Column{{"image", KindImage}}, path + ": column image: type utf8, want struct<bytes: binary, path: string> (utf8 is not a struct)"},
		{[]Column{{"ground_truth", KindString}}, path + ": column ground_truth: type int64, want string (int64 is not a string type)"},
		{[]Column{{"images", KindImageList}}, path + ": column images: missing (want list<struct<bytes: binary, path: string>>; file has [image ground_truth])"},
		{[]Column{{"image", KindTurns}}, "column image: type utf8, want list<struct<user: string, assistant: string, source: string>> (utf8 is not a list)"},
	} {
		_, err := Open(path, c.cols, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v\nwant %s", c.cols, err, c.want)
		}
	}
	// Type errors inside nested types name the field.
	bad := arrow.StructOf(arrow.Field{Name: "bytes", Type: str, Nullable: true})
	path = writeTable(t, []arrow.Field{{Name: "image", Type: bad, Nullable: true}}, []arrow.Array{buildArray(t, bad, []any{map[string]any{"bytes": "x"}})}, 10, true)
	var te *TypeError
	if _, err := Open(path, []Column{{"image", KindImage}}, Options{}); !errors.As(err, &te) || te.Detail != "field bytes: utf8 is not a binary type" {
		t.Errorf("nested type error: %v", err)
	}
}

func TestLimits(t *testing.T) {
	bin := imageOf(arrow.BinaryTypes.Binary, arrow.BinaryTypes.String, true, false)
	big := bytes.Repeat([]byte{7}, 5000)
	path := writeTable(t, []arrow.Field{{Name: "image", Type: bin, Nullable: true}},
		[]arrow.Array{buildArray(t, bin, []any{map[string]any{"bytes": []byte("ok")}, map[string]any{"bytes": big}, map[string]any{"path": "only/a/path.jpg"}})}, 10, true)
	var errs []string
	err := Rows(path, []Column{{"image", KindImage}}, Options{MaxValueBytes: 4096}, func(r Row) error {
		_, err := r.Image("image")
		errs = append(errs, fmt.Sprint(err))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"<nil>", path + ": row 1: column image: image of 5000 bytes (limit 4096)",
		path + `: row 2: column image: image has no bytes (path "only/a/path.jpg"): images referenced only by path are not supported`}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("row errors:\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Open(path, []Column{{"image", KindImage}}, Options{MaxColumnChunkBytes: 1000}); err == nil || !strings.Contains(err.Error(), "column image.bytes: uncompressed size") {
		t.Errorf("chunk limit: %v", err)
	}
	if _, err := Open(path, nil, Options{MaxRows: 2}); err == nil || !strings.Contains(err.Error(), "declares 3 rows") {
		t.Errorf("row limit: %v", err)
	}
}

// TestBatchesBounded checks that a reader holds at most BatchRows rows at a time and that row
// indices run on across row groups and shards' batches.
func TestBatchesBounded(t *testing.T) {
	files, err := SplitFiles(filepath.Join(miniDir, "cord-v2"), "", "train")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		r, err := Open(f, []Column{{"image", KindImage}, {"ground_truth", KindString}}, Options{BatchRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		var next int64
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() > 3 || b.Len() == 0 {
				t.Errorf("batch of %d rows", b.Len())
			}
			for i := 0; i < b.Len(); i++ {
				if b.Row(i).Index() != next {
					t.Errorf("row index %d, want %d", b.Row(i).Index(), next)
				}
				next++
			}
			b.Release()
		}
		if next != r.NumRows() || next != 4 {
			t.Errorf("%s: %d rows, NumRows %d, want 4", f, next, r.NumRows())
		}
		r.Close()
	}
}

// TestTruncatedFiles cuts a real file at many lengths and flips bytes: every open/read must end
// in an error naming the file (or a clean read), never a panic.
func TestTruncatedFiles(t *testing.T) {
	files, err := SplitFiles(filepath.Join(miniDir, "medpix-vqa"), "", "validation")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	step := len(data) / 97
	if testing.Short() {
		step = len(data) / 23
	}
	cols := []Column{{"image_id", KindImage}, {"question", KindString}, {"answer", KindString}}
	check := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := Rows(p, cols, Options{}, func(r Row) error {
			_, err := r.Image("image_id")
			return err
		})
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	for n := 0; n < len(data); n += step {
		check(fmt.Sprintf("cut%d.parquet", n), data[:n])
	}
	for i := 0; i < len(data); i += step {
		b := bytes.Clone(data)
		b[i] ^= 0xff
		check(fmt.Sprintf("flip%d.parquet", i), b)
	}
}

// TestMiniDatasetsNoLeaks reads every mini dataset file with a leak-checking allocator.
func TestMiniDatasetsNoLeaks(t *testing.T) {
	for _, c := range []struct {
		dir, config, split string
		cols               []Column
		rows               int64
	}{
		{"cord-v2", "", "train", []Column{{"image", KindImage}, {"ground_truth", KindString}}, 8},
		{"medpix-vqa", "", "train", []Column{{"image_id", KindImage}, {"question", KindString}, {"answer", KindString}}, 6},
		{"the_cauldron", "raven", "train", []Column{{"images", KindImageList}, {"texts", KindTurns}}, 6},
	} {
		files, err := SplitFiles(filepath.Join(miniDir, c.dir), c.config, c.split)
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var n int64
		for _, f := range files {
			if err := Rows(f, c.cols, Options{Allocator: mem, BatchRows: 3}, func(Row) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if n != c.rows {
			t.Errorf("%s %s: %d rows, want %d", c.dir, c.split, n, c.rows)
		}
		mem.AssertSize(t, 0)
	}
}

func FuzzOpen(f *testing.F) {
	for _, p := range []string{"medpix-vqa/data/validation-00000-of-00001.parquet", "the_cauldron/raven/train-00000-of-00001.parquet"} {
		b, err := os.ReadFile(filepath.Join(miniDir, p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = Rows(p, nil, Options{MaxColumnChunkBytes: 64 << 20}, func(r Row) error { return nil })
	})
}

// TestRequiredNulls checks that nulls in a field declared non-nullable are rejected where the
// parent is valid and accepted under a null parent.
func TestRequiredNulls(t *testing.T) {
	st := arrow.StructOf(arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: false})
	b := array.NewStructBuilder(memory.DefaultAllocator, st)
	defer b.Release()
	b.Append(true)
	b.FieldBuilder(0).(*array.BinaryBuilder).Append([]byte("x"))
	b.AppendNull() // null parent: its child slot is null too, which is fine
	a := b.NewArray()
	defer a.Release()
	if err := checkNulls(arrow.Field{Name: "image", Type: st, Nullable: true}, a, nil); err != nil {
		t.Errorf("null under a null parent: %v", err)
	}
	b.Append(true)
	b.FieldBuilder(0).AppendNull()
	a2 := b.NewArray()
	defer a2.Release()
	if err := checkNulls(arrow.Field{Name: "image", Type: st, Nullable: true}, a2, nil); err == nil || !strings.Contains(err.Error(), "field bytes is declared required") {
		t.Errorf("null in a required field: %v", err)
	}
	if err := checkNulls(arrow.Field{Name: "image", Type: st, Nullable: false}, a, nil); err == nil {
		t.Error("null in a required top-level column accepted")
	}
}
