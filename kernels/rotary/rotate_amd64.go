//go:build amd64 && !purego

package rotary

import "github.com/glmflow/glmflow/kernels/internal/simd"

// useAVX512 selects the AVX-512 rotation (rotate_amd64.s) for rows whose half-width is a
// multiple of 16; tests switch it off to compare with the Go loop.
var useAVX512 = simd.Available(simd.AVX512)

// rotateAVX512 rotates tokens [0, T) of x into out (same layout as rotate) for half % 16 == 0:
// per token t and head h, i < half:
//
//	out[i]      = fl(x[i]·c[i]) ∓ fl(x[i+half]·s[i])
//	out[i+half] = fl(x[i+half]·c[i]) ± fl(x[i]·s[i])        (upper sign: forward, inverse = 0)
//
// Each product is rounded before the add (VMULPS, then VADDPS/VSUBPS): the Go loop's bits.
// x, out point at token 0, head 0; cos, sin at token 0's row of half values.
//
//go:noescape
func rotateAVX512(out, x, cos, sin *float32, T, H, Dh, half int, inverse bool)

// rotateFast runs the assembly for tokens [t0, t1) when it applies and reports whether it did.
func rotateFast(out, x, cos, sin []float32, t0, t1, H, Dh, half int, inverse bool) bool {
	if !useAVX512 || half%16 != 0 || t1 <= t0 {
		return false
	}
	o := t0 * H * Dh
	rotateAVX512(&out[o], &x[o], &cos[t0*half], &sin[t0*half], t1-t0, H, Dh, half, inverse)
	return true
}
