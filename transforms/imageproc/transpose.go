package imageproc

// transposeBytes writes the transpose of a rows×cols byte matrix: dst[c·dstStride + r] =
// src[r·srcStride + c]. Whole 16×16 tiles go through transpose16 (AVX2 where available),
// the edges through Go.
func transposeBytes(dst []uint8, dstStride int, src []uint8, srcStride, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = src[(rows-1)*srcStride+cols-1]
	_ = dst[(cols-1)*dstStride+rows-1]
	r0, c0 := 0, 0
	if useAVX2 && rows >= 16 && cols >= 16 {
		tiles := cols / 16
		c0 = 16 * tiles
		for ; r0+16 <= rows; r0 += 16 {
			transpose16(dst[r0:], dstStride, src[r0*srcStride:], srcStride, tiles)
		}
	}
	transposeGo(dst, dstStride, src, srcStride, 0, r0, c0, cols)
	transposeGo(dst, dstStride, src, srcStride, r0, rows, 0, cols)
}

// transposeGo transposes the block rows [r0, r1) × columns [c0, c1).
func transposeGo(dst []uint8, dstStride int, src []uint8, srcStride, r0, r1, c0, c1 int) {
	for r := r0; r < r1; r++ {
		s := src[r*srcStride+c0 : r*srcStride+c1]
		for i, v := range s {
			dst[(c0+i)*dstStride+r] = v
		}
	}
}
