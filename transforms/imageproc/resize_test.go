package imageproc

import (
	"bytes"
	"fmt"
	"testing"
)

func TestResizeBicubicMatchesPIL(t *testing.T) {
	g := loadGoldens(t)
	src, err := decode(readTestdata(t, g.Resize.Src), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Resize.Cases {
		want := unb64(t, c.RGB)
		got := resizeBicubic(src, c.W, c.H)
		if got.W != c.W || got.H != c.H || len(got.Pix) != len(want) {
			t.Fatalf("%dx%d→%dx%d: got %dx%d", src.W, src.H, c.W, c.H, got.W, got.H)
		}
		if !bytes.Equal(got.Pix, want) {
			t.Errorf("%dx%d→%dx%d: %s", src.W, src.H, c.W, c.H, firstDiff(got.Pix, want, 3*c.W))
		}
	}
}

// firstDiff describes the first differing byte of two [H, W, 3] images and the largest error.
func firstDiff(got, want []uint8, rowLen int) string {
	first, maxd, n := -1, 0, 0
	for i := range got {
		d := int(got[i]) - int(want[i])
		if d != 0 {
			n++
			if first < 0 {
				first = i
			}
			maxd = max(maxd, d, -d)
		}
	}
	if first < 0 {
		return "equal"
	}
	return fmt.Sprintf("%d bytes differ (max %d); first at y=%d x=%d c=%d: got %d want %d",
		n, maxd, first/rowLen, first%rowLen/3, first%3, got[first], want[first])
}

func TestPrecomputeSumsToOne(t *testing.T) {
	// Property: each fixed-point filter row sums to 2^22 within rounding of its taps.
	for _, sz := range [][2]int{{1000, 1008}, {4032, 1316}, {57, 300}, {300, 7}} {
		c := precompute(sz[0], sz[1])
		for i := range sz[1] {
			s := int32(0)
			for _, k := range c.k[i*c.ksize : i*c.ksize+int(c.n[i])] {
				s += k
			}
			if d := s - 1<<precisionBits; d > c.n[i] || d < -c.n[i] {
				t.Fatalf("%v row %d sums to %d", sz, i, s)
			}
		}
	}
}
