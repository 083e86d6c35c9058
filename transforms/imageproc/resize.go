package imageproc

import (
	"math"
	"sync"
)

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
func resizeBicubic(m rgbImage, outW, outH int) rgbImage {
	out := rgbImage{W: outW, H: outH, Pix: make([]uint8, 3*outW*outH)}
	resizeRows(m, outW, outH, func(y int, row []uint8) {
		o := out.Pix[3*outW*y : 3*outW*(y+1)]
		r, g, b := row[:outW], row[outW:2*outW], row[2*outW:3*outW]
		for x := range outW {
			p := o[3*x : 3*x+3 : 3*x+3]
			p[0], p[1], p[2] = r[x], g[x], b[x]
		}
	})
	return out
}

// hBand is the number of source rows the horizontal pass transposes at a time: its buffers
// ([3·W, hBand] and [3·outW, hBand]) stay in the L2 cache, and the vertical kernel's 32-byte
// steps divide it.
const hBand = 64

// resizeRows resizes m to outW×outH as PIL's Image.resize((outW, outH), Image.BICUBIC) and
// hands each output row y, in order, to emit as planes [3, outW] (R, G, B); the row is only
// valid during the call.
//
// The horizontal pass runs as a vertical filter: each band of hBand source rows, as a
// [H, 3·W] byte matrix, is transposed to [3·W, hBand] (SIMD 16×16 tiles), filtered along its
// first axis (output row c·outW + x reads rows 3·(start_x + j) + c), and transposed back,
// which leaves each row's channels as planes. Integer sums do not depend on the order of their
// terms, so this is exactly Pillow's result. The vertical pass filters whole planar rows, each
// output row as soon as the rows it reads are done, while they are still in cache.
func resizeRows(m rgbImage, outW, outH int, emit func(y int, row []uint8)) {
	rowLen := 3 * outW
	stride := (rowLen + 31) &^ 31 // window rows padded so the vertical kernel needs no scalar tail
	inLen := 3 * m.W
	if outW == m.W && outH == m.H { // Pillow copies
		line := make([]uint8, rowLen)
		for y := range outH {
			deinterleave(line, m.Pix[y*inLen:(y+1)*inLen])
			emit(y, line)
		}
		return
	}
	var cv coeffs
	needV := outH != m.H
	y0, y1 := 0, m.H
	taps := 1
	if needV {
		cv = precompute(m.H, outH)
		// Only the source rows the vertical pass reads.
		y0 = int(cv.start[0])
		y1 = int(cv.start[outH-1] + cv.n[outH-1])
		for i := range cv.start {
			cv.start[i] -= int32(y0)
		}
		taps = cv.ksize
	}
	rows := y1 - y0
	src := m.Pix[inLen*y0 : inLen*y1]
	sc := scratchPool.Get().(*resizeScratch)
	defer scratchPool.Put(sc)
	// win holds horizontal-pass rows [base, base+held) as planes [3, outW] (row stride
	// `stride`); rows no pending output reads are dropped before each band, so it never needs
	// more than taps−1 old rows plus one band.
	win := grow(&sc.win, stride*(hBand+taps))
	line := grow(&sc.line, stride)
	base, held := 0, 0
	next := 0 // next output row
	flush := func() {
		for ; next < outH; next++ {
			if !needV {
				if next >= base+held {
					return
				}
				emit(next, win[(next-base)*stride:(next-base)*stride+rowLen])
				continue
			}
			start, n := int(cv.start[next]), int(cv.n[next])
			if start+n > base+held {
				return
			}
			filterRow(line, win[(start-base)*stride:], stride, cv.k[next*cv.ksize:next*cv.ksize+n])
			emit(next, line[:rowLen])
		}
	}
	var ch coeffs
	var t, th []uint8
	if outW != m.W {
		ch = precompute(m.W, outW)
		t = grow(&sc.t, inLen*hBand)    // [3·W, hBand]
		th = grow(&sc.th, rowLen*hBand) // [3·outW, hBand]
	}
	for b0 := 0; b0 < rows; b0 += hBand {
		b := min(hBand, rows-b0)
		keep := b0 // first row a pending output reads
		if needV && next < outH {
			keep = min(int(cv.start[next]), base+held)
		}
		copy(win, win[(keep-base)*stride:held*stride])
		held -= keep - base
		base = keep
		dst := win[held*stride:]
		if outW == m.W { // no horizontal filtering: only the planar layout
			for y := range b {
				deinterleave(dst[y*stride:y*stride+rowLen], src[(b0+y)*inLen:(b0+y+1)*inLen])
			}
		} else {
			transposeBytes(t, hBand, src[b0*inLen:], inLen, b, inLen)
			// Full hBand-wide rows even in a short last band: the columns past b hold stale
			// bytes whose results are never transposed back.
			for c := range 3 {
				for x := range outW {
					start, n := int(ch.start[x]), int(ch.n[x])
					o := (c*outW + x) * hBand
					filterRow(th[o:o+hBand], t[(3*start+c)*hBand:], 3*hBand, ch.k[x*ch.ksize:x*ch.ksize+n])
				}
			}
			transposeBytes(dst, stride, th, hBand, rowLen, b)
		}
		held += b
		flush()
	}
}

// resizeScratch holds resizeRows' buffers between calls.
type resizeScratch struct{ win, line, t, th []uint8 }

var scratchPool = sync.Pool{New: func() any { return new(resizeScratch) }}

// grow returns (*b)[:n], reallocating when the capacity is short.
func grow(b *[]uint8, n int) []uint8 {
	if cap(*b) < n {
		*b = make([]uint8, n)
	}
	return (*b)[:n]
}

// deinterleave splits one [W, 3] row into planes [3, W].
func deinterleave(dst, src []uint8) {
	w := len(src) / 3
	r, g, b := dst[:w], dst[w:2*w], dst[2*w:3*w]
	for x := range w {
		p := src[3*x : 3*x+3 : 3*x+3]
		r[x], g[x], b[x] = p[0], p[1], p[2]
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
