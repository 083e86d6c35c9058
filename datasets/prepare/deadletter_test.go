package prepare

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

var imageType = arrow.StructOf(
	arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
	arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true},
)

// cordRow is one row of a CORD-shaped file; gt nil writes a null ground_truth.
type cordRow struct {
	image []byte
	gt    *string
}

// writeCord writes rows as a CORD-shaped Parquet file (two row groups) with arrow-go.
func writeCord(t *testing.T, path string, rows []cordRow) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "image", Type: imageType, Nullable: true}, {Name: "ground_truth", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for _, r := range rows {
		ib := b.Field(0).(*array.StructBuilder)
		ib.Append(true)
		ib.FieldBuilder(0).(*array.BinaryBuilder).Append(r.image)
		ib.FieldBuilder(1).(*array.StringBuilder).AppendNull()
		if r.gt == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(*r.gt)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(int64(len(rows)+1) / 2))
	w, err := pqarrow.NewFileWriter(sc, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// pngOf encodes a small w×h gradient.
func pngOf(t *testing.T, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a PNG signature and a valid IHDR declaring side×side pixels, and nothing else.
func hugePNG(side uint32) []byte {
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, side)
	ihdr = binary.BigEndian.AppendUint32(ihdr, side)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

func str(s string) *string { return &s }

// TestDeadLetters: rows with a corrupt image, an image over the decode cap, bad JSON, a null
// field and too many tokens each end up exactly once in the dead-letter file, with file, row,
// stage and reason, sorted by (input order, row); the other rows become samples in order, and
// the counts add up everywhere.
func TestDeadLetters(t *testing.T) {
	dir := t.TempDir()
	good := `{"gt_parse": {"menu": {"nm": "KOPI", "price": "12,000"}, "total": {"total_price": "12,000"}}}`
	long := `{"gt_parse": {"menu": {"nm": "` + strings.Repeat("NASI GORENG SPESIAL ", 60) + `"}}}`
	img := pngOf(t, 60, 40)
	z := filepath.Join(dir, "z-train.parquet")
	writeCord(t, z, []cordRow{
		{img, str(good)},                     // 0 sample
		{[]byte("not an image"), str(good)},  // 1 image: unknown format
		{img, str(`{"gt_parse": {"menu": `)}, // 2 maker: bad JSON
		{img, str(long)},                     // 3 length
		{img, nil},                           // 4 maker: null
		{hugePNG(70000), str(good)},          // 5 image: over the decode cap
		{img, str(good)},                     // 6 sample
	})
	a := filepath.Join(dir, "a-train.parquet")
	writeCord(t, a, []cordRow{
		{img, str(`[1, 2]`)}, // 0 maker: no gt_parse object
		{img, str(good)},     // 1 sample
	})
	res := run(t, Options{Maker: "cord_v2", Inputs: []string{z, a}, Split: "train", SeqLength: 256, RowsPerShard: 2, UnitRows: 2})
	if res.Rows != 9 || res.Samples != 3 || res.DeadLetters != 6 || res.Manifest.Totals.DeadLetters != 6 {
		t.Fatalf("rows %d, samples %d, dead letters %d (manifest %d); want 9 = 3 + 6", res.Rows, res.Samples, res.DeadLetters, res.Manifest.Totals.DeadLetters)
	}
	if b, err := os.ReadFile(filepath.Join(res.Out, DeadLetterName)); err == nil {
		t.Logf("%s:\n%s", DeadLetterName, b)
	}
	var got []DeadLetter
	f, err := os.Open(filepath.Join(res.Out, DeadLetterName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var d DeadLetter
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, d)
	}
	want := []struct {
		file  string
		row   int64
		stage string
		why   string
	}{
		{"z-train.parquet", 1, StageImage, "image 0: imageproc: "},
		{"z-train.parquet", 2, StageMaker, "column ground_truth: invalid JSON"},
		{"z-train.parquet", 3, StageLength, "more than the sequence length 256"},
		{"z-train.parquet", 4, StageMaker, "column ground_truth: null"},
		{"z-train.parquet", 5, StageImage, "too large"},
		{"a-train.parquet", 0, StageMaker, "column ground_truth: "},
	}
	if len(got) != len(want) {
		t.Fatalf("dead letters:\n%+v\nwant %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.File != w.file || g.Row != w.row || g.Stage != w.stage || !strings.Contains(g.Reason, w.why) {
			t.Errorf("dead letter %d: %+v, want %s row %d stage %s reason ~ %q", i, g, w.file, w.row, w.stage, w.why)
		}
		if strings.Contains(g.Reason, dir) {
			t.Errorf("dead letter %d: reason names the worker's path: %q", i, g.Reason)
		}
	}
	var rows []string
	for _, s := range readShards(t, res) {
		rows = append(rows, s.SourceFile+":"+itoa(s.SourceRow))
	}
	if strings.Join(rows, " ") != "z-train.parquet:0 z-train.parquet:6 a-train.parquet:1" {
		t.Errorf("samples %v", rows)
	}
}
