//go:build !amd64 || purego

package imageproc

const haveAVX2 = false

// useAVX2 is a variable so that tests can set it on every architecture; it stays false here.
var useAVX2 = false

func filterRow(dst, src []uint8, stride int, k []int32) { filterRowGo(dst, src, stride, k) }

// transpose16 is never called without AVX2 (transposeBytes checks useAVX2); it is the Go
// transpose of the same strip.
func transpose16(dst []uint8, dstStride int, src []uint8, srcStride, tiles int) {
	transposeGo(dst, dstStride, src, srcStride, 0, 16, 0, 16*tiles)
}

func scatter(dst, src []uint8, off []int, ps int) { scatterGo(dst, src, off, ps) }
