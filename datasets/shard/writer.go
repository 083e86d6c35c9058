package shard

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// WriterOptions configure a shard writer. Zero values take the defaults.
type WriterOptions struct {
	Layout Layout // required
	// MaxRowGroupRows bounds the rows of a row group (default 256). A reader holds at most one
	// row group per open shard; the loader caches whole row groups.
	MaxRowGroupRows int
	// MaxRowGroupBytes bounds the raw payload of a row group: 8 bytes per token plus the image
	// bytes (default 64 MiB). A single larger sample still gets its own row group.
	MaxRowGroupBytes int64
	// CompressionLevel is the zstd level (default 3).
	CompressionLevel int
}

func (o *WriterOptions) defaults() {
	if o.MaxRowGroupRows <= 0 {
		o.MaxRowGroupRows = 256
	}
	if o.MaxRowGroupBytes <= 0 {
		o.MaxRowGroupBytes = 64 << 20
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = 3
	}
}

// ShardInfo describes one written shard; the manifest lists them.
type ShardInfo struct {
	Name       string `json:"name"` // file name relative to the manifest's directory
	Rows       int64  `json:"rows"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	Tokens     int64  `json:"tokens"`
	LossTokens int64  `json:"loss_tokens"`
	Images     int64  `json:"images"`
}

// Writer writes samples to one Parquet shard. It is not safe for concurrent use.
type Writer struct {
	path, tmp string
	opts      WriterOptions
	f         *os.File
	out       *countingHash
	fw        *pqarrow.FileWriter
	rb        *array.RecordBuilder
	b         builders
	rgRows    int
	rgBytes   int64
	info      ShardInfo
	err       error
	closed    bool
}

// builders are the column builders of rb.
type builders struct {
	ids, labels *array.ListBuilder
	idv, labv   *array.Int32Builder
	grids       *array.ListBuilder
	gridList    *array.FixedSizeListBuilder
	gridv       *array.Int32Builder
	rows        *array.ListBuilder
	rowv        *array.BinaryBuilder
	file        *array.StringBuilder
	row         *array.Int64Builder
	ntok, nloss *array.Int32Builder
}

// countingHash is the sink: buffered file writes, a running sha256 and a byte count. It is not
// an io.Closer, so the Parquet writer leaves the file to us.
type countingHash struct {
	w *bufio.Writer
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return c.w.Write(p)
}

// Create starts a shard that will appear at path when Close succeeds. Until then the rows go
// to a temporary file in the same directory.
func Create(path string, o WriterOptions) (*Writer, error) {
	o.defaults()
	if err := o.Layout.Validate(); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	w := &Writer{path: path, tmp: f.Name(), opts: o, f: f}
	w.out = &countingHash{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(o.MaxRowGroupRows)),
		parquet.WithDataPageSize(1<<20),
		parquet.WithStats(false), // on for the scalar columns only: cheap, useful to other tools
		parquet.WithStatsFor(ColSourceRow, true),
		parquet.WithStatsFor(ColNumTokens, true),
		parquet.WithStatsFor(ColNumLossTokens, true),
		parquet.WithCreatedBy("glmflow shard v1"),
	)
	schema := Schema(o.Layout)
	fw, err := pqarrow.NewFileWriter(schema, w.out, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	w.fw = fw
	w.rb = array.NewRecordBuilder(memory.DefaultAllocator, schema)
	w.b = builders{
		ids:    w.rb.Field(colInputIDs).(*array.ListBuilder),
		labels: w.rb.Field(colLabels).(*array.ListBuilder),
		grids:  w.rb.Field(colGrids).(*array.ListBuilder),
		rows:   w.rb.Field(colImageRows).(*array.ListBuilder),
		file:   w.rb.Field(colSourceFile).(*array.StringBuilder),
		row:    w.rb.Field(colSourceRow).(*array.Int64Builder),
		ntok:   w.rb.Field(colNumTokens).(*array.Int32Builder),
		nloss:  w.rb.Field(colNumLossTokens).(*array.Int32Builder),
	}
	w.b.idv = w.b.ids.ValueBuilder().(*array.Int32Builder)
	w.b.labv = w.b.labels.ValueBuilder().(*array.Int32Builder)
	w.b.gridList = w.b.grids.ValueBuilder().(*array.FixedSizeListBuilder)
	w.b.gridv = w.b.gridList.ValueBuilder().(*array.Int32Builder)
	w.b.rowv = w.b.rows.ValueBuilder().(*array.BinaryBuilder)
	w.info.Name = filepath.Base(path)
	return w, nil
}

// Write checks s (Sample.Check) and appends it. An invalid sample is an error and is not
// written; the writer stays usable. An I/O error is sticky.
func (w *Writer) Write(s *Sample) error {
	if w.closed {
		return fmt.Errorf("shard %s: write after close", w.path)
	}
	if w.err != nil {
		return w.err
	}
	if err := s.Check(w.opts.Layout); err != nil {
		return fmt.Errorf("shard %s: sample %s:%d: %w", w.path, s.SourceFile, s.SourceRow, err)
	}
	b := &w.b
	b.ids.Append(true)
	b.idv.AppendValues(s.InputIDs, nil)
	b.labels.Append(true)
	b.labv.AppendValues(s.Labels, nil)
	b.grids.Append(true)
	b.rows.Append(true)
	var payload int64 = 8 * int64(len(s.InputIDs))
	for k, g := range s.Grids {
		b.gridList.Append(true)
		b.gridv.AppendValues(g[:], nil)
		b.rowv.Append(s.Pixels[k])
		payload += int64(len(s.Pixels[k]))
	}
	b.file.Append(s.SourceFile)
	b.row.Append(s.SourceRow)
	nloss := s.NumLossTokens()
	b.ntok.Append(int32(len(s.InputIDs)))
	b.nloss.Append(int32(nloss))
	w.rgRows++
	w.rgBytes += payload
	w.info.Rows++
	w.info.Tokens += int64(len(s.InputIDs))
	w.info.LossTokens += int64(nloss)
	w.info.Images += int64(len(s.Grids))
	if w.rgRows >= w.opts.MaxRowGroupRows || w.rgBytes >= w.opts.MaxRowGroupBytes {
		return w.flush()
	}
	return nil
}

// flush writes the buffered rows as one row group.
func (w *Writer) flush() error {
	if w.rgRows == 0 {
		return nil
	}
	rec := w.rb.NewRecordBatch()
	defer rec.Release()
	w.rgRows, w.rgBytes = 0, 0
	if err := w.fw.Write(rec); err != nil {
		w.err = fmt.Errorf("shard %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// Rows is the number of samples written so far.
func (w *Writer) Rows() int64 { return w.info.Rows }

// Close writes the last row group and the footer, syncs the file and renames it to its final
// name. On any error the temporary file is removed and nothing appears at the path.
func (w *Writer) Close() (ShardInfo, error) {
	if w.closed {
		return ShardInfo{}, fmt.Errorf("shard %s: closed twice", w.path)
	}
	err := w.err
	if err == nil {
		err = w.flush()
	}
	w.closed = true
	w.rb.Release()
	if cerr := w.fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("shard %s: %w", w.path, cerr)
	}
	if err == nil {
		err = w.out.w.Flush()
	}
	if err == nil {
		err = w.f.Chmod(0o644) // CreateTemp makes 0600; shards are for everyone to read
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(w.path))
	}
	if err != nil {
		os.Remove(w.tmp)
		return ShardInfo{}, fmt.Errorf("shard %s: %w", w.path, err)
	}
	w.info.Bytes = w.out.n
	w.info.SHA256 = hex.EncodeToString(w.out.h.Sum(nil))
	return w.info, nil
}

// Abort discards the shard: nothing appears at the path.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.rb.Release()
	w.fw.Close()
	return w.abort()
}

func (w *Writer) abort() error {
	err := w.f.Close()
	if rerr := os.Remove(w.tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	return err
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems (and Windows) cannot sync a directory; the rename itself succeeded.
	if err != nil && errors.Is(err, os.ErrInvalid) {
		return nil
	}
	return err
}

var _ io.Writer = (*countingHash)(nil)
