// Package simd picks the SIMD code path of glmflow's hand-written kernels: one decision,
// shared by every kernel package, from the CPU's features (golang.org/x/sys/cpu) and the
// build (`-tags purego` and non-amd64 builds have no assembly, so only Generic).
package simd

// The code paths, in increasing preference. Kernel packages index their own tables by these.
const (
	Generic = iota // plain Go: the reference path, always available
	AVX2           // AVX2 + FMA
	AVX512         // AVX-512 F + VL
)

// Names are the paths' names for tests and benchmarks.
var Names = [...]string{"generic", "avx2", "avx512"}

// Available reports whether this build and CPU can run path p.
func Available(p int) bool {
	switch p {
	case Generic:
		return true
	case AVX2:
		return hasAVX2
	case AVX512:
		return hasAVX512
	}
	return false
}

// BF16 reports whether the AVX512 path may also use the AVX512_BF16 conversions
// (VCVTNEPS2BF16).
func BF16() bool { return hasAVX512 && hasBF16 }

// Best is the most preferred available path.
func Best() int {
	switch {
	case hasAVX512:
		return AVX512
	case hasAVX2:
		return AVX2
	}
	return Generic
}
