//go:build !amd64

package jpeg

import "unsafe"

const hasAVX2 = false

// idctAVX2 has no assembly on this architecture; it is never selected
// (useAVX2 is false) but keeps idctBlock portable.
func idctAVX2(coef *[64]int16, q *[64]int16, dst *uint8, stride int) {
	idctGo(coef, q, unsafe.Slice(dst, 7*stride+8), stride)
}

// The colour kernels' Go equivalents, likewise never selected here.

func yccRGBAVX2(out, y, cb, cr *uint8, n int) {
	yccRow(unsafe.Slice(out, 3*n), unsafe.Slice(y, n), unsafe.Slice(cb, n), unsafe.Slice(cr, n))
}

func colsumAVX2(cs *int16, near, far *uint8, n int) {
	c, a, b := unsafe.Slice(cs, n), unsafe.Slice(near, n), unsafe.Slice(far, n)
	for i := range c {
		c[i] = 3*int16(a[i]) + int16(b[i])
	}
}

func upH2AVX2(dst *uint8, cs *int16, n int, r0, r1 int) {
	d, c := unsafe.Slice(dst, 2*n), unsafe.Slice(cs, n+2)
	for i := 0; i < n; i++ {
		t := 3 * int(c[i+1])
		d[2*i] = uint8((t + int(c[i]) + r0) >> 4)
		d[2*i+1] = uint8((t + int(c[i+2]) + r1) >> 4)
	}
}
