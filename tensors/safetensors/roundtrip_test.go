package safetensors

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/glmflow/glmflow/tensors"
)

var allDTypes = []tensors.DType{tensors.F32, tensors.BF16, tensors.F16, tensors.F64, tensors.I32,
	tensors.I64, tensors.I16, tensors.I8, tensors.U8, tensors.U16, tensors.U32, tensors.U64,
	tensors.Bool, tensors.F8E4M3, tensors.F8E5M2}

// randomState makes one tensor per dtype (plus a rank-0 and an empty one) filled with random
// bytes, so every bit pattern class is stored.
func randomState(seed uint64) map[string]*tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	ts := map[string]*tensors.Tensor{}
	for i, dt := range allDTypes {
		x := tensors.New(dt, 1+rng.IntN(5), 1+rng.IntN(7))
		for j := range x.Bytes() {
			x.Bytes()[j] = byte(rng.Uint32())
		}
		ts["layer."+string(rune('a'+i))+"."+dt.String()] = x
	}
	ts["scalar"] = tensors.MustF32([]float32{3.25})
	ts["empty"] = tensors.New(tensors.BF16, 0, 4)
	return ts
}

func checkSame(t *testing.T, r Reader, want map[string]*tensors.Tensor) {
	t.Helper()
	names := r.Names()
	if len(names) != len(want) || !slices.IsSorted(names) {
		t.Fatalf("names %v, want %d sorted", names, len(want))
	}
	for name, w := range want {
		got, err := r.Tensor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.DType() != w.DType() || !tensors.SameShape(got, w) || !bytes.Equal(got.Bytes(), w.Bytes()) {
			t.Fatalf("%s: got %v, want %v (or bytes differ)", name, got, w)
		}
		if b := got.Bytes(); len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(got.DType().Size()) != 0 {
			t.Fatalf("%s: data misaligned for %v", name, got.DType())
		}
	}
}

func TestRoundTripAllDTypes(t *testing.T) {
	ts := randomState(1)
	p := filepath.Join(t.TempDir(), "rt.safetensors")
	meta := map[string]string{"format": "pt", "quote\"and\\slash": "line\nbreak\x01", "ünï": "çødé"}
	if err := Write(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Mapped() || f.DataStart()%8 != 0 {
		t.Fatalf("mapped=%v dataStart=%d", f.Mapped(), f.DataStart())
	}
	checkSame(t, f, ts)
	got := f.Metadata()
	if len(got) != len(meta) {
		t.Fatalf("metadata %v", got)
	}
	for k, v := range meta {
		if got[k] != v {
			t.Errorf("metadata[%q] = %q, want %q", k, got[k], v)
		}
	}
	// Zero copy: aligned tensors are views over one read-only storage.
	a, _ := f.Tensor("layer.a.F32")
	b, _ := f.Tensor("layer.b.BF16")
	if a.Storage() != b.Storage() || !a.Storage().ReadOnly() || a.Offset() < f.DataStart() {
		t.Error("tensors are not views over the shared read-only mapping")
	}
	// Info agrees with the data.
	in, err := f.Info("layer.a.F32")
	if err != nil || in.DType != tensors.F32 || a.Offset() != f.DataStart()+in.Begin || in.NBytes() != a.NBytes() {
		t.Errorf("Info %+v, %v", in, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("scalar"); err == nil {
		t.Error("Tensor after Close: no error")
	}
	if err := f.Close(); err != nil {
		t.Error("second Close:", err)
	}
}

func TestReadAtFallback(t *testing.T) {
	ts := randomState(2)
	p := filepath.Join(t.TempDir(), "fb.safetensors")
	if err := Write(p, ts, nil); err != nil {
		t.Fatal(err)
	}
	forceReadAt = true
	defer func() { forceReadAt = false }()
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Mapped() {
		t.Fatal("forceReadAt: file still mapped")
	}
	checkSame(t, f, ts)
}

func TestWriteDeterministic(t *testing.T) {
	dir := t.TempDir()
	var sums [][32]byte
	for i := range 3 {
		// Rebuild the map each time: Go map order differs between iterations.
		p := filepath.Join(dir, "d"+string(rune('0'+i))+".safetensors")
		if err := Write(p, randomState(3), map[string]string{"b": "2", "a": "1", "c": "3"}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		sums = append(sums, sha256.Sum256(b))
	}
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Fatalf("SHA-256 differ: %x %x %x", sums[0], sums[1], sums[2])
	}
	// File order (order of entries in the header): dtype alignment descending, then name.
	f, _ := Open(filepath.Join(dir, "d0.safetensors"))
	defer f.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, "d0.safetensors"))
	hdr := string(raw[8:f.DataStart()])
	names := f.Names()
	slices.SortFunc(names, func(a, b string) int {
		return strings.Index(hdr, strconv.Quote(a)+":") - strings.Index(hdr, strconv.Quote(b)+":")
	})
	for i := 1; i < len(names); i++ {
		x, _ := f.Info(names[i-1])
		y, _ := f.Info(names[i])
		if rx, ry := dtypeRank[x.DType], dtypeRank[y.DType]; rx < ry || rx == ry && x.Name > y.Name || x.End > y.Begin {
			t.Fatalf("file order: %s (%v) before %s (%v)", x.Name, x.DType, y.Name, y.DType)
		}
	}
	// Leftover temp files would show up here.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("dir holds %d entries, want 3", len(ents))
	}
}

func TestWriteStreaming(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.safetensors")
	calls := 0
	gen := func(n int, v byte) func(io.Writer) error {
		return func(w io.Writer) error {
			calls++
			for range n { // byte by byte: nothing is held in memory
				if _, err := w.Write([]byte{v}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	es := []Entry{
		{Name: "z", DType: tensors.U8, Shape: []int{3, 1000}, Data: gen(3000, 7)},
		{Name: "a", DType: tensors.F32, Shape: []int{250}, Data: gen(1000, 0)},
	}
	if err := WriteEntries(p, es, nil); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("Data called %d times", calls)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, _ := f.Tensor("z")
	if z.NBytes() != 3000 || z.Bytes()[2999] != 7 {
		t.Fatal("streamed bytes wrong")
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.safetensors")
	ok := func(w io.Writer) error { _, err := w.Write(make([]byte, 4)); return err }
	for name, es := range map[string][]Entry{
		"duplicate": {{Name: "a", DType: tensors.F32, Shape: []int{1}, Data: ok}, {Name: "a", DType: tensors.F32, Shape: []int{1}, Data: ok}},
		"metakey":   {{Name: "__metadata__", DType: tensors.F32, Shape: []int{1}, Data: ok}},
		"badutf8":   {{Name: "\xff", DType: tensors.F32, Shape: []int{1}, Data: ok}},
		"dtype":     {{Name: "a", DType: tensors.Invalid, Shape: []int{1}, Data: ok}},
		"shape":     {{Name: "a", DType: tensors.F32, Shape: []int{-1}, Data: ok}},
		"overflow":  {{Name: "a", DType: tensors.F64, Shape: []int{1 << 61}, Data: ok}},
		"nodata":    {{Name: "a", DType: tensors.F32, Shape: []int{1}}},
		"short":     {{Name: "a", DType: tensors.F32, Shape: []int{2}, Data: ok}},
		"long":      {{Name: "a", DType: tensors.U8, Shape: []int{2}, Data: ok}},
	} {
		if err := WriteEntries(p, es, nil); !errors.Is(err, BadInput) {
			t.Errorf("%s: err %v, want BadInput", name, err)
		}
	}
	failing := errors.New("disk on fire")
	err := WriteEntries(p, []Entry{{Name: "a", DType: tensors.U8, Shape: []int{1}, Data: func(io.Writer) error { return failing }}}, nil)
	if !errors.Is(err, failing) {
		t.Errorf("Data error not propagated: %v", err)
	}
	if err := Write(p, map[string]*tensors.Tensor{"a": tensors.New(tensors.U8, 1)}, map[string]string{"k": "\xff"}); !errors.Is(err, BadInput) {
		t.Errorf("bad metadata: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed writes left %d files behind", len(ents))
	}
	// A failed rewrite leaves the previous file intact.
	if err := Write(p, map[string]*tensors.Tensor{"a": tensors.New(tensors.U8, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	WriteEntries(p, []Entry{{Name: "b", DType: tensors.U8, Shape: []int{1}, Data: func(io.Writer) error { return failing }}}, nil)
	after, _ := os.ReadFile(p)
	if !bytes.Equal(before, after) {
		t.Error("failed write replaced the existing file")
	}
}
