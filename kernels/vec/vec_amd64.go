//go:build amd64 && !purego

package vec

// Assembly kernels (vec_amd64.s). n > 0; every pointer addresses at least n float32s.

//go:noescape
func expAVX512(dst, x *float32, n int)

//go:noescape
func expAVX2(dst, x *float32, n int)

//go:noescape
func sigmoidAVX512(dst, x *float32, n int)

//go:noescape
func sigmoidAVX2(dst, x *float32, n int)

//go:noescape
func dotAVX512(a, b *float32, n int) float32

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func sumAVX512(x *float32, n int) float32

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func axpyAVX512(alpha float32, x, y *float32, n int)

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

//go:noescape
func scaleAVX512(alpha float32, x *float32, n int)

//go:noescape
func scaleAVX2(alpha float32, x *float32, n int)

// The wrappers take non-empty slices of equal length (checked by the exported functions).

func expAsm(dst, x []float32) {
	if path == pathAVX512 {
		expAVX512(&dst[0], &x[0], len(dst))
	} else {
		expAVX2(&dst[0], &x[0], len(dst))
	}
}

func sigmoidAsm(dst, x []float32) {
	if path == pathAVX512 {
		sigmoidAVX512(&dst[0], &x[0], len(dst))
	} else {
		sigmoidAVX2(&dst[0], &x[0], len(dst))
	}
}

func dotAsm(a, b []float32) float32 {
	if path == pathAVX512 {
		return dotAVX512(&a[0], &b[0], len(a))
	}
	return dotAVX2(&a[0], &b[0], len(a))
}

func sumAsm(x []float32) float32 {
	if path == pathAVX512 {
		return sumAVX512(&x[0], len(x))
	}
	return sumAVX2(&x[0], len(x))
}

func maxAsm(x []float32) float32 {
	if path == pathAVX512 {
		return maxAVX512(&x[0], len(x))
	}
	return maxAVX2(&x[0], len(x))
}

func axpyAsm(alpha float32, x, y []float32) {
	if path == pathAVX512 {
		axpyAVX512(alpha, &x[0], &y[0], len(y))
	} else {
		axpyAVX2(alpha, &x[0], &y[0], len(y))
	}
}

func scaleAsm(alpha float32, x []float32) {
	if path == pathAVX512 {
		scaleAVX512(alpha, &x[0], len(x))
	} else {
		scaleAVX2(alpha, &x[0], len(x))
	}
}
