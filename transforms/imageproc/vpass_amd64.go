//go:build amd64 && !purego

package imageproc

import "golang.org/x/sys/cpu"

//go:noescape
func vpassAVX2(dst, src *uint8, stride, width int, k *int32, n int)

var haveAVX2 = cpu.X86.HasAVX2

// filterRow computes one output row of a vertical pass: dst[x] = clip8(2^21 + Σ_j k[j]·
// src[j·stride + x]). The AVX2 kernel does the multiple-of-32 prefix, Go the rest; both are
// the same integer arithmetic, so results are identical.
func filterRow(dst, src []uint8, stride int, k []int32) {
	done := 0
	if haveAVX2 && len(dst) >= 32 && len(k) > 0 {
		done = len(dst) &^ 31
		// The kernel reads src[j·stride + x] for j < len(k), x < done.
		_ = src[(len(k)-1)*stride+done-1]
		vpassAVX2(&dst[0], &src[0], stride, done, &k[0], len(k))
	}
	filterRowGo(dst[done:], src[done:], stride, k)
}
