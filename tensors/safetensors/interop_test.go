package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// GLMFLOW_UPDATE_TESTDATA=1 rewrites testdata/go_written.safetensors and the fuzz seed corpus;
// then run testdata/gen_interop.py to re-check the Go file from Python.
var updateTestdata = os.Getenv("GLMFLOW_UPDATE_TESTDATA") == "1"

// Files written by testdata/gen_interop.py (numpy + struct + json): a second implementation
// with other layout choices (no padding, misaligned data, spaced JSON, reverse key order,
// __metadata__ last). Values follow the formulas there.
func TestInteropPythonWritten(t *testing.T) {
	f, err := Open("testdata/interop_numpy.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{"bf16", "bool", "empty", "f16", "f16_edge", "f32", "f32_special", "i64", "scalar", "u8"}
	if !slices.Equal(f.Names(), want) {
		t.Fatalf("names %v", f.Names())
	}
	if m := f.Metadata(); len(m) != 2 || m["source"] != "numpy" || m["format"] != "np" {
		t.Fatalf("metadata %v", m)
	}
	get := func(name string, dt tensors.DType, shape ...int) *tensors.Tensor {
		t.Helper()
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if x.DType() != dt || !slices.Equal(x.Shape(), shape) {
			t.Fatalf("%s: %v, want %v%v", name, x, dt, shape)
		}
		return x
	}
	for i, v := range get("f32", tensors.F32, 3, 5).F32() {
		if want := float32(i-7) / 7; v != want {
			t.Errorf("f32[%d] = %v, want %v", i, v, want)
		}
	}
	special := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 1, 0x7f7fffff, 0xc0200000}
	for i, v := range get("f32_special", tensors.F32, 8).F32() {
		if math.Float32bits(v) != special[i] {
			t.Errorf("f32_special[%d] = %#x, want %#x", i, math.Float32bits(v), special[i])
		}
	}
	// numpy's (and the script's own) rounding must agree with ours bit for bit.
	for i, h := range get("bf16", tensors.BF16, 4, 4).BF16() {
		if want := tensors.BF16FromF32(float32(i) / 3); h != want {
			t.Errorf("bf16[%d] = %#04x, want %#04x", i, h, want)
		}
	}
	for i, h := range get("f16", tensors.F16, 2, 8).F16() {
		if want := tensors.F16FromF32(float32(i-8) / 3); h != want {
			t.Errorf("f16[%d] = %#04x, want %#04x", i, h, want)
		}
	}
	edge := []float32{65504, 65519, 65520, 6e-8, 2.98e-8, float32(math.Copysign(0, -1))}
	wantEdge := []uint16{0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x8000}
	for i, h := range get("f16_edge", tensors.F16, 6).F16() {
		if h != tensors.F16FromF32(edge[i]) || h != wantEdge[i] {
			t.Errorf("f16_edge[%d] = %#04x, want %#04x (ours %#04x)", i, h, wantEdge[i], tensors.F16FromF32(edge[i]))
		}
	}
	if got := get("i64", tensors.I64, 2, 3).I64(); !slices.Equal(got, []int64{-1 << 62, -1, 0, 1, 1<<40 + 3, math.MaxInt64}) {
		t.Errorf("i64 = %v", got)
	}
	for i, v := range get("u8", tensors.U8, 256).U8() {
		if int(v) != i {
			t.Fatalf("u8[%d] = %d", i, v)
		}
	}
	if got := get("bool", tensors.Bool, 5).BoolBytes(); !slices.Equal(got, []uint8{1, 0, 0, 1, 1}) {
		t.Errorf("bool = %v", got)
	}
	if got := get("scalar", tensors.F32).F32(); got[0] != 42.5 {
		t.Errorf("scalar = %v", got)
	}
	if got := get("empty", tensors.F32, 0, 3); got.NBytes() != 0 {
		t.Errorf("empty = %v", got)
	}
}

// goldenState is the state in testdata/go_written.safetensors; gen_interop.py (go_expected)
// checks the same values from Python.
func goldenState() map[string]*tensors.Tensor {
	ts := map[string]*tensors.Tensor{}
	mk := func(name string, dt tensors.DType, shape []int, le []byte) {
		x, err := tensors.FromBytes(dt, shape, le)
		if err != nil {
			panic(err)
		}
		ts[name] = x.Clone()
	}
	var b []byte
	for i := range 6 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i-3)/4))
	}
	mk("a.f32", tensors.F32, []int{2, 3}, b)
	b = nil
	for i := range 4 {
		b = binary.LittleEndian.AppendUint16(b, tensors.BF16FromF32(float32(i-2)/3))
	}
	mk("b.bf16", tensors.BF16, []int{4}, b)
	b = nil
	for i := range 3 {
		b = binary.LittleEndian.AppendUint16(b, tensors.F16FromF32(float32(i+1)/3))
	}
	mk("c.f16", tensors.F16, []int{3}, b)
	b = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(1<<64-5)), 1<<50)
	mk("d.i64", tensors.I64, []int{2}, b)
	mk("e.u8", tensors.U8, []int{3}, []byte{0, 128, 255})
	mk("f.bool", tensors.Bool, []int{2}, []byte{1, 0})
	b = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1/3.0)), math.Float64bits(-2))
	mk("g.f64", tensors.F64, []int{2}, b)
	mk("h.i32", tensors.I32, []int{2}, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1<<32-7), 7))
	mk("i.i16", tensors.I16, []int{2}, binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, 1<<16-300), 300))
	mk("j.i8", tensors.I8, []int{2}, []byte{0x80, 0x7f})
	mk("k.u16", tensors.U16, []int{2}, []byte{0, 0, 0xff, 0xff})
	mk("l.u32", tensors.U32, []int{1}, binary.LittleEndian.AppendUint32(nil, 4000000000))
	mk("m.u64", tensors.U64, []int{1}, binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	mk("n.f8e4m3", tensors.F8E4M3, []int{2}, []byte{0x38, 0x7e})
	mk("o.f8e5m2", tensors.F8E5M2, []int{2}, []byte{0x3c, 0x7b})
	mk("p.scalar", tensors.F32, nil, binary.LittleEndian.AppendUint32(nil, math.Float32bits(3.5)))
	mk("q.empty", tensors.F16, []int{0}, nil)
	return ts
}

var goldenMeta = map[string]string{"format": "pt", "producer": "glmflow"}

// Go must keep writing exactly the bytes that gen_interop.py verified.
func TestGoWrittenGolden(t *testing.T) {
	golden := "testdata/go_written.safetensors"
	p := filepath.Join(t.TempDir(), "g.safetensors")
	if err := Write(p, goldenState(), goldenMeta); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if updateTestdata {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("writer output changed:\n got %q\nwant %q", got, want)
	}
	f, err := Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSame(t, f, goldenState())
	if x, _ := f.Tensor("n.f8e4m3"); tensors.F8E4M3ToF32(x.Bytes()[0]) != 1 || tensors.F8E4M3ToF32(x.Bytes()[1]) != 448 {
		t.Error("f8 e4m3 values")
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzOpen from the crafted cases.
func TestWriteFuzzSeeds(t *testing.T) {
	if !updateTestdata {
		t.Skip("set GLMFLOW_UPDATE_TESTDATA=1 to regenerate the seed corpus")
	}
	dir := "testdata/fuzz/FuzzOpen"
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{}
	for _, c := range badCases() {
		seeds["bad_"+c.name] = c.file
	}
	for name, b := range validCases() {
		seeds["ok_"+name] = b
	}
	for _, name := range []string{"go_written.safetensors", "interop_numpy.safetensors"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		seeds["file_"+name] = b
	}
	for name, b := range seeds {
		safe := []byte(name)
		for i, c := range safe {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
				safe[i] = '_'
			}
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, string(safe)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
