//go:build amd64 && !purego

package imageproc

import "golang.org/x/sys/cpu"

//go:noescape
func vpassAVX2(dst, src *uint8, stride, width int, k *int32, n int)

//go:noescape
func scatterAVX2(dst, src *uint8, off *int, n, ps int)

//go:noescape
func transpose16AVX2(dst *uint8, dstStride int, src *uint8, srcStride int, tiles int)

// haveAVX2 is the CPU's capability; useAVX2 selects the assembly kernels (tests flip it to
// cover the Go paths).
var (
	haveAVX2 = cpu.X86.HasAVX2
	useAVX2  = haveAVX2
)

// filterRow computes one output row of a vertical pass: dst[x] = clip8(2^21 + Σ_j k[j]·
// src[j·stride + x]). The AVX2 kernel does the multiple-of-32 prefix, Go the rest; both are
// the same integer arithmetic, so results are identical.
func filterRow(dst, src []uint8, stride int, k []int32) {
	done := 0
	if useAVX2 && len(dst) >= 32 && len(k) > 0 {
		done = len(dst) &^ 31
		// The kernel reads src[j·stride + x] for j < len(k), x < done.
		_ = src[(len(k)-1)*stride+done-1]
		vpassAVX2(&dst[0], &src[0], stride, done, &k[0], len(k))
	}
	filterRowGo(dst[done:], src[done:], stride, k)
}

// transpose16 transposes `tiles` 16×16 tiles side by side (see transpose16AVX2); the caller
// has checked the bounds of the whole strip.
func transpose16(dst []uint8, dstStride int, src []uint8, srcStride, tiles int) {
	_ = src[15*srcStride+16*tiles-1]
	_ = dst[(16*tiles-1)*dstStride+15]
	transpose16AVX2(&dst[0], dstStride, &src[0], srcStride, tiles)
}

// scatter copies len(off) runs of ps bytes, src[i·ps:(i+1)·ps] to dst[off[i]:off[i]+ps].
func scatter(dst, src []uint8, off []int, ps int) {
	if useAVX2 && ps >= 8 && ps <= 16 && len(off) > 0 {
		_ = src[len(off)*ps-1]
		for _, o := range off {
			_ = dst[o : o+ps] // bounds of every destination run
		}
		scatterAVX2(&dst[0], &src[0], &off[0], len(off), ps)
		return
	}
	scatterGo(dst, src, off, ps)
}
