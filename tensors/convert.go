package tensors

import (
	"fmt"
	"math"
)

// Element conversions between f32 and the 16- and 8-bit float formats. f32 → bf16/f16 rounds
// to nearest, ties to even; NaN stays NaN (quiet). The slice forms are the hot paths
// (dispatched to SIMD where the CPU has it, see convert_amd64.go); the scalar forms are the
// reference.

// BF16ToF32 converts len(src) bf16 values; dst must be at least as long.
func BF16ToF32(dst []float32, src []uint16) { bf16ToF32(dst[:len(src)], src) }

// F32ToBF16 converts len(src) values, rounding to nearest even.
func F32ToBF16(dst []uint16, src []float32) { f32ToBF16(dst[:len(src)], src) }

// F16ToF32 converts len(src) IEEE half values.
func F16ToF32(dst []float32, src []uint16) { f16ToF32(dst[:len(src)], src) }

// F32ToF16 converts len(src) values to IEEE half, rounding to nearest even (overflow → ±Inf).
func F32ToF16(dst []uint16, src []float32) { f32ToF16(dst[:len(src)], src) }

// The slice conversions in use: pure Go here, replaced at init by a SIMD path where the CPU
// has one (convert_amd64.go). convPath names the installed path.
var (
	bf16ToF32 = bf16ToF32Go
	f32ToBF16 = f32ToBF16Go
	f16ToF32  = f16ToF32Go
	f32ToF16  = f32ToF16Go
	convPath  = pathGo
)

func setConvGo() {
	bf16ToF32, f32ToBF16, f16ToF32, f32ToF16 = bf16ToF32Go, f32ToBF16Go, f16ToF32Go, f32ToF16Go
}

func bf16ToF32Go(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

func f32ToBF16Go(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = BF16FromF32(f)
	}
}

func f16ToF32Go(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = F16ToF32Scalar(h)
	}
}

func f32ToF16Go(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = F16FromF32(f)
	}
}

// BF16FromF32 rounds one f32 to bf16 (nearest even; NaN → quiet NaN with the sign kept).
func BF16FromF32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToF32Scalar widens one bf16 value (exact).
func BF16ToF32Scalar(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16ToF32Scalar widens one IEEE half value (exact, subnormals included). A NaN keeps its sign
// and payload and comes out quiet, as the F16C instruction VCVTPH2PS does.
func F16ToF32Scalar(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f && man == 0:
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = man × 2^-24.
	v := float32(man) * (1.0 / (1 << 24))
	return math.Float32frombits(sign | math.Float32bits(v))
}

// F16FromF32 rounds one f32 to IEEE half: nearest even, overflow to ±Inf, gradual underflow.
func F16FromF32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	abs := b & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(abs>>13)&0x3ff
	case abs >= 0x477ff000: // ≥ 65520 rounds to Inf
		return sign | 0x7c00
	case abs >= 0x38800000: // normal half (≥ 2^-14)
		r := abs + 0xfff + (abs>>13)&1
		return sign | uint16((r-0x38000000)>>13)
	case abs < 0x33000000: // < 2^-25: rounds to zero
		return sign
	}
	// Subnormal half: shift the 24-bit significand into the 10-bit field, rounding to even.
	e := abs >> 23
	m := abs&0x7fffff | 0x800000
	shift := 126 - e // 14 + (113 - e) - ... : value = m × 2^(e-150); half sub = n × 2^-24
	n := m >> shift
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && n&1 == 1) {
		n++
	}
	return sign | uint16(n)
}

// F8E4M3ToF32 widens one float8 e4m3fn value (no infinities; S.1111.111 is NaN).
func F8E4M3ToF32(v uint8) float32 {
	sign := float32(1)
	if v&0x80 != 0 {
		sign = -1
	}
	exp := int(v>>3) & 0xf
	man := float32(v & 7)
	switch {
	case exp == 0xf && v&7 == 7:
		return float32(math.NaN())
	case exp == 0:
		return sign * man / 8 * (1.0 / 64) // 2^-6 × man/8
	}
	return sign * (1 + man/8) * float32(math.Ldexp(1, exp-7))
}

// F8E5M2ToF32 widens one float8 e5m2 value (IEEE-like: it is the top byte of an f16).
func F8E5M2ToF32(v uint8) float32 { return F16ToF32Scalar(uint16(v) << 8) }

// ToF32 returns the tensor's values as a new F32 CPU tensor (a plain copy when already F32).
// Integer and bool tensors convert by value.
func (t *Tensor) ToF32() (*Tensor, error) {
	if t.st.dev.CUDA {
		return nil, fmt.Errorf("ToF32: %v is not in host memory", t)
	}
	out := New(F32, t.shape...)
	d := out.F32()
	switch t.dtype {
	case F32:
		copy(d, t.F32())
	case BF16:
		BF16ToF32(d, t.BF16())
	case F16:
		F16ToF32(d, t.F16())
	case F64:
		for i, v := range t.F64() {
			d[i] = float32(v)
		}
	case F8E4M3:
		for i, v := range t.Bytes() {
			d[i] = F8E4M3ToF32(v)
		}
	case F8E5M2:
		for i, v := range t.Bytes() {
			d[i] = F8E5M2ToF32(v)
		}
	case I32:
		for i, v := range t.I32() {
			d[i] = float32(v)
		}
	case I64:
		for i, v := range t.I64() {
			d[i] = float32(v)
		}
	case U8, Bool:
		for i, v := range t.Bytes() {
			d[i] = float32(v)
		}
	default:
		return nil, fmt.Errorf("ToF32: no conversion from %v", t.dtype)
	}
	return out, nil
}

// FromF32To converts an F32 tensor to dt (F32, BF16 or F16) as a new CPU tensor.
func (t *Tensor) FromF32To(dt DType) (*Tensor, error) {
	if t.dtype != F32 {
		return nil, fmt.Errorf("FromF32To: %v is not F32", t)
	}
	out := New(dt, t.shape...)
	switch dt {
	case F32:
		copy(out.F32(), t.F32())
	case BF16:
		F32ToBF16(out.BF16(), t.F32())
	case F16:
		F32ToF16(out.F16(), t.F32())
	default:
		return nil, fmt.Errorf("FromF32To: no conversion to %v", dt)
	}
	return out, nil
}
