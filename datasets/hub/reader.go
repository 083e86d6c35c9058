package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Options bound what a reader accepts and how much it holds at once. Zero fields take defaults.
type Options struct {
	BatchRows           int              // rows per record batch (default 64: image rows are large)
	MaxRows             int64            // rows a file may declare (default 1<<31)
	MaxColumnChunkBytes int64            // uncompressed size of one column chunk, and of one page (default 1 GiB)
	MaxValueBytes       int              // one cell: encoded image, string (default 256 MiB)
	Allocator           memory.Allocator // default memory.DefaultAllocator
}

func (o Options) withDefaults() Options {
	if o.BatchRows <= 0 {
		o.BatchRows = 64
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 1 << 31
	}
	if o.MaxColumnChunkBytes <= 0 {
		o.MaxColumnChunkBytes = 1 << 30
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = 256 << 20
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	return o
}

// Reader streams the rows of one Parquet file in record batches.
type Reader struct {
	file    string
	o       Options
	f       *os.File
	pf      *file.Reader
	rr      pqarrow.RecordReader
	cols    []Column
	schema  *arrow.Schema
	numRows int64
	next    int64 // index of the next row to return
	err     error // sticky
}

// Open opens path, checks its footer against o's limits and checks that every column of cols
// exists with a type of its kind. With cols empty every column is read, whatever its type.
func Open(path string, cols []Column, o Options) (r *Reader, err error) {
	o = o.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r = &Reader{file: path, o: o, f: f, cols: cols}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	err = guard(path, func() error { return r.open() })
	return r, err
}

// guard runs fn and turns a panic inside it (arrow-go panics on some malformed files) into an
// error naming the file.
func guard(path string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: malformed parquet file: reader panicked: %v", path, p)
			if os.Getenv("GLMFLOW_DEBUG_PANICS") != "" {
				err = fmt.Errorf("%w\n%s", err, debug.Stack())
			}
		}
	}()
	return fn()
}

func (r *Reader) open() error {
	st, err := r.f.Stat()
	if err != nil {
		return err
	}
	props := parquet.NewReaderProperties(r.o.Allocator)
	props.BufferedStreamEnabled = true
	props.MaxCompressedPageSize = min(r.o.MaxColumnChunkBytes, parquet.DefaultMaxCompressedPageSize)
	props.MaxUncompressedPageSize = min(r.o.MaxColumnChunkBytes, parquet.DefaultMaxUncompressedPageSize)
	pf, err := file.NewParquetReader(r.f, file.WithReadProps(props))
	if err != nil {
		return fmt.Errorf("%s: %w", r.file, err)
	}
	r.pf = pf
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(r.o.BatchRows)}, r.o.Allocator)
	if err != nil {
		return fmt.Errorf("%s: %w", r.file, err)
	}
	leaves, err := r.selectColumns(fr)
	if err != nil {
		return err
	}
	if err := r.checkSizes(leaves, st.Size()); err != nil {
		return err
	}
	if r.numRows == 0 {
		return nil // no rows: Next returns io.EOF
	}
	rr, err := fr.GetRecordReader(context.Background(), leaves, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", r.file, err)
	}
	r.rr = rr
	r.schema = rr.Schema()
	return nil
}

// selectColumns resolves r.cols to top-level fields, checks their types and returns the leaf
// column indices to read (nil: all).
func (r *Reader) selectColumns(fr *pqarrow.FileReader) ([]int, error) {
	sc, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("%s: schema: %w", r.file, err)
	}
	r.schema = sc
	if len(r.cols) == 0 {
		return nil, nil
	}
	var leaves []int
	for _, c := range r.cols {
		idx := sc.FieldIndices(c.Name)
		switch len(idx) {
		case 0:
			return nil, fmt.Errorf("%s: column %s: missing (want %s; file has %s)", r.file, c.Name, c.Kind, fieldNames(sc))
		case 1:
		default:
			return nil, fmt.Errorf("%s: column %s: appears %d times", r.file, c.Name, len(idx))
		}
		t := sc.Field(idx[0]).Type
		if why := checkType(t, c.Kind); why != "" {
			return nil, &TypeError{File: r.file, Column: c.Name, Found: t, Want: c.Kind, Detail: why}
		}
		if idx[0] >= len(fr.Manifest.Fields) {
			return nil, fmt.Errorf("%s: column %s: not in the parquet schema manifest", r.file, c.Name)
		}
		leaves = appendLeaves(leaves, &fr.Manifest.Fields[idx[0]])
	}
	return leaves, nil
}

func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}

func fieldNames(sc *arrow.Schema) string {
	s := "["
	for i, f := range sc.Fields() {
		if i > 0 {
			s += " "
		}
		s += f.Name
	}
	return s + "]"
}

// checkSizes validates the footer's counts and sizes before any data page is read and sets
// r.numRows to the sum of the row groups' counts (some writers, e.g. old parquet-mr, leave the
// file-level count at 0; readers go by the row groups).
func (r *Reader) checkSizes(leaves []int, fileSize int64) error {
	md := r.pf.MetaData()
	if n := r.pf.NumRows(); n < 0 || n > r.o.MaxRows {
		return fmt.Errorf("%s: footer declares %d rows (limit %d)", r.file, n, r.o.MaxRows)
	}
	if leaves == nil {
		leaves = make([]int, md.NumColumns())
		for i := range leaves {
			leaves[i] = i
		}
	}
	var sum int64
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		rows := rg.NumRows()
		if rows < 0 || rows > r.o.MaxRows-sum {
			return fmt.Errorf("%s: row group %d declares %d rows (%d before it, limit %d)", r.file, g, rows, sum, r.o.MaxRows)
		}
		sum += rows
		if rg.NumColumns() != md.NumColumns() {
			return fmt.Errorf("%s: row group %d has %d column chunks, schema has %d columns", r.file, g, rg.NumColumns(), md.NumColumns())
		}
		for _, c := range leaves {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("%s: row group %d column %d: %w", r.file, g, c, err)
			}
			name := cc.PathInSchema().String()
			if u := cc.TotalUncompressedSize(); u < 0 || u > r.o.MaxColumnChunkBytes {
				return fmt.Errorf("%s: row group %d column %s: uncompressed size %d (limit %d)", r.file, g, name, u, r.o.MaxColumnChunkBytes)
			}
			if z := cc.TotalCompressedSize(); z < 0 || z > fileSize {
				return fmt.Errorf("%s: row group %d column %s: compressed size %d exceeds the file size %d", r.file, g, name, z, fileSize)
			}
			if v := cc.NumValues(); v < 0 {
				return fmt.Errorf("%s: row group %d column %s: negative value count %d", r.file, g, name, v)
			}
		}
	}
	r.numRows = sum
	return nil
}

// File returns the path the reader was opened with.
func (r *Reader) File() string { return r.file }

// NumRows returns the number of rows the row groups declare.
func (r *Reader) NumRows() int64 { return r.numRows }

// Schema returns the file's Arrow schema (only the selected columns once reading started).
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// Next returns the next batch of rows, io.EOF after the last. The caller releases the batch.
func (r *Reader) Next() (*Batch, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, err := r.next1()
	if err != nil {
		r.err = err
	}
	return b, err
}

func (r *Reader) next1() (b *Batch, err error) {
	if r.rr == nil {
		return nil, io.EOF
	}
	var rec arrow.RecordBatch
	err = guard(r.file, func() error {
		if !r.rr.Next() {
			if e := r.rr.Err(); e != nil && !errors.Is(e, io.EOF) {
				return fmt.Errorf("%s: rows from %d: %w", r.file, r.next, e)
			}
			return io.EOF
		}
		rec = r.rr.RecordBatch()
		rec.Retain()
		return nil
	})
	if errors.Is(err, io.EOF) {
		if r.next != r.numRows {
			return nil, fmt.Errorf("%s: read %d rows, row groups declare %d", r.file, r.next, r.numRows)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	b, err = newBatch(r, rec)
	if err != nil {
		rec.Release()
		return nil, err
	}
	r.next += int64(rec.NumRows())
	if r.next > r.numRows {
		b.Release()
		return nil, fmt.Errorf("%s: read %d rows, row groups declare %d", r.file, r.next, r.numRows)
	}
	return b, nil
}

// Close releases the reader's resources.
func (r *Reader) Close() error {
	if r.rr != nil {
		_ = guard(r.file, func() error { r.rr.Release(); return nil })
		r.rr = nil
	}
	if r.pf != nil {
		r.pf = nil // closes r.f only if it opened it; we own r.f
	}
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}

// Rows streams every row of path to fn, batch by batch. An error from fn stops the stream and is
// returned as is.
func Rows(path string, cols []Column, o Options, fn func(Row) error) error {
	r, err := Open(path, cols, o)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for i := 0; i < b.Len(); i++ {
			if err := fn(b.Row(i)); err != nil {
				b.Release()
				return err
			}
		}
		b.Release()
	}
}
