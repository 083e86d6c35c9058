package shard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
)

// scanErr opens and scans path, returning the first error and the samples.
func scanErr(path string) ([]shard.Sample, error) {
	r, err := shard.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []shard.Sample
	err = r.Scan(context.Background(), func(_ int64, s *shard.Sample) error {
		out = append(out, *s)
		return nil
	})
	return out, err
}

func TestTruncatedShard(t *testing.T) {
	samples := shardtest.Samples(5, 60, layout, shardtest.DefaultConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	info := writeShard(t, path, samples, shard.WriterOptions{Layout: layout, MaxRowGroupRows: 16})
	full, _ := os.ReadFile(path)
	for _, n := range []int{0, 3, 8, len(full) / 2, len(full) - 9, len(full) - 1} {
		if err := os.WriteFile(path, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := scanErr(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("truncated to %d bytes: error %v, want one naming the file", n, err)
		}
		if err := shard.VerifyShard(dir, info); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("VerifyShard after truncation to %d: %v", n, err)
		}
	}
}

// TestFlippedBytes: a flipped byte anywhere gives an error naming the file or leaves the
// decoded samples unchanged (e.g. a flip inside column statistics); it never panics, and
// VerifyShard always notices.
func TestFlippedBytes(t *testing.T) {
	samples := shardtest.Samples(6, 40, layout, shardtest.DefaultConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	info := writeShard(t, path, samples, shard.WriterOptions{Layout: layout, MaxRowGroupRows: 16})
	full, _ := os.ReadFile(path)
	want, err := scanErr(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	n := 300
	if testing.Short() {
		n = 120
	}
	detected := 0
	for k := range n {
		pos := rng.IntN(len(full))
		if k < 40 { // the footer and its length field are the most fragile: test them densely
			pos = len(full) - 1 - rng.IntN(min(len(full), 400))
		}
		b := append([]byte(nil), full...)
		b[pos] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := func() (got []shard.Sample, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("PANIC: %v", p)
				}
			}()
			return scanErr(path)
		}()
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "PANIC"):
			t.Fatalf("flip at %d: %v", pos, err)
		case err != nil:
			detected++
			if !strings.Contains(err.Error(), path) {
				t.Errorf("flip at %d: error %q does not name the file", pos, err)
			}
		case len(got) != len(want):
			t.Errorf("flip at %d: %d rows without an error, want %d", pos, len(got), len(want))
		default:
			for i := range got {
				if !reflect.DeepEqual(norm(got[i]), norm(want[i])) {
					t.Errorf("flip at %d: row %d changed without an error", pos, i)
					break
				}
			}
		}
		if err := shard.VerifyShard(dir, info); err == nil {
			t.Errorf("flip at %d: VerifyShard passed", pos)
		}
	}
	if detected < n/2 {
		t.Errorf("only %d of %d flips detected by the reader", detected, n)
	}
	t.Logf("%d of %d flips detected by the reader, the rest left the data intact", detected, n)
}

// writeRaw writes one record with an arbitrary schema, bypassing the shard writer's checks.
func writeRaw(t *testing.T, path string, sc *arrow.Schema, fill func(b *array.RecordBuilder)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(sc, f, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	fill(rb)
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

// fillRow appends one row to a builder of the shard schema from raw values.
func fillRow(b *array.RecordBuilder, ids, labels []int32, grids [][3]int32, pixels [][]byte, ntok, nloss int32) {
	lb := b.Field(0).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int32Builder).AppendValues(ids, nil)
	lb = b.Field(1).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int32Builder).AppendValues(labels, nil)
	lb = b.Field(2).(*array.ListBuilder)
	lb.Append(true)
	fl := lb.ValueBuilder().(*array.FixedSizeListBuilder)
	for _, g := range grids {
		fl.Append(true)
		fl.ValueBuilder().(*array.Int32Builder).AppendValues(g[:], nil)
	}
	lb = b.Field(3).(*array.ListBuilder)
	lb.Append(true)
	for _, p := range pixels {
		lb.ValueBuilder().(*array.BinaryBuilder).Append(p)
	}
	b.Field(4).(*array.StringBuilder).Append("src.parquet")
	b.Field(5).(*array.Int64Builder).Append(3)
	b.Field(6).(*array.Int32Builder).Append(ntok)
	b.Field(7).(*array.Int32Builder).Append(nloss)
}

func TestWrongSchema(t *testing.T) {
	dir := t.TempDir()
	good := shard.Schema(layout)
	md := good.Metadata()
	replace := func(i int, f arrow.Field) *arrow.Schema {
		fs := good.Fields()
		fs[i] = f
		return arrow.NewSchema(fs, &md)
	}
	cases := []struct {
		name string
		sc   *arrow.Schema
		want string
	}{
		{"labels int64", replace(1, arrow.Field{Name: "labels", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64)}), `column "labels" has type list<int64>, want list<int32>`},
		{"renamed", replace(4, arrow.Field{Name: "file", Type: arrow.BinaryTypes.String}), `column 4 is "file", want "source_file"`},
		{"nullable", replace(5, arrow.Field{Name: "source_row", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), `column "source_row" has type int64 (nullable)`},
		{"grid list", replace(2, arrow.Field{Name: "image_grid_thw", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int32)}), `column "image_grid_thw" has type list<int32>, want list<fixed_size_list<int32,3>>`},
		{"missing column", arrow.NewSchema(good.Fields()[:7], &md), "7 columns, want 8"},
		{"no metadata", arrow.NewSchema(good.Fields(), nil), `"glmflow.sample.version" missing`},
		{"version 2", func() *arrow.Schema {
			m := arrow.NewMetadata([]string{"glmflow.sample.version", "glmflow.image_token_id", "glmflow.merge_size", "glmflow.patch_size"}, []string{"2", "300", "2", "2"})
			return arrow.NewSchema(good.Fields(), &m)
		}(), "sample schema version 2"},
		{"bad merge", func() *arrow.Schema {
			m := arrow.NewMetadata([]string{"glmflow.sample.version", "glmflow.image_token_id", "glmflow.merge_size", "glmflow.patch_size"}, []string{"1", "300", "0", "2"})
			return arrow.NewSchema(good.Fields(), &m)
		}(), "merge_size 0"},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
		writeRaw(t, path, c.sc, func(b *array.RecordBuilder) {})
		_, err := shard.Open(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
}

// TestInconsistentRows: rows that bypassed the writer's checks are refused with file, row and
// column.
func TestInconsistentRows(t *testing.T) {
	dir := t.TempDir()
	px := make([]byte, 4*layout.RowBytes())
	ok := func(b *array.RecordBuilder) {
		fillRow(b, []int32{1, 301, 300, 302, 5, 6}, []int32{-100, -100, -100, -100, 6, -100}, [][3]int32{{1, 2, 2}}, [][]byte{px}, 6, 1)
	}
	cases := []struct {
		name string
		row  func(b *array.RecordBuilder)
		want string
	}{
		{"num_tokens", func(b *array.RecordBuilder) {
			fillRow(b, []int32{1, 2, 3}, []int32{2, -100, -100}, nil, nil, 4, 1)
		}, `column "num_tokens": 4, but input_ids has 3`},
		{"num_loss", func(b *array.RecordBuilder) {
			fillRow(b, []int32{1, 2, 3}, []int32{2, -100, -100}, nil, nil, 3, 2)
		}, `column "num_loss_tokens": 2, but labels has 1`},
		{"labels length", func(b *array.RecordBuilder) {
			fillRow(b, []int32{1, 2, 3}, []int32{2, -100}, nil, nil, 3, 1)
		}, "labels: 2 labels for 3 input ids"},
		{"image tokens", func(b *array.RecordBuilder) {
			fillRow(b, []int32{1, 301, 300, 300, 302}, []int32{-100, -100, -100, -100, -100}, [][3]int32{{1, 2, 2}}, [][]byte{px}, 5, 0)
		}, "does not match the grids"},
		{"pixel length", func(b *array.RecordBuilder) {
			fillRow(b, []int32{1, 301, 300, 302}, []int32{-100, -100, -100, -100}, [][3]int32{{1, 2, 2}}, [][]byte{px[:40]}, 4, 0)
		}, "image_rows[0]: 40 bytes, want 48"},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
		writeRaw(t, path, shard.Schema(layout), func(b *array.RecordBuilder) { ok(b); ok(b); c.row(b) })
		got, err := scanErr(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path+": row 2:") {
			t.Errorf("%s: error %v, want file, row 2 and %q", c.name, err, c.want)
		}
		if len(got) != 2 {
			t.Errorf("%s: %d good rows before the bad one, want 2", c.name, len(got))
		}
	}
}
