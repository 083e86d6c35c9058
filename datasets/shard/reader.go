package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// readBatchRows is the number of rows per Arrow record batch while streaming.
const readBatchRows = 64

// Reader reads and checks one shard. Open validates the schema; every row is checked as it is
// decoded. A Reader is not safe for concurrent use.
type Reader struct {
	name    string
	f       *os.File
	pf      *file.Reader
	fr      *pqarrow.FileReader
	layout  Layout
	rows    int64
	rgFirst []int64 // [row groups + 1] first row of each row group, then the total
}

// Open opens the shard at path and checks its schema and metadata.
func Open(path string) (r *Reader, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close() // a second close after pf.Close only returns an ignored error
		}
	}()
	defer recoverTo(path, &err)
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	pf, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("shard %s: not a readable Parquet file: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	sc, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("shard %s: schema: %w", path, err)
	}
	layout, err := checkSchema("shard "+path, sc)
	if err != nil {
		pf.Close()
		return nil, err
	}
	r = &Reader{name: path, f: f, pf: pf, fr: fr, layout: layout}
	md := pf.MetaData()
	r.rgFirst = make([]int64, 0, pf.NumRowGroups()+1)
	for i := range pf.NumRowGroups() {
		n := md.RowGroup(i).NumRows()
		if n < 0 || n > 1<<40 {
			pf.Close()
			return nil, fmt.Errorf("shard %s: row group %d claims %d rows", path, i, n)
		}
		r.rgFirst = append(r.rgFirst, r.rows)
		r.rows += n
	}
	r.rgFirst = append(r.rgFirst, r.rows)
	if md.NumRows != r.rows {
		pf.Close()
		return nil, fmt.Errorf("shard %s: footer says %d rows, row groups hold %d", path, md.NumRows, r.rows)
	}
	return r, nil
}

// recoverTo turns a panic inside arrow-go on a malformed file into an error.
func recoverTo(name string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("shard %s: malformed file: %v", name, p)
	}
}

// Name is the path the reader was opened with.
func (r *Reader) Name() string { return r.name }

// Layout is the layout stored in the shard's schema metadata.
func (r *Reader) Layout() Layout { return r.layout }

// NumRows is the number of samples in the shard.
func (r *Reader) NumRows() int64 { return r.rows }

// NumRowGroups is the number of row groups.
func (r *Reader) NumRowGroups() int { return len(r.rgFirst) - 1 }

// RowGroupRange returns the first row and the row count of row group i.
func (r *Reader) RowGroupRange(i int) (first, n int64) {
	return r.rgFirst[i], r.rgFirst[i+1] - r.rgFirst[i]
}

// Close releases the file (the Parquet reader owns and closes it).
func (r *Reader) Close() error { return r.pf.Close() }

// ReadRowGroup decodes and checks the samples of row group i.
func (r *Reader) ReadRowGroup(ctx context.Context, i int) ([]Sample, error) {
	if i < 0 || i >= r.NumRowGroups() {
		return nil, fmt.Errorf("shard %s: row group %d out of range [0, %d)", r.name, i, r.NumRowGroups())
	}
	first, n := r.RowGroupRange(i)
	out := make([]Sample, 0, n)
	err := r.scan(ctx, []int{i}, first, func(_ int64, s *Sample) error {
		out = append(out, *s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != n {
		return nil, fmt.Errorf("shard %s: row group %d decoded %d rows, footer says %d", r.name, i, len(out), n)
	}
	return out, nil
}

// Scan streams every sample in file order, record batch by record batch, calling fn with the
// row index. The *Sample is fresh for each row (fn may keep it). Memory stays bounded by one
// record batch of readBatchRows rows plus the decoded page buffers of one row group.
func (r *Reader) Scan(ctx context.Context, fn func(row int64, s *Sample) error) error {
	var n int64
	err := r.scan(ctx, nil, 0, func(row int64, s *Sample) error {
		n++
		return fn(row, s)
	})
	if err == nil && n != r.rows {
		err = fmt.Errorf("shard %s: decoded %d rows, footer says %d", r.name, n, r.rows)
	}
	return err
}

func (r *Reader) scan(ctx context.Context, rowGroups []int, first int64, fn func(row int64, s *Sample) error) (err error) {
	defer recoverTo(r.name, &err)
	rr, err := r.fr.GetRecordReader(ctx, nil, rowGroups)
	if err != nil {
		return fmt.Errorf("shard %s: %w", r.name, err)
	}
	defer rr.Release()
	row := first
	for {
		rec, err := rr.Read()
		if rec != nil && rec.NumRows() > 0 {
			if derr := r.decode(rec, row, fn); derr != nil {
				return derr
			}
			row += rec.NumRows()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("shard %s: near row %d: %w", r.name, row, err)
		}
		if rec == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
}

// decode converts a record batch into checked samples.
func (r *Reader) decode(rec arrow.RecordBatch, first int64, fn func(row int64, s *Sample) error) error {
	if rec.NumCols() != numCols {
		return fmt.Errorf("shard %s: record batch with %d columns, want %d", r.name, rec.NumCols(), numCols)
	}
	for c := range numCols {
		if col := rec.Column(c); col.NullN() != 0 {
			return fmt.Errorf("shard %s: column %q: %d nulls in rows %d..%d", r.name, fields[c].Name, col.NullN(), first, first+rec.NumRows()-1)
		}
	}
	ids, ok1 := rec.Column(colInputIDs).(*array.List)
	labels, ok2 := rec.Column(colLabels).(*array.List)
	grids, ok3 := rec.Column(colGrids).(*array.List)
	pix, ok4 := rec.Column(colImageRows).(*array.List)
	src, ok5 := rec.Column(colSourceFile).(*array.String)
	srow, ok6 := rec.Column(colSourceRow).(*array.Int64)
	ntok, ok7 := rec.Column(colNumTokens).(*array.Int32)
	nloss, ok8 := rec.Column(colNumLossTokens).(*array.Int32)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return fmt.Errorf("shard %s: unexpected Arrow array types in rows %d..", r.name, first)
	}
	idv, ok1 := ids.ListValues().(*array.Int32)
	labv, ok2 := labels.ListValues().(*array.Int32)
	gl, ok3 := grids.ListValues().(*array.FixedSizeList)
	pixv, ok4 := pix.ListValues().(*array.Binary)
	if !(ok1 && ok2 && ok3 && ok4) {
		return fmt.Errorf("shard %s: unexpected Arrow list value types in rows %d..", r.name, first)
	}
	glv, ok := gl.ListValues().(*array.Int32)
	if !ok {
		return fmt.Errorf("shard %s: column %q: grid values are %s, want int32", r.name, ColGrids, gl.ListValues().DataType())
	}
	idVals, labVals, gridVals := idv.Int32Values(), labv.Int32Values(), glv.Int32Values()
	for i := 0; i < int(rec.NumRows()); i++ {
		row := first + int64(i)
		bad := func(col string, format string, a ...any) error {
			return fmt.Errorf("shard %s: row %d: column %q: %s", r.name, row, col, fmt.Sprintf(format, a...))
		}
		s := &Sample{SourceFile: src.Value(i), SourceRow: srow.Value(i)}
		a, b := ids.ValueOffsets(i)
		if a < 0 || b < a || b > int64(len(idVals)) || b-a > MaxTokens {
			return bad(ColInputIDs, "list offsets [%d, %d) invalid", a, b)
		}
		s.InputIDs = append([]int32(nil), idVals[a:b]...)
		a, b = labels.ValueOffsets(i)
		if a < 0 || b < a || b > int64(len(labVals)) || b-a > MaxTokens {
			return bad(ColLabels, "list offsets [%d, %d) invalid", a, b)
		}
		s.Labels = append([]int32(nil), labVals[a:b]...)
		a, b = grids.ValueOffsets(i)
		if a < 0 || b < a || b > int64(gl.Len()) || b-a > MaxImages {
			return bad(ColGrids, "list offsets [%d, %d) invalid", a, b)
		}
		s.Grids = make([][3]int32, b-a)
		for k := range s.Grids {
			u, v := gl.ValueOffsets(int(a) + k)
			if u < 0 || v != u+3 || v > int64(len(gridVals)) {
				return bad(ColGrids, "image %d: value offsets [%d, %d) invalid", k, u, v)
			}
			copy(s.Grids[k][:], gridVals[u:v])
		}
		a, b = pix.ValueOffsets(i)
		if a < 0 || b < a || b > int64(pixv.Len()) || b-a > MaxImages {
			return bad(ColImageRows, "list offsets [%d, %d) invalid", a, b)
		}
		s.Pixels = make([][]byte, b-a)
		for k := range s.Pixels {
			s.Pixels[k] = append([]byte(nil), pixv.Value(int(a)+k)...)
		}
		if err := s.Check(r.layout); err != nil {
			return fmt.Errorf("shard %s: row %d: %w", r.name, row, err)
		}
		if got := ntok.Value(i); int(got) != len(s.InputIDs) {
			return bad(ColNumTokens, "%d, but input_ids has %d", got, len(s.InputIDs))
		}
		if got, want := nloss.Value(i), s.NumLossTokens(); int(got) != want {
			return bad(ColNumLossTokens, "%d, but labels has %d trained positions", got, want)
		}
		if err := fn(row, s); err != nil {
			return err
		}
	}
	return nil
}
