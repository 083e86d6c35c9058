package tensors

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func iota32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i + 1)
	}
	return v
}

func TestReshape(t *testing.T) {
	x := MustF32(iota32(24), 2, 3, 4)
	for _, tc := range []struct {
		in   []int
		want []int // nil: error
	}{
		{[]int{6, 4}, []int{6, 4}},
		{[]int{-1, 4}, []int{6, 4}},
		{[]int{2, -1}, []int{2, 12}},
		{[]int{24}, []int{24}},
		{[]int{-1}, []int{24}},
		{[]int{1, 24, 1}, []int{1, 24, 1}},
		{[]int{5, -1}, nil},      // 24 % 5 != 0
		{[]int{-1, -1}, nil},     // two inferred dims
		{[]int{0, -1}, nil},      // cannot infer next to 0
		{[]int{25}, nil},         // wrong count
		{[]int{-2, 12}, nil},     // negative
		{[]int{4, 3, 3}, nil},    // 36 elements
		{[]int{}, nil},           // scalar has 1 element, not 24
		{[]int{1 << 62, 8}, nil}, // overflow
	} {
		y, err := x.Reshape(tc.in...)
		if tc.want == nil {
			if err == nil || !errors.Is(err, ErrShape) {
				t.Errorf("Reshape%v: got %v, %v; want ErrShape", tc.in, y, err)
			}
			continue
		}
		if err != nil || !slices.Equal(y.Shape(), tc.want) {
			t.Errorf("Reshape%v = %v, %v; want %v", tc.in, y, err, tc.want)
			continue
		}
		if y.Storage() != x.Storage() || &y.F32()[0] != &x.F32()[0] {
			t.Errorf("Reshape%v is not a view", tc.in)
		}
	}
	// Zero-size tensors: an overflowing product that wraps to 0 must not pass.
	z := New(F32, 0, 4)
	if _, err := z.Reshape(1<<32, 1<<32); err == nil {
		t.Error("Reshape(2^32, 2^32) of an empty tensor: no error")
	}
	if y, err := z.Reshape(4, 0); err != nil || y.Numel() != 0 {
		t.Errorf("Reshape(4, 0) = %v, %v", y, err)
	}
	s := MustF32([]float32{7})
	if y, err := s.Reshape(1, 1, -1); err != nil || !slices.Equal(y.Shape(), []int{1, 1, 1}) {
		t.Errorf("scalar Reshape(1,1,-1) = %v, %v", y, err)
	}
}

func TestSlice(t *testing.T) {
	x := MustF32(iota32(24), 2, 3, 4) // x[i][j][k] = 12i + 4j + k + 1
	at := func(i, j, k int) float32 { return float32(12*i + 4*j + k + 1) }

	// dim 0: a view sharing storage.
	v, err := x.Slice(0, 1, 2)
	if err != nil || !slices.Equal(v.Shape(), []int{1, 3, 4}) {
		t.Fatalf("Slice(0,1,2) = %v, %v", v, err)
	}
	if v.Storage() != x.Storage() || v.Offset() != 12*4 {
		t.Fatalf("Slice(0,1,2) not a view at offset 48: offset %d", v.Offset())
	}
	v.F32()[0] = -1
	if x.F32()[12] != -1 {
		t.Fatal("write through the view did not reach the original")
	}
	x.F32()[12] = 13

	// Leading dims of size 1: still a view.
	w, err := v.Slice(1, 1, 3)
	if err != nil || w.Storage() != x.Storage() || w.Offset() != (12+4)*4 {
		t.Fatalf("Slice(1,1,3) of [1 3 4] = %v (offset %d), %v; want view at 64", w, w.Offset(), err)
	}
	if got := w.F32(); got[0] != at(1, 1, 0) || got[7] != at(1, 2, 3) {
		t.Fatalf("view values %v", got)
	}

	// Inner dims: a copy with the right values.
	for _, tc := range []struct{ dim, start, end int }{{1, 1, 3}, {2, 1, 3}, {2, 0, 4}, {1, 0, 0}, {2, 3, 4}} {
		c, err := x.Slice(tc.dim, tc.start, tc.end)
		if err != nil {
			t.Fatal(err)
		}
		if c.Storage() == x.Storage() {
			t.Fatalf("Slice%v shares storage; want a copy", tc)
		}
		shape := x.Shape()
		shape[tc.dim] = tc.end - tc.start
		if !slices.Equal(c.Shape(), shape) {
			t.Fatalf("Slice%v shape %v, want %v", tc, c.Shape(), shape)
		}
		got := c.F32()
		n := 0
		for i := range shape[0] {
			for j := range shape[1] {
				for k := range shape[2] {
					idx := [3]int{i, j, k}
					idx[tc.dim] += tc.start
					if got[n] != at(idx[0], idx[1], idx[2]) {
						t.Fatalf("Slice%v[%d,%d,%d] = %v, want %v", tc, i, j, k, got[n], at(idx[0], idx[1], idx[2]))
					}
					n++
				}
			}
		}
		if n != len(got) {
			t.Fatalf("Slice%v has %d values, want %d", tc, len(got), n)
		}
	}

	for _, tc := range []struct{ dim, start, end int }{{-1, 0, 1}, {3, 0, 1}, {0, -1, 1}, {0, 2, 1}, {0, 0, 3}, {2, 0, 5}} {
		if _, err := x.Slice(tc.dim, tc.start, tc.end); !errors.Is(err, ErrShape) {
			t.Errorf("Slice%v: err %v, want ErrShape", tc, err)
		}
	}

	// A device tensor that would need a copy is an error, not a host copy.
	d, err := FromStorage(F32, []int{2, 3}, DeviceStorage(CUDA(0), 0x1000, 24, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Slice(1, 0, 1); err == nil {
		t.Error("device Slice(1, ...) needing a copy: no error")
	}
	if dv, err := d.Slice(0, 1, 2); err != nil || dv.Offset() != 12 || dv.Bytes() != nil {
		t.Errorf("device Slice(0,1,2) = %v, %v", dv, err)
	}
}

func TestFromBytesAndStorage(t *testing.T) {
	b := make([]byte, 40)
	if x, err := FromBytes(F32, []int{2, 4}, b[:32]); err != nil || x.Numel() != 8 || x.NBytes() != 32 {
		t.Errorf("FromBytes exact = %v, %v", x, err)
	}
	for _, tc := range []struct {
		dt    DType
		shape []int
		n     int
	}{
		{F32, []int{2, 4}, 31}, {F32, []int{2, 4}, 33}, {F32, []int{-1, 4}, 32}, {Invalid, []int{4}, 4},
		{BF16, []int{math.MaxInt64 / 2, 3}, 0},
		{F32, []int{1 << 62}, 0}, // 2^64 bytes wraps to 0 in a naive product
	} {
		if _, err := FromBytes(tc.dt, tc.shape, b[:min(tc.n, len(b))]); err == nil {
			t.Errorf("FromBytes(%v, %v, %d bytes): no error", tc.dt, tc.shape, tc.n)
		}
	}
	if x, err := FromBytes(F32, []int{0, 5}, nil); err != nil || len(x.F32()) != 0 {
		t.Errorf("empty FromBytes = %v, %v", x, err)
	}

	st := HostStorage(make([]byte, 64), true, nil)
	if !st.ReadOnly() || st.Size() != 64 || st.Device() != CPU {
		t.Errorf("HostStorage fields wrong")
	}
	for _, tc := range []struct {
		off   int64
		shape []int
		ok    bool
	}{
		{0, []int{16}, true}, {32, []int{8}, true}, {60, []int{1}, true}, {64, []int{0}, true},
		{36, []int{8}, false}, {-4, []int{1}, false}, {65, []int{0}, false}, {64, []int{1}, false},
		{0, []int{1 << 62}, false}, // numel × 4 would overflow a naive bound
	} {
		x, err := FromStorage(F32, tc.shape, st, tc.off)
		if (err == nil) != tc.ok {
			t.Errorf("FromStorage(off %d, %v): err %v, want ok=%v", tc.off, tc.shape, err, tc.ok)
		}
		if err == nil && (x.Storage() != st || int64(len(x.Bytes())) != x.NBytes()) {
			t.Errorf("FromStorage(off %d, %v) = %v", tc.off, tc.shape, x)
		}
	}
}

func TestNumelOf(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		want  int64
		ok    bool
	}{
		{nil, 1, true}, {[]int{0}, 0, true}, {[]int{3, 0, 5}, 0, true}, {[]int{2, 3, 4}, 24, true},
		{[]int{math.MaxInt64}, math.MaxInt64, true}, {[]int{math.MaxInt64, 1}, math.MaxInt64, true},
		{[]int{math.MaxInt64, 2}, 0, false}, {[]int{1 << 32, 1 << 31}, 0, false},
		{[]int{1 << 31, 1 << 31, 2}, 0, false}, {[]int{-1}, 0, false}, {[]int{0, -1}, 0, false},
		{[]int{1 << 40, 0, 1 << 40}, 0, true},
	} {
		n, err := NumelOf(tc.shape)
		if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
			t.Errorf("NumelOf(%v) = %d, %v; want %d ok=%v", tc.shape, n, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrShape) {
			t.Errorf("NumelOf(%v): %v does not wrap ErrShape", tc.shape, err)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Device
		ok   bool
	}{
		{"cpu", CPU, true}, {"cuda", CUDA(0), true}, {"cuda:0", CUDA(0), true}, {"cuda:7", CUDA(7), true},
		{"cuda:-1", Device{}, false}, {"cuda:", Device{}, false}, {"cuda:x", Device{}, false},
		{"CPU", Device{}, false}, {"gpu", Device{}, false}, {"", Device{}, false}, {"cuda:1:2", Device{}, false},
	} {
		d, err := ParseDevice(tc.in)
		if (err == nil) != tc.ok || d != tc.want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v ok=%v", tc.in, d, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := ParseDevice(d.String()); err != nil || back != d {
				t.Errorf("ParseDevice(%q.String()) = %v, %v", tc.in, back, err)
			}
		}
	}
}

func TestDTypeNames(t *testing.T) {
	want := map[DType]struct {
		name string
		size int
	}{
		F32: {"F32", 4}, BF16: {"BF16", 2}, F16: {"F16", 2}, F64: {"F64", 8}, I32: {"I32", 4},
		I64: {"I64", 8}, I16: {"I16", 2}, I8: {"I8", 1}, U8: {"U8", 1}, U16: {"U16", 2},
		U32: {"U32", 4}, U64: {"U64", 8}, Bool: {"BOOL", 1}, F8E4M3: {"F8_E4M3", 1}, F8E5M2: {"F8_E5M2", 1},
	}
	for dt, w := range want {
		if dt.String() != w.name || dt.Size() != w.size {
			t.Errorf("%d: %s/%d, want %s/%d", dt, dt, dt.Size(), w.name, w.size)
		}
		if p, err := ParseDType(w.name); err != nil || p != dt {
			t.Errorf("ParseDType(%q) = %v, %v", w.name, p, err)
		}
	}
	for _, s := range []string{"", "f32", "INVALID", "F8_E8M0", "C64", "bf16"} {
		if _, err := ParseDType(s); err == nil {
			t.Errorf("ParseDType(%q): no error", s)
		}
	}
	if Invalid.Size() != 0 || DType(200).Size() != 0 || DType(200).String() != "DType(200)" {
		t.Error("out-of-range DType")
	}
	for _, dt := range []DType{F32, BF16, F16, F64, F8E4M3, F8E5M2} {
		if !dt.IsFloat() {
			t.Errorf("%v.IsFloat() = false", dt)
		}
	}
	for _, dt := range []DType{I32, I64, U8, Bool, Invalid} {
		if dt.IsFloat() {
			t.Errorf("%v.IsFloat() = true", dt)
		}
	}
}

func TestTypedViews(t *testing.T) {
	x := New(BF16, 3)
	defer func() {
		if recover() == nil {
			t.Error("F32() of a BF16 tensor did not panic")
		}
	}()
	if len(x.BF16()) != 3 || x.String() != "BF16[3] cpu" {
		t.Errorf("BF16 view %v", x)
	}
	c := x.Clone()
	c.BF16()[0] = 1
	if x.BF16()[0] != 0 {
		t.Error("Clone shares storage")
	}
	_ = x.F32()
}

func TestHasShape(t *testing.T) {
	x := New(F32, 2, 3)
	if !x.HasShape(2, 3) || x.HasShape(3, 2) || x.HasShape(2, 3, 1) || x.HasShape() {
		t.Errorf("HasShape wrong for %v", x)
	}
	if s := New(F32); !s.HasShape() {
		t.Errorf("a scalar has shape []")
	}
}
