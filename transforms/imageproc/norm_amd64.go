//go:build amd64 && !purego

package imageproc

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func normPlaneAVX512(dst *float32, src *uint8, n, tp, tstride int, mean, std *float32)

//go:noescape
func streamAVX512(dst, src *float32, n int)

func storeFence()

// haveAVX512 is the CPU's capability (AVX-512 F and DQ, with the OS saving the registers);
// useAVX512 selects normalizeAVX512 (tests flip it to cover the Go path).
var (
	haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
	useAVX512  = haveAVX512
)

// streamMin is the output size from which normalizeAVX512 bypasses the caches with
// non-temporal stores: pixel_values this large would only evict useful data on their way out.
const streamMin = 4 << 20

// stageRows is how many output rows normalizeAVX512 builds in cache before streaming them out.
const stageRows = 4

// normalizeAVX512 is normalizeGo computed 16 lanes at a time with the table's own IEEE
// operations (normLUT: float64 product, float32 rounding, float32 subtraction and division),
// so every value has the same bits as the table entry. Large outputs with a 32-byte aligned
// dst and rows of a multiple of 8 floats are built in a small staging buffer and written with
// non-temporal stores. It reports false, doing nothing, without AVX-512.
func normalizeAVX512(dst []float32, rows []uint8, mean, std *[3]float32, plane, tp int) bool {
	if !useAVX512 {
		return false
	}
	in, out := 3*plane, 3*tp*plane
	p := len(rows) / in
	stream := uintptr(unsafe.Pointer(&dst[0]))%32 == 0 && out%8 == 0 && 4*len(dst) >= streamMin
	if !stream {
		for r := range p {
			normRowAVX512(dst[r*out:(r+1)*out], rows[r*in:(r+1)*in], mean, std, plane, tp)
		}
		return true
	}
	stage := make([]float32, stageRows*out)
	for r0 := 0; r0 < p; r0 += stageRows {
		k := min(stageRows, p-r0)
		for i := range k {
			r := r0 + i
			normRowAVX512(stage[i*out:(i+1)*out], rows[r*in:(r+1)*in], mean, std, plane, tp)
		}
		streamAVX512(&dst[r0*out], &stage[0], k*out)
	}
	storeFence()
	return true
}

// normRowAVX512 writes one pixel_values row (row [3·tp·plane]) from one patch row (src
// [3·plane]).
func normRowAVX512(row []float32, src []uint8, mean, std *[3]float32, plane, tp int) {
	_ = row[3*tp*plane-1]
	_ = src[3*plane-1]
	for c := range 3 {
		normPlaneAVX512(&row[c*tp*plane], &src[c*plane], plane, tp, plane, &mean[c], &std[c])
	}
}
