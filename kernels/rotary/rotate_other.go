//go:build !amd64 || purego

package rotary

var useAVX512 = false

func rotateFast(out, x, cos, sin []float32, t0, t1, H, Dh, half int, inverse bool) bool {
	return false
}
