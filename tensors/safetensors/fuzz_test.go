package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// FuzzOpen: arbitrary bytes as a file. Open and reading every tensor must return errors, never
// panic; whatever opens must round-trip through the writer to the same tensors.
// Seeds: testdata/fuzz/FuzzOpen (crafted bad and good files, interop files).
func FuzzOpen(f *testing.F) {
	f.Add(craft(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sf, err := Open(p)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("non-format error %T: %v", err, err)
			}
			return
		}
		defer sf.Close()
		var sum byte
		for _, name := range sf.Names() {
			x, err := sf.Tensor(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, b := range x.Bytes() { // touch every byte of the view
				sum += b
			}
		}
		_ = sum
		// Round trip: write what was read, read it back.
		ts := map[string]*tensors.Tensor{}
		for _, name := range sf.Names() {
			ts[name], _ = sf.Tensor(name)
		}
		q := filepath.Join(dir, "rt.safetensors")
		if err := Write(q, ts, sf.Metadata()); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		rf, err := Open(q)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer rf.Close()
		for name, want := range ts {
			got, err := rf.Tensor(name)
			if err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("%s: round trip differs (%v)", name, err)
			}
		}
	})
}
