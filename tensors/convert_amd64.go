//go:build amd64 && !purego

package tensors

import "golang.org/x/sys/cpu"

// SIMD dispatch for the slice conversions in convert.go. At init the best path the CPU
// supports replaces the pure-Go function variables; setConvPath lets tests force each one.

//go:noescape
func bf16ToF32AVX512(dst *float32, src *uint16, n int)

//go:noescape
func f32ToBF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func f16ToF32AVX512(dst *float32, src *uint16, n int)

//go:noescape
func f32ToF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func bf16ToF32AVX2(dst *float32, src *uint16, n int)

//go:noescape
func f32ToBF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func f16ToF32F16C(dst *float32, src *uint16, n int)

//go:noescape
func f32ToF16F16C(dst *uint16, src *float32, n int)

// Conversion paths, best first.
const (
	pathAVX512 = "avx512"
	pathAVX2   = "avx2" // AVX2 + F16C
	pathGo     = "go"
)

func convPathSupported(p string) bool {
	switch p {
	case pathAVX512:
		return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
	case pathAVX2:
		return cpu.X86.HasAVX2 && cpu.X86.HasF16C
	case pathGo:
		return true
	}
	return false
}

func init() {
	for _, p := range []string{pathAVX512, pathAVX2} {
		if convPathSupported(p) {
			setConvPath(p)
			return
		}
	}
}

// setConvPath installs path p's conversions and reports whether the CPU supports it (if not,
// nothing changes).
func setConvPath(p string) bool {
	if !convPathSupported(p) {
		return false
	}
	switch p {
	case pathAVX512:
		bf16ToF32 = wideN(16, bf16ToF32AVX512, bf16ToF32Go)
		f32ToBF16 = narrowN(16, f32ToBF16AVX512, f32ToBF16Go)
		f16ToF32 = wideN(16, f16ToF32AVX512, f16ToF32Go)
		f32ToF16 = narrowN(16, f32ToF16AVX512, f32ToF16Go)
	case pathAVX2:
		bf16ToF32 = wideN(8, bf16ToF32AVX2, bf16ToF32Go)
		f32ToBF16 = narrowN(8, f32ToBF16AVX2, f32ToBF16Go)
		f16ToF32 = wideN(8, f16ToF32F16C, f16ToF32Go)
		f32ToF16 = narrowN(8, f32ToF16F16C, f32ToF16Go)
	case pathGo:
		setConvGo()
	}
	convPath = p
	return true
}

// wideN runs kernel on the largest multiple of w elements and tail on the rest.
func wideN(w int, kernel func(*float32, *uint16, int), tail func([]float32, []uint16)) func([]float32, []uint16) {
	return func(dst []float32, src []uint16) {
		n := len(src) / w * w
		if n > 0 {
			kernel(&dst[0], &src[0], n)
		}
		tail(dst[n:len(src)], src[n:])
	}
}

func narrowN(w int, kernel func(*uint16, *float32, int), tail func([]uint16, []float32)) func([]uint16, []float32) {
	return func(dst []uint16, src []float32) {
		n := len(src) / w * w
		if n > 0 {
			kernel(&dst[0], &src[0], n)
		}
		tail(dst[n:len(src)], src[n:])
	}
}
