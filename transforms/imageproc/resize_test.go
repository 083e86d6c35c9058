package imageproc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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

// resizeReference is Pillow's two-pass resample written directly (ImagingResampleHorizontal_8bpc
// then ImagingResampleVertical_8bpc, on the rows the vertical pass reads), one output sample at
// a time: no transposes, bands or windows.
func resizeReference(m rgbImage, outW, outH int) rgbImage {
	cur := m
	var cv coeffs
	y0, y1 := 0, m.H
	if outH != m.H {
		cv = precompute(m.H, outH)
		y0, y1 = int(cv.start[0]), int(cv.start[outH-1]+cv.n[outH-1])
	}
	if outW != m.W {
		ch := precompute(m.W, outW)
		cur = rgbImage{W: outW, H: y1 - y0, Pix: make([]uint8, 3*outW*(y1-y0))}
		for y := y0; y < y1; y++ {
			for x := range outW {
				for c := range 3 {
					s := int32(1 << (precisionBits - 1))
					for j := range int(ch.n[x]) {
						s += int32(m.Pix[3*(y*m.W+int(ch.start[x])+j)+c]) * ch.k[x*ch.ksize+j]
					}
					cur.Pix[3*((y-y0)*outW+x)+c] = clip8(s)
				}
			}
		}
		y1 -= y0
		y0 = 0
	} else {
		cur = rgbImage{W: m.W, H: y1 - y0, Pix: m.Pix[3*m.W*y0 : 3*m.W*y1]}
	}
	if outH == m.H {
		return rgbImage{W: cur.W, H: cur.H, Pix: append([]uint8(nil), cur.Pix...)}
	}
	out := rgbImage{W: outW, H: outH, Pix: make([]uint8, 3*outW*outH)}
	for y := range outH {
		for i := range 3 * outW {
			s := int32(1 << (precisionBits - 1))
			for j := range int(cv.n[y]) {
				s += int32(cur.Pix[3*outW*(int(cv.start[y])-int(cv.start[0])+j)+i]) * cv.k[y*cv.ksize+j]
			}
			out.Pix[3*outW*y+i] = clip8(s)
		}
	}
	return out
}

// TestResizeLargeMatchesReference covers what the small PIL goldens cannot: several
// horizontal-pass bands, the sliding row window, and AVX2 against Go kernels.
func TestResizeLargeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	src := rgbImage{W: 203, H: 301, Pix: make([]uint8, 3*203*301)}
	for i := range src.Pix { // smooth ramps plus noise, with saturated spots for clipping
		src.Pix[i] = uint8(i/3%203 + i/609 + rng.IntN(40))
		if rng.IntN(50) == 0 {
			src.Pix[i] = 255 * uint8(rng.IntN(2))
		}
	}
	sizes := [][2]int{{224, 308}, {203, 150}, {97, 301}, {56, 84}, {400, 602}, {28, 1000}, {1, 3}, {203, 301}}
	if testing.Short() {
		sizes = sizes[:4]
	}
	withKernels(t, func(t *testing.T) {
		for _, sz := range sizes {
			want := resizeReference(src, sz[0], sz[1])
			got := resizeBicubic(src, sz[0], sz[1])
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("203x301→%dx%d: %s", sz[0], sz[1], firstDiff(got.Pix, want.Pix, 3*sz[0]))
			}
		}
	})
}
