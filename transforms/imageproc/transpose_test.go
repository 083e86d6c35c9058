package imageproc

import (
	"math/rand/v2"
	"testing"
)

// withKernels runs f with the Go kernels and, when the CPU has them, the AVX2 kernels.
func withKernels(t *testing.T, f func(t *testing.T)) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, p := range []bool{false, true} {
		if p && !haveAVX2 {
			continue
		}
		useAVX2 = p
		t.Run(map[bool]string{false: "go", true: "avx2"}[p], f)
	}
}

// TestTransposeBytes: every element lands at its transposed position, for sizes with and
// without whole 16×16 tiles, with strides wider than the matrix (and bytes outside the
// matrix untouched).
func TestTransposeBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	withKernels(t, func(t *testing.T) {
		for _, sz := range [][2]int{{1, 1}, {16, 16}, {17, 33}, {64, 3000}, {48, 3024}, {15, 200}, {100, 15}, {37, 129}} {
			rows, cols := sz[0], sz[1]
			ss, ds := cols+rng.IntN(5), rows+rng.IntN(5)
			src := make([]uint8, rows*ss)
			for i := range src {
				src[i] = uint8(rng.Uint32())
			}
			dst := make([]uint8, cols*ds)
			for i := range dst {
				dst[i] = 0xA5
			}
			transposeBytes(dst, ds, src, ss, rows, cols)
			for c := range cols {
				for r := range ds {
					want := uint8(0xA5)
					if r < rows {
						want = src[r*ss+c]
					}
					if dst[c*ds+r] != want {
						t.Fatalf("%dx%d (strides %d, %d): dst[%d][%d] = %d, want %d", rows, cols, ss, ds, c, r, dst[c*ds+r], want)
					}
				}
			}
		}
	})
}

// TestPatchifyKernels: patch rows for the default 14×14 patches (the scatter kernel's size
// range) match a direct per-sample computation of the merge-block layout, on both paths.
func TestPatchifyKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	o := DefaultOptions()
	const W, H = 112, 56 // grid 4×8
	m := rgbImage{W: W, H: H, Pix: make([]uint8, 3*W*H)}
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.Uint32())
	}
	withKernels(t, func(t *testing.T) {
		rows := patchify(m, o)
		gw := W / 14
		for y := range H {
			for x := range W {
				gy, gx := y/14, x/14
				r := ((gy/2*(gw/2)+gx/2)*2+gy%2)*2 + gx%2
				for c := range 3 {
					if got, want := rows[r*588+c*196+(y%14)*14+x%14], m.Pix[3*(y*W+x)+c]; got != want {
						t.Fatalf("pixel (%d,%d) c %d: %d, want %d", y, x, c, got, want)
					}
				}
			}
		}
	})
}
