package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedFilesAreGenerated regenerates every mini dataset and compares it byte for byte
// with the committed files (and checks no committed Parquet file is left that gen does not write).
func TestCommittedFilesAreGenerated(t *testing.T) {
	tmp := t.TempDir()
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	var total int64
	err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		b, err := os.ReadFile(p)
		got[rel] = b
		total += int64(len(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Errorf("generated %d files, want 7", len(got))
	}
	if total > 2<<20 {
		t.Errorf("mini datasets total %d bytes, budget 2 MiB", total)
	}
	for rel, b := range got {
		committed, err := os.ReadFile(filepath.Join("..", rel))
		if err != nil {
			t.Errorf("%s: not committed: %v (run `go run ./testdata/datasets/gen`)", rel, err)
			continue
		}
		if !bytes.Equal(committed, b) {
			t.Errorf("%s: committed file differs from what gen writes (run `go run ./testdata/datasets/gen`)", rel)
		}
	}
	for _, sub := range []string{"cord-v2", "medpix-vqa", "the_cauldron"} {
		filepath.WalkDir(filepath.Join("..", sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Ext(p) == ".parquet" {
				rel, _ := filepath.Rel("..", p)
				if _, ok := got[rel]; !ok {
					t.Errorf("%s: committed but not written by gen", rel)
				}
			}
			return nil
		})
	}
}

func TestRupiah(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 25000: "25,000", 1234567: "1,234,567"} {
		if got := rupiah(n); got != want {
			t.Errorf("rupiah(%d) = %q, want %q", n, got, want)
		}
	}
}
