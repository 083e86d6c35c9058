//go:build !amd64 || purego

package imageproc

const haveAVX512 = false

// useAVX512 is a variable so that tests can set it on every architecture; it stays false here.
var useAVX512 = false

func normalizeAVX512(dst []float32, rows []uint8, mean, std *[3]float32, plane, tp int) bool {
	return false
}
