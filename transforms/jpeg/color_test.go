package jpeg

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestColorKernelsMatchGo: the AVX2 upsampling and YCbCr→RGB kernels agree with the Go code
// (the libjpeg-turbo formulas) on random rows of every width from 1 to 100 and a long one,
// including all-0 and all-255 rows (the clamping extremes).
func TestColorKernelsMatchGo(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	widths := []int{1000}
	for w := 1; w <= 100; w++ {
		widths = append(widths, w)
	}
	fill := func(b []uint8, mode int) {
		for i := range b {
			switch mode {
			case 0:
				b[i] = uint8(rng.Uint32())
			case 1:
				b[i] = 0
			case 2:
				b[i] = 255
			}
		}
	}
	for _, w := range widths {
		for mode := range 3 {
			n16 := (w + 15) &^ 15
			y, cb, cr := make([]uint8, w), make([]uint8, w), make([]uint8, w)
			fill(y, mode)
			fill(cb, (mode+rng.IntN(3))%3)
			fill(cr, mode)
			if mode == 0 {
				fill(cb, 0)
			}
			got, want := make([]uint8, 3*w), make([]uint8, 3*w)
			useAVX2 = true
			yccRowFast(got, y, cb, cr)
			useAVX2 = hasAVX2
			yccRow(want, y, cb, cr)
			if !bytes.Equal(got, want) {
				t.Fatalf("ycc width %d mode %d: AVX2 %v, Go %v", w, mode, got, want)
			}
			if w <= 2 {
				continue // box upsampling for such narrow components
			}
			near, far := make([]uint8, n16+planeSlack), make([]uint8, n16+planeSlack)
			fill(near, mode)
			fill(far, 0)
			csb := make([]int16, n16+2+16)
			up := make([]uint8, 2*n16+planeSlack)
			ref := make([]uint8, 2*w)
			upH2(up, csb, near, far, w, 8, 7)
			h2v2Fancy(ref, make([]int32, w), near, far, w)
			if !bytes.Equal(up[:2*w], ref) {
				t.Fatalf("h2v2 width %d: AVX2 %v, Go %v", w, up[:2*w], ref)
			}
			upH2(up, csb, near, near, w, 4, 8)
			h2v1Fancy(ref, near, w)
			if !bytes.Equal(up[:2*w], ref) {
				t.Fatalf("h2v1 width %d: AVX2 %v, Go %v", w, up[:2*w], ref)
			}
		}
	}
}
