package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// imageType is the HF Image feature's Arrow type.
var imageType = arrow.StructOf(
	arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
	arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true},
)

// turnType is one element of the_cauldron's texts column.
var turnType = arrow.StructOf(
	arrow.Field{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: "assistant", Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: "source", Type: arrow.BinaryTypes.String, Nullable: true},
)

// hfSchema returns a schema carrying the "huggingface" metadata key that `datasets` writes
// (its features JSON).
func hfSchema(features string, fields ...arrow.Field) *arrow.Schema {
	md := arrow.NewMetadata([]string{"huggingface"}, []string{`{"info": {"features": ` + features + `}}`})
	return arrow.NewSchema(fields, &md)
}

type hfImage struct {
	data []byte
	path string
}

func appendImage(b *array.StructBuilder, im hfImage) {
	b.Append(true)
	b.FieldBuilder(0).(*array.BinaryBuilder).Append(im.data)
	b.FieldBuilder(1).(*array.StringBuilder).Append(im.path)
}

// writeParquet writes rec to path (folders created) in row groups of rowGroup rows, snappy
// compressed like pyarrow's default, with the Arrow schema stored.
func writeParquet(path string, rec arrow.RecordBatch, rowGroup int64) error {
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(rowGroup),
		parquet.WithCreatedBy("glmflow testdata/datasets/gen"),
	)
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	if err := w.Write(rec); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// shardName is the hub's "<split>-NNNNN-of-MMMMM[-<hex>].parquet".
func shardName(split string, i, n int, fingerprint string) string {
	if fingerprint != "" {
		return fmt.Sprintf("%s-%05d-of-%05d-%s.parquet", split, i, n, fingerprint)
	}
	return fmt.Sprintf("%s-%05d-of-%05d.parquet", split, i, n)
}

var mem = memory.NewGoAllocator()
