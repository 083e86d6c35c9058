package imageproc

import "math"

// PIL's BICUBIC resampling (Pillow 9.4 src/libImaging/Resample.c), reproduced bit for bit for
// 8-bit RGB:
//   - coefficients: per output pixel, the a = −0.5 cubic sampled at the source pixel centres
//     within support 2·max(scale, 1) of the output centre, normalised to sum 1 in float64, then
//     rounded half away from zero to PRECISION_BITS = 22 fractional bits;
//   - two passes, horizontal first into uint8 (rounded by adding 2^21, shifted, clipped), then
//     vertical; a pass whose size does not change is skipped (no filtering at all), and when
//     neither changes the image is copied;
//   - the horizontal pass only computes the source rows the vertical pass reads.
// Float operations are written with explicit conversions so the compiler cannot fuse them
// into FMAs, which would change the rounding.

const precisionBits = 32 - 8 - 2

// bicubic is Pillow's bicubic_filter with a = −0.5.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64(float64((a+2)*x) - (a + 3))
		t = float64(t * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 {
		t := float64((x - 5) * x)
		t = float64(t + 8)
		t = float64(t * x)
		t = float64(t - 4)
		return float64(t * a)
	}
	return 0
}

// coeffs holds one pass's fixed-point filter: output i reads source pixels
// [start[i], start[i]+n[i]) with weights k[i*ksize : i*ksize+n[i]].
type coeffs struct {
	ksize    int
	start, n []int32 // [out]
	k        []int32 // [out, ksize]
}

// precompute is Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, for the box
// (0, inSize).
func precompute(inSize, outSize int) coeffs {
	const support0 = 2.0 // BICUBIC support
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := float64(support0 * filterscale)
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, start: make([]int32, outSize), n: make([]int32, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1.0 / filterscale
	for xx := range outSize {
		center := float64(float64(float64(xx)+0.5) * scale)
		xmin := int(float64(center-support) + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(float64(center+support) + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			v := bicubic(float64(float64(float64(x+xmin)-center)+0.5) * ss)
			w[x] = v
			ww += v
		}
		k := c.k[xx*ksize : xx*ksize+ksize]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		c.start[xx], c.n[xx] = int32(xmin), int32(xmax)
	}
	return c
}

// clip8 is Pillow's clip8: the accumulator shifted down by PRECISION_BITS, clamped to 0..255.
func clip8(s int32) uint8 {
	v := s >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeBicubic resizes m to outW×outH as PIL's Image.resize((outW, outH), Image.BICUBIC).
// Both passes run as vertical filters over contiguous rows (SIMD across the row): the
// horizontal pass transposes the rows it needs, filters, and transposes back. Integer sums do
// not depend on the order of their terms, so this is exactly Pillow's result.
func resizeBicubic(m rgbImage, outW, outH int) rgbImage {
	if outW == m.W && outH == m.H {
		return rgbImage{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
	}
	cur := m
	var cv coeffs
	needV := outH != m.H
	if needV {
		cv = precompute(m.H, outH)
	}
	if outW != m.W {
		ch := precompute(m.W, outW)
		y0, y1 := 0, m.H
		if needV { // only the source rows the vertical pass reads
			y0 = int(cv.start[0])
			y1 = int(cv.start[outH-1] + cv.n[outH-1])
			for i := range cv.start {
				cv.start[i] -= int32(y0)
			}
		}
		rows := y1 - y0
		t := make([]uint8, 3*m.W*rows) // [W, rows, 3]
		transposePix(t, m.Pix[3*m.W*y0:3*m.W*y1], m.W, rows)
		th := make([]uint8, 3*outW*rows) // [outW, rows, 3]
		verticalPass(th, t, 3*rows, outW, &ch)
		cur = rgbImage{W: outW, H: rows, Pix: make([]uint8, 3*outW*rows)}
		transposePix(cur.Pix, th, rows, outW)
	}
	if !needV {
		return cur
	}
	out := rgbImage{W: outW, H: outH, Pix: make([]uint8, 3*outW*outH)}
	verticalPass(out.Pix, cur.Pix, 3*outW, outH, &cv)
	return out
}

// transposePix writes src [h, w, 3] as dst [w, h, 3], in 16×16-pixel tiles.
func transposePix(dst, src []uint8, w, h int) {
	const tile = 16
	for y0 := 0; y0 < h; y0 += tile {
		y1 := min(y0+tile, h)
		for x0 := 0; x0 < w; x0 += tile {
			x1 := min(x0+tile, w)
			for y := y0; y < y1; y++ {
				s := src[3*(y*w+x0) : 3*(y*w+x1)]
				for x := x0; x < x1; x++ {
					d := dst[3*(x*h+y) : 3*(x*h+y)+3]
					p := s[3*(x-x0) : 3*(x-x0)+3]
					d[0], d[1], d[2] = p[0], p[1], p[2]
				}
			}
		}
	}
}

// verticalPass filters src [*, rowLen] into dst [outH, rowLen] along the first axis.
func verticalPass(dst, src []uint8, rowLen, outH int, c *coeffs) {
	for yy := range outH {
		start, n := int(c.start[yy]), int(c.n[yy])
		k := c.k[yy*c.ksize : yy*c.ksize+n]
		filterRow(dst[yy*rowLen:(yy+1)*rowLen], src[start*rowLen:], rowLen, k)
	}
}

// filterRowGo is filterRow in Go: dst[x] = clip8(2^21 + Σ_j k[j]·src[j·stride + x]).
func filterRowGo(dst, src []uint8, stride int, k []int32) {
	const half = 1 << (precisionBits - 1)
	for x := range dst {
		s := int32(half)
		for j, kv := range k {
			s += int32(src[j*stride+x]) * kv
		}
		dst[x] = clip8(s)
	}
}
