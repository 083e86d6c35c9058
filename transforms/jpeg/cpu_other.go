//go:build !amd64

package jpeg

import "unsafe"

const hasAVX2 = false

// idctAVX2 has no assembly on this architecture; it is never selected
// (useAVX2 is false) but keeps idctBlock portable.
func idctAVX2(coef *[64]int16, q *[64]int16, dst *uint8, stride int) {
	idctGo(coef, q, unsafe.Slice(dst, 7*stride+8), stride)
}
