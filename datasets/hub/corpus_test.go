package hub

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// corpusDir is apache/parquet-testing as laid out in the shared corpora (see reliability.md B.6).
const corpusDir = "../../../shared/corpora/parquet-testing"

func corpusFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".parquet") || strings.HasSuffix(p, ".parquet.encrypted")) {
			files = append(files, p)
		}
		return nil
	})
	if os.IsNotExist(err) {
		t.Skipf("corpus not present at %s", corpusDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// scan reads every column of every row of path and returns the row count.
func scan(path string, mem memory.Allocator) (int64, error) {
	var n int64
	err := Rows(path, nil, Options{BatchRows: 1000, Allocator: mem}, func(Row) error { n++; return nil })
	return n, err
}

// outcome says what reading a corpus file must give: "" (rows), or an error. Files not listed:
// everything under bad_data/ must fail, everything else must read.
var mustFail = map[string]string{
	// bad_data/ (ARROW-GH-43605 is not here: RLE dictionary indices of bit width 0 are all index
	// 0, which Arrow C++ decided to accept in the fix of that issue; arrow-go reads it too.)
	"ARROW-GH-41317.parquet":              "columns of different lengths",
	"ARROW-GH-41321.parquet":              "fewer decoded levels than num_values",
	"ARROW-GH-45185.parquet":              "repetition levels starting at 1",
	"ARROW-GH-47662.parquet":              "required column holding nulls",
	"ARROW-RS-GH-6229-DICTHEADER.parquet": "negative dictionary value count",
	"ARROW-RS-GH-6229-LEVELS.parquet":     "too few repetition levels",
	"PARQUET-1481.parquet":                "corrupted Thrift schema type",
	// data/: valid files glmflow cannot read, each with a clean error.
	"hadoop_lz4_compressed.parquet":             "arrow-go has no Hadoop LZ4 codec",
	"hadoop_lz4_compressed_larger.parquet":      "arrow-go has no Hadoop LZ4 codec",
	"non_hadoop_lz4_compressed.parquet":         "arrow-go has no (deprecated) LZ4 codec",
	"large_string_map.brotli.parquet":           "a 2 GB column chunk is over the size limit",
	"int96_from_spark.parquet":                  "INT96 timestamps outside Arrow's nanosecond range",
	"incorrect_map_schema.parquet":              "MAP with optional keys (invalid schema)",
	"unknown-logical-type.parquet":              "arrow-go panics on the unknown logical type (recovered)",
	"datapage_v2_empty_datapage.snappy.parquet": "arrow-go decompresses the empty v2 page (arrow-go bug)",
}

// knownLeaks lists the files where arrow-go v18.8.0 itself leaves allocator bytes outstanding
// (its delta-bit-packing decoder and the page reader on an unsupported codec do not release
// buffers); every other file must end with zero bytes outstanding.
var knownLeaks = map[string]bool{
	"datapage_v2.snappy.parquet":             true,
	"delta_binary_packed.parquet":            true,
	"delta_byte_array.parquet":               true,
	"delta_encoding_optional_column.parquet": true,
	"delta_encoding_required_column.parquet": true,
	"delta_length_byte_array.parquet":        true,
	"hadoop_lz4_compressed.parquet":          true,
	"hadoop_lz4_compressed_larger.parquet":   true,
	"non_hadoop_lz4_compressed.parquet":      true,
}

func TestCorpusNeverPanics(t *testing.T) {
	files := corpusFiles(t)
	var read, failed int
	for _, p := range files {
		base := filepath.Base(p)
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		n, err := scan(p, mem)
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error does not name the file: %v", base, err)
			}
		} else {
			read++
		}
		_, fail := mustFail[base]
		fail = fail || strings.Contains(p, "bad_data") && base != "ARROW-GH-43605.parquet" || strings.HasSuffix(base, ".encrypted")
		switch {
		case fail && err == nil:
			t.Errorf("%s: read %d rows without an error, want an error", base, n)
		case !fail && err != nil:
			t.Errorf("%s: %v", base, err)
		}
		if !knownLeaks[base] && mem.CurrentAlloc() != 0 {
			t.Errorf("%s: %d allocator bytes outstanding after close", base, mem.CurrentAlloc())
		}
	}
	t.Logf("%d files: %d read, %d rejected", len(files), read, failed)
}

// TestCorpusExpectations compares the files that ship an _expect.csv value by value.
func TestCorpusExpectations(t *testing.T) {
	corpusFiles(t)
	csvs, _ := filepath.Glob(filepath.Join(corpusDir, "data", "*_expect.csv"))
	if len(csvs) == 0 {
		t.Fatal("no _expect.csv files in the corpus")
	}
	for _, c := range csvs {
		pq := strings.TrimSuffix(c, "_expect.csv") + ".parquet"
		f, err := os.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want = want[1:] // header
		r, err := Open(pq, nil, Options{BatchRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		row := 0
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rec := b.Record()
			for i := 0; i < b.Len(); i++ {
				if row >= len(want) {
					t.Fatalf("%s: more rows than %s", pq, c)
				}
				if int(rec.NumCols()) != len(want[row]) {
					t.Fatalf("%s: %d columns, csv has %d", pq, rec.NumCols(), len(want[row]))
				}
				for k := 0; k < int(rec.NumCols()); k++ {
					got := ""
					if col := rec.Column(k); col.IsValid(i) {
						got = col.ValueStr(i)
					}
					if got != want[row][k] {
						t.Fatalf("%s: row %d column %s: %q, want %q", pq, row, rec.ColumnName(k), got, want[row][k])
					}
				}
				row++
			}
			b.Release()
		}
		r.Close()
		if row != len(want) {
			t.Errorf("%s: %d rows, want %d", pq, row, len(want))
		}
	}
}
