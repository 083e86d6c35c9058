package tensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Conversion tests: every 16-bit pattern widened and compared with a float64 value computed
// from the bit fields; narrowing checked against a float64 round-to-nearest-even reference on
// random f32 bit patterns, every tie and near-tie, and the edge cases; every SIMD path forced
// in turn and compared bit for bit with the scalar reference.

// allPaths returns the conversion paths this CPU can run, restoring the default when the test
// ends.
func allPaths(t testing.TB) []string {
	def := convPath
	t.Cleanup(func() { setConvPath(def) })
	var ps []string
	for _, p := range []string{"avx512", "avx2", "go"} {
		if convPathSupported(p) {
			ps = append(ps, p)
		} else {
			t.Logf("path %s: not supported by this CPU/build, skipped", p)
		}
	}
	return ps
}

// fieldValue decodes a binary float with ebits exponent and mbits mantissa bits (IEEE
// layout: bias 2^(ebits-1)-1, subnormals, all-ones exponent is Inf/NaN) into float64.
func fieldValue(bits uint32, ebits, mbits uint) float64 {
	sign := 1.0
	if bits>>(ebits+mbits)&1 == 1 {
		sign = -1
	}
	e := int(bits>>mbits) & (1<<ebits - 1)
	m := float64(bits & (1<<mbits - 1))
	bias := 1<<(ebits-1) - 1
	switch {
	case e == 1<<ebits-1 && m == 0:
		return math.Inf(int(sign))
	case e == 1<<ebits-1:
		return math.NaN()
	case e == 0:
		return sign * math.Ldexp(m, 1-bias-int(mbits))
	}
	return sign * math.Ldexp(1+m/float64(uint(1)<<mbits), e-bias)
}

func TestWidenExhaustive(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, tc := range []struct {
		name         string
		ebits, mbits uint
		scalar       func(uint16) float32
		slice        func([]float32, []uint16)
		nanBits      func(h uint16) uint32 // expected f32 bits of a NaN
	}{
		{"bf16", 8, 7, BF16ToF32Scalar, BF16ToF32, func(h uint16) uint32 { return uint32(h) << 16 }},
		{"f16", 5, 10, F16ToF32Scalar, F16ToF32, func(h uint16) uint32 {
			return uint32(h>>15)<<31 | 0x7fc00000 | uint32(h&0x3ff)<<13
		}},
	} {
		for _, p := range allPaths(t) {
			setConvPath(p)
			dst := make([]float32, len(src))
			tc.slice(dst, src)
			for i, h := range src {
				want := fieldValue(uint32(h), tc.ebits, tc.mbits)
				for _, got := range []float32{tc.scalar(h), dst[i]} {
					gb := math.Float32bits(got)
					if math.IsNaN(want) {
						if gb != tc.nanBits(h) {
							t.Fatalf("%s/%s: %#04x → %#08x, want NaN %#08x", tc.name, p, h, gb, tc.nanBits(h))
						}
						continue
					}
					if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
						t.Fatalf("%s/%s: %#04x → %v, want %v", tc.name, p, h, got, want)
					}
				}
			}
		}
	}
}

// roundRef rounds x (finite) to a binary format with p significant bits, minimum normal
// exponent emin and largest finite value maxF, ties to even, overflow to ±Inf. Done in float64,
// which holds every f32 and every intermediate here exactly.
func roundRef(x float64, p, emin int, maxF float64) float64 {
	if x == 0 {
		return x
	}
	a := math.Abs(x)
	_, e := math.Frexp(a) // a = f × 2^e, f in [0.5, 1): leading bit at e-1
	lead := max(e-1, emin)
	ulp := math.Ldexp(1, lead-p+1)
	r := math.RoundToEven(a/ulp) * ulp
	if r > maxF {
		r = math.Inf(1)
	}
	return math.Copysign(r, x)
}

type narrowCase struct {
	name    string
	p, emin int
	maxF    float64
	scalar  func(float32) uint16
	slice   func([]uint16, []float32)
	widen   func(uint16) float32
	nanBits func(b uint32) uint16
}

var narrowCases = []narrowCase{
	{"bf16", 8, -126, 0x1.fep127, BF16FromF32, F32ToBF16, BF16ToF32Scalar,
		func(b uint32) uint16 { return uint16(b>>16) | 0x40 }},
	{"f16", 11, -14, 65504, F16FromF32, F32ToF16, F16ToF32Scalar,
		func(b uint32) uint16 { return uint16(b>>16)&0x8000 | 0x7e00 | uint16(b>>13)&0x3ff }},
}

// checkNarrow checks every element of src through the scalar form against the reference and
// through each SIMD path against the scalar form, bit for bit.
func checkNarrow(t *testing.T, tc narrowCase, src []float32) {
	t.Helper()
	want := make([]uint16, len(src))
	for i, f := range src {
		got := tc.scalar(f)
		want[i] = got
		b := math.Float32bits(f)
		if f != f {
			if got != tc.nanBits(b) {
				t.Fatalf("%s: NaN %#08x → %#04x, want %#04x", tc.name, b, got, tc.nanBits(b))
			}
			continue
		}
		ref := roundRef(float64(f), tc.p, tc.emin, tc.maxF)
		g := float64(tc.widen(got))
		if g != ref || math.Signbit(g) != math.Signbit(ref) {
			t.Fatalf("%s: %v (%#08x) → %#04x = %v, want %v", tc.name, f, b, got, g, ref)
		}
	}
	for _, p := range allPaths(t) {
		setConvPath(p)
		got := make([]uint16, len(src))
		tc.slice(got, src)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s/%s: %#08x → %#04x, scalar gives %#04x", tc.name, p, math.Float32bits(src[i]), got[i], want[i])
			}
		}
	}
}

func TestNarrowRandom(t *testing.T) {
	n := 1 << 22
	if testing.Short() {
		n = 1 << 19
	}
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, n)
	for i := range src {
		src[i] = math.Float32frombits(rng.Uint32())
	}
	// Half the patterns again with exponents in the target's range, where rounding matters.
	for i := 0; i < n/2; i++ {
		b := rng.Uint32()&0x807fffff | (uint32(rng.IntN(60))+90)<<23
		src[i] = math.Float32frombits(b)
	}
	for _, tc := range narrowCases {
		checkNarrow(t, tc, src)
	}
}

// TestNarrowTies checks, for every pair of adjacent target values, the exact midpoint and
// its f32 neighbours, plus the values themselves and the f32 edge cases.
func TestNarrowTies(t *testing.T) {
	edges := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0x1p-126, 0x1.fffffcp-127,
		65504, 65519, 65519.996, 65520, 65536, 0x1p-24, 0x1p-25, 0x1.000002p-25, 0x1.8p-25, 0x1p-26, 0x1p-14,
		0x1.ff8p-15, 0x1.ffcp-15, 0x1.fep127, 0x1.ffp127, 0x1.fefffep127, 0x1p-133, 0x1p-134, 0x1.000002p-134}
	for _, b := range []uint32{0x7f800001, 0xff800001, 0x7fc00000, 0x7fffffff, 0xffffffff, 0x7fa00000,
		0x7f802000, 0x7f801fff, 0x7fbfffff} {
		edges = append(edges, math.Float32frombits(b))
	}
	for _, tc := range narrowCases {
		src := append([]float32(nil), edges...)
		for _, e := range edges {
			src = append(src, -e)
		}
		for h := 0; h < 0xffff; h++ {
			a, b := float64(tc.widen(uint16(h))), float64(tc.widen(uint16(h+1)))
			if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) || h == 0x7fff {
				continue
			}
			m := float32((a + b) / 2) // exact: the midpoint needs one more bit than the target has
			src = append(src, float32(a), m, math.Nextafter32(m, float32(math.Inf(1))), math.Nextafter32(m, float32(math.Inf(-1))))
		}
		// Midpoint between the largest finite value and the next (unrepresentable) one: ties
		// round to Inf.
		maxF := tc.maxF
		top := maxF + math.Ldexp(1, int(math.Floor(math.Log2(maxF)))-tc.p) // maxF + ulp/2
		src = append(src, float32(top), -float32(top), math.Nextafter32(float32(top), 0))
		checkNarrow(t, tc, src)
	}
}

// Odd lengths exercise the scalar tails of the SIMD paths.
func TestConvertLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range allPaths(t) {
		setConvPath(p)
		for n := 0; n < 70; n++ {
			f := make([]float32, n)
			for i := range f {
				f[i] = float32(rng.NormFloat64())
			}
			b, h := make([]uint16, n+1), make([]uint16, n+1)
			b[n], h[n] = 0xdead, 0xdead // must stay untouched
			F32ToBF16(b, f)
			F32ToF16(h, f)
			wb, wh := make([]float32, n+1), make([]float32, n+1)
			wb[n], wh[n] = -7, -7
			BF16ToF32(wb, b[:n])
			F16ToF32(wh, h[:n])
			for i := range n {
				if b[i] != BF16FromF32(f[i]) || h[i] != F16FromF32(f[i]) ||
					wb[i] != BF16ToF32Scalar(b[i]) || wh[i] != F16ToF32Scalar(h[i]) {
					t.Fatalf("%s n=%d i=%d: mismatch with scalar", p, n, i)
				}
			}
			if b[n] != 0xdead || h[n] != 0xdead || wb[n] != -7 || wh[n] != -7 {
				t.Fatalf("%s n=%d: wrote past len(src)", p, n)
			}
		}
	}
}

// f8e4m3Table is the positive half of float8 e4m3fn as listed in the OCP 8-bit floating point
// specification (bias 7, subnormals 2^-6 × m/8, max 448, S.1111.111 NaN, no infinities).
var f8e4m3Table = [128]float64{
	0.0, 0.001953125, 0.00390625, 0.005859375, 0.0078125, 0.009765625, 0.01171875, 0.013671875,
	0.015625, 0.017578125, 0.01953125, 0.021484375, 0.0234375, 0.025390625, 0.02734375, 0.029296875,
	0.03125, 0.03515625, 0.0390625, 0.04296875, 0.046875, 0.05078125, 0.0546875, 0.05859375,
	0.0625, 0.0703125, 0.078125, 0.0859375, 0.09375, 0.1015625, 0.109375, 0.1171875,
	0.125, 0.140625, 0.15625, 0.171875, 0.1875, 0.203125, 0.21875, 0.234375,
	0.25, 0.28125, 0.3125, 0.34375, 0.375, 0.40625, 0.4375, 0.46875,
	0.5, 0.5625, 0.625, 0.6875, 0.75, 0.8125, 0.875, 0.9375,
	1.0, 1.125, 1.25, 1.375, 1.5, 1.625, 1.75, 1.875,
	2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75,
	4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5,
	8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
	16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0,
	32.0, 36.0, 40.0, 44.0, 48.0, 52.0, 56.0, 60.0,
	64.0, 72.0, 80.0, 88.0, 96.0, 104.0, 112.0, 120.0,
	128.0, 144.0, 160.0, 176.0, 192.0, 208.0, 224.0, 240.0,
	256.0, 288.0, 320.0, 352.0, 384.0, 416.0, 448.0, math.NaN(),
}

func TestF8E4M3All(t *testing.T) {
	for v := 0; v < 256; v++ {
		got := float64(F8E4M3ToF32(uint8(v)))
		want := f8e4m3Table[v&0x7f]
		if v&0x80 != 0 {
			want = -want
		}
		if v&0x7f == 0x7f {
			if !math.IsNaN(got) {
				t.Errorf("%#02x → %v, want NaN", v, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != (v&0x80 != 0) {
			t.Errorf("%#02x → %v, want %v", v, got, want)
		}
	}
}

func TestF8E5M2All(t *testing.T) {
	for v := 0; v < 256; v++ {
		got := float64(F8E5M2ToF32(uint8(v)))
		want := fieldValue(uint32(v), 5, 2)
		if math.IsNaN(want) != math.IsNaN(got) || !math.IsNaN(want) && (got != want || math.Signbit(got) != math.Signbit(want)) {
			t.Errorf("%#02x → %v, want %v", v, got, want)
		}
	}
}

func TestToF32AndBack(t *testing.T) {
	x := MustF32([]float32{1, -2.5, 3.140625, 65504, 1e-7, 0}, 2, 3)
	for _, dt := range []DType{F32, BF16, F16} {
		y, err := x.FromF32To(dt)
		if err != nil {
			t.Fatal(err)
		}
		z, err := y.ToF32()
		if err != nil {
			t.Fatal(err)
		}
		if !SameShape(x, z) || z.DType() != F32 {
			t.Fatalf("%v: got %v", dt, z)
		}
		for i, v := range x.F32() {
			var want float32
			switch dt {
			case F32:
				want = v
			case BF16:
				want = BF16ToF32Scalar(BF16FromF32(v))
			case F16:
				want = F16ToF32Scalar(F16FromF32(v))
			}
			if z.F32()[i] != want {
				t.Errorf("%v[%d] = %v, want %v", dt, i, z.F32()[i], want)
			}
		}
	}
	if _, err := x.FromF32To(I32); err == nil {
		t.Error("FromF32To(I32): no error")
	}
	i64 := New(I64, 3)
	copy(i64.I64(), []int64{-1, 0, 1 << 40})
	z, err := i64.ToF32()
	if err != nil || z.F32()[0] != -1 || z.F32()[2] != 1<<40 {
		t.Errorf("I64 ToF32 = %v, %v", z.F32(), err)
	}
}

func benchConv(b *testing.B, p string, bytesPerElem int, run func(n int)) {
	def := convPath
	defer setConvPath(def)
	if !setConvPath(p) {
		b.Skipf("path %s not supported by this CPU/build", p)
	}
	const n = 1 << 16 // 384 KiB touched: cache-resident, measures the conversion itself
	b.SetBytes(int64(n * bytesPerElem))
	for b.Loop() {
		run(n)
	}
	b.ReportMetric(float64(n*bytesPerElem)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkConvert(b *testing.B) {
	const n = 1 << 16
	f := make([]float32, n)
	h := make([]uint16, n)
	for i := range f {
		f[i] = float32(i%1000) * 0.37
		h[i] = BF16FromF32(f[i])
	}
	for _, p := range []string{"go", "avx2", "avx512"} {
		b.Run("BF16ToF32/"+p, func(b *testing.B) { benchConv(b, p, 6, func(n int) { BF16ToF32(f[:n], h[:n]) }) })
		b.Run("F32ToBF16/"+p, func(b *testing.B) { benchConv(b, p, 6, func(n int) { F32ToBF16(h[:n], f[:n]) }) })
		b.Run("F16ToF32/"+p, func(b *testing.B) { benchConv(b, p, 6, func(n int) { F16ToF32(f[:n], h[:n]) }) })
		b.Run("F32ToF16/"+p, func(b *testing.B) { benchConv(b, p, 6, func(n int) { F32ToF16(h[:n], f[:n]) }) })
	}
}
