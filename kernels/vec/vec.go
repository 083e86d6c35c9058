package vec

import "github.com/glmflow/glmflow/kernels/internal/simd"

// Code paths. The active one is the best the CPU supports (kernels/internal/simd); tests switch
// with setPath.
const (
	pathGeneric = simd.Generic
	pathAVX2    = simd.AVX2
	pathAVX512  = simd.AVX512
)

var path = simd.Best()

// pathNames is for test and benchmark names.
var pathNames = simd.Names

// available reports whether this build and CPU can run path p.
func available(p int) bool { return simd.Available(p) }

// Exp sets dst[i] = e^x[i] for i < len(dst). len(x) must be ≥ len(dst). dst may be x.
//
//	dst [n]
//	x   [n]
func Exp(dst, x []float32) {
	x = x[:len(dst)]
	if len(dst) == 0 {
		return
	}
	switch path {
	case pathAVX512, pathAVX2:
		expAsm(dst, x)
	default:
		expGeneric(dst, x)
	}
}

// Sigmoid sets dst[i] = 1/(1+e^−x[i]) for i < len(dst) (exactly 0 for x < −88.72, where e^−x
// overflows; exactly 1 for x > 87.33). dst may be x.
//
//	dst [n]
//	x   [n]
func Sigmoid(dst, x []float32) {
	x = x[:len(dst)]
	if len(dst) == 0 {
		return
	}
	switch path {
	case pathAVX512, pathAVX2:
		sigmoidAsm(dst, x)
	default:
		sigmoidGeneric(dst, x)
	}
}

// Dot returns Σ a[i]·b[i] over i < len(a). len(b) must be ≥ len(a).
//
//	a [n]
//	b [n]
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a) == 0 {
		return 0
	}
	switch path {
	case pathAVX512, pathAVX2:
		return dotAsm(a, b)
	}
	return dotGeneric(a, b)
}

// Axpy sets y[i] += alpha·x[i] for i < len(y). len(x) must be ≥ len(y).
//
//	x [n]
//	y [n]
func Axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	if len(y) == 0 {
		return
	}
	switch path {
	case pathAVX512, pathAVX2:
		axpyAsm(alpha, x, y)
	default:
		axpyGeneric(alpha, x, y)
	}
}

// Scale sets x[i] *= alpha.
//
//	x [n]
func Scale(alpha float32, x []float32) {
	if len(x) == 0 {
		return
	}
	switch path {
	case pathAVX512, pathAVX2:
		scaleAsm(alpha, x)
	default:
		scaleGeneric(alpha, x)
	}
}

// Sum returns Σ x[i] (0 for an empty slice).
//
//	x [n]
func Sum(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	switch path {
	case pathAVX512, pathAVX2:
		return sumAsm(x)
	}
	return sumGeneric(x)
}

// SumSq returns Σ x[i]² (0 for an empty slice).
//
//	x [n]
func SumSq(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	switch path {
	case pathAVX512, pathAVX2:
		return dotAsm(x, x)
	}
	return dotGeneric(x, x)
}

// Max returns the largest element of x, ignoring NaNs; −Inf for an empty or all-NaN slice.
//
//	x [n]
func Max(x []float32) float32 {
	if len(x) == 0 {
		return negInf
	}
	switch path {
	case pathAVX512, pathAVX2:
		return maxAsm(x)
	}
	return maxGeneric(x)
}
