//go:build amd64 && !purego

package gridsample

import "github.com/glmflow/glmflow/kernels/internal/simd"

// useAVX512 selects the AVX-512 loops of sample_amd64.s (tests switch it off to compare).
var useAVX512 = simd.Available(simd.AVX512)

// sampleAVX512 writes out[0:16·n16] for one point (see sample): rows[4i+j] points at tap
// (i, j)'s table row, w holds wx[0..3] then wy[0..3]. Same operations and rounding as the Go
// loop: VMULPS for a plain product, VFMADD231PS where the Go loop calls fma32.
//
//go:noescape
func sampleAVX512(out *float32, rows *[16]*float32, w *[8]float32, n16 int)

// scatterAVX512 does d[c] += fl(fl(src[c]·wx)·wy) for c < 16·n16.
//
//go:noescape
func scatterAVX512(d, src *float32, wx, wy float32, n16 int)

// sampleFast runs sampleAVX512 when it applies (C a multiple of 16) and reports whether it did.
func sampleFast(out, table []float32, p *point, C int) bool {
	if !useAVX512 || C%16 != 0 || C == 0 {
		return false
	}
	var rows [16]*float32
	for i := range 4 {
		for j := range 4 {
			rows[4*i+j] = &table[p.off[i][j]*C : (p.off[i][j]+1)*C][0]
		}
	}
	w := [8]float32{p.wx[0], p.wx[1], p.wx[2], p.wx[3], p.wy[0], p.wy[1], p.wy[2], p.wy[3]}
	_ = out[C-1]
	sampleAVX512(&out[0], &rows, &w, C/16)
	return true
}

// scatterFast adds g·wx·wy into d over the first 16·⌊len(g)/16⌋ elements and returns how many
// it did.
func scatterFast(d, g []float32, wx, wy float32) int {
	n16 := len(g) / 16
	if !useAVX512 || n16 == 0 {
		return 0
	}
	_ = d[16*n16-1]
	scatterAVX512(&d[0], &g[0], wx, wy, n16)
	return 16 * n16
}
