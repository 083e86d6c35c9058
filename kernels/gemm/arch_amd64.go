//go:build amd64 && !purego

package gemm

// Path detection and the Go side of the amd64 assembly (kernels_amd64.go is generated).

//go:generate go run gen_kernels.go

import "golang.org/x/sys/cpu" // CPU feature and OS register-state detection

// The kernels hard-code the row-major A panel stride; these fail to compile if it drifts.
var (
	_ [asmAStride - aStride]struct{}
	_ [aStride - asmAStride]struct{}
)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		impls[PathAVX2] = &impl{path: PathAVX2, mr: gemmYMR, nr: gemmYNV * 8, tile: avx2Tile, transpose8: transpose8AVX, packK6: packK6Asm, widen: widenBF16Asm}
		cur = impls[PathAVX2]
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		impls[PathAVX512] = &impl{path: PathAVX512, mr: gemmZMR, nr: gemmZNV * 16, tile: avx512Tile, transpose8: transpose8AVX, packK6: packK6Asm, widen: widenBF16Asm}
		cur = impls[PathAVX512]
		if cpu.X86.HasAVX512BF16 && cpu.X86.HasAVX512BW {
			im := *impls[PathAVX512]
			im.path, im.dotTile, im.dmr, im.dnr = PathAVX512BF16, bf16Tile, gemmBMR, gemmBNV*16
			im.interleave = interleaveAsm
			im.prefetch16 = prefetch16Asm
			im.interleaveK6 = interleaveK6Asm
			impls[PathAVX512BF16] = &im
			cur = &im
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// avx512Tile runs the 6×64 ZMM kernel variant for mr rows and ⌈nc/16⌉ vectors; the last
// vector is stored under an opmask of its valid lanes.
func avx512Tile(kMajor bool, mr, nc, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	nv := (nc + 15) / 16
	mask := 1<<(nc-16*(nv-1)) - 1
	f := gemmZr[mr-1][nv-1]
	if kMajor {
		f = gemmZk[mr-1][nv-1]
	}
	f(kc, &a[0], &b[0], &c[0], ldc, alpha, beta, mask, b2i(load))
}

// bf16Tile runs the 6×64 VDPBF16PS kernel variant for mr rows and ⌈nc/16⌉ vectors over kp
// k pairs (row-major A rows lda bf16 apart); the last vector is stored under an opmask of its
// valid lanes.
func bf16Tile(kMajor bool, mr, nc, kp int, a []uint16, lda int, b []uint16, c []float32, ldc int, alpha, beta float32, load bool) {
	nv := (nc + 15) / 16
	mask := 1<<(nc-16*(nv-1)) - 1
	f := gemmBr[mr-1][nv-1]
	if kMajor {
		f = gemmBk[mr-1][nv-1]
	}
	f(kp, &a[0], &b[0], &c[0], ldc, alpha, beta, mask, b2i(load), lda)
}

// avx2Tile runs the 6×16 YMM kernel variant; mask is the lane count of the last vector.
func avx2Tile(kMajor bool, mr, nc, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	nv := (nc + 7) / 8
	f := gemmYr[mr-1][nv-1]
	if kMajor {
		f = gemmYk[mr-1][nv-1]
	}
	f(kc, &a[0], &b[0], &c[0], ldc, alpha, beta, nc-8*(nv-1), b2i(load))
}

// transpose8AVX writes dst[j*ds+i] = src[i*ls+j] for i < 8·r8, j < 8·c8 (8×8 YMM blocks).
// Callers guarantee the slices cover those elements.
func transpose8AVX(dst, src []float32, ds, ls, r8, c8 int) {
	if r8 > 0 && c8 > 0 {
		transpose8x8(&dst[0], &src[0], ds, ls, r8, c8)
	}
}

// packK6Asm packs a k-major 6-row A panel (see packA); nil-safe for kc == 0.
func packK6Asm(dst, src []float32, lds, kc int) {
	if kc > 0 {
		_ = dst[kc*6-1]
		_ = src[(kc-1)*lds+5]
		packK6(&dst[0], &src[0], lds, kc)
	}
}

//go:noescape
func packK6(dst, src *float32, lds, kc int)

// widenBF16Asm sets dst[i] = bf16(src[i]) for i < len(src) ≤ len(dst).
func widenBF16Asm(dst []float32, src []uint16) {
	n8 := len(src) / 8
	if n8 > 0 {
		_ = dst[8*n8-1]
		widenBF16(&dst[0], &src[0], n8)
	}
	for i := 8 * n8; i < len(src); i++ {
		dst[i] = bf16(src[i])
	}
}

// interleaveAsm sets dst[2i] = r0[i], dst[2i+1] = r1[i] for i < len(r0) (len(r1) ≥ len(r0),
// len(dst) ≥ 2·len(r0)).
func interleaveAsm(dst, r0, r1 []uint16) {
	n16 := len(r0) / 16
	if n16 > 0 {
		_ = dst[32*n16-1]
		_ = r1[16*n16-1]
		interleave16(&dst[0], &r0[0], &r1[0], n16)
	}
	interleaveGo(dst[32*n16:], r0[16*n16:], r1[16*n16:])
}

//go:noescape
func interleave16(dst, r0, r1 *uint16, n16 int)

// interleaveK6 (pack_amd64.s) writes the pairs (r0[c], r1[c]), c < 48·n48, into 6-row k-major
// panels: pair c to 32-bit slot c%6 of the panel at dst + (c/6)·panelBytes.
//
//go:noescape
func interleaveK6(dst, r0, r1 *uint16, n48, panelBytes int)

// interleaveK6Asm is interleaveK6 over the first 48·⌊len(r0)/48⌋ columns; it returns how many
// columns it packed. dst is panel 0's slot for this pair; panel is the panel stride in bf16
// elements.
func interleaveK6Asm(dst, r0, r1 []uint16, panel int) int {
	n48 := len(r0) / 48
	if n48 == 0 {
		return 0
	}
	_ = r1[48*n48-1]
	_ = dst[(8*n48-1)*panel+11]
	interleaveK6(&dst[0], &r0[0], &r1[0], n48, 2*panel)
	return 48 * n48
}

//go:noescape
func widenBF16(dst *float32, src *uint16, n8 int)

// transpose8x8 is in pack_amd64.s.
//
//go:noescape
func transpose8x8(dst, src *float32, ds, ls, r8, c8 int)

// prefetch16Asm issues PREFETCHT1 for every cache line of rows [0, rows) of a (lda bf16
// apart, n bf16 each); the slice must reach the last row's start.
func prefetch16Asm(a []uint16, rows, lda, n int) {
	if rows > 0 && n > 0 {
		_ = a[(rows-1)*lda]
		prefetchRows(&a[0], rows, 2*lda, (2*n+63)/64)
	}
}

//go:noescape
func prefetchRows(a *uint16, rows, ldaBytes, lines int)
