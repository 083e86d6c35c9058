package jpeg

// Upsampling (jdsample.c, fancy upsampling on, as Pillow leaves it) and
// colour conversion (jdcolor.c), then Pillow's CMYK inversion ("CMYK;I").
// Merged upsampling (jdmerge.c) is not used by libjpeg-turbo when fancy
// upsampling is on (jdmaster.c use_merged_upsample), so it is not here.

type upMethod int

const (
	upFull upMethod = iota
	upH2V1Fancy
	upH1V2Fancy
	upH2V2Fancy
	upBox
)

type colorSpace int

const (
	csGray colorSpace = iota
	csYCbCr
	csRGB
	csCMYK
	csYCCK
)

// jpegColorSpace is libjpeg's default_decompress_parms guess.
func (d *decoder) jpegColorSpace() colorSpace {
	switch len(d.comps) {
	case 1:
		return csGray
	case 3:
		if d.jfif {
			return csYCbCr
		}
		if d.adobe {
			if d.adobeTransform == 0 {
				return csRGB
			}
			return csYCbCr
		}
		if d.comps[0].id == 82 && d.comps[1].id == 71 && d.comps[2].id == 66 {
			return csRGB
		}
		return csYCbCr
	default:
		if d.adobe && d.adobeTransform != 0 {
			return csYCCK
		}
		return csCMYK
	}
}

var (
	crrTab, cbbTab, crgTab, cbgTab [256]int32
)

func init() {
	fix := func(x float64) int32 { return int32(x*65536 + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		crrTab[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbbTab[i] = (fix(1.77200)*x + 1<<15) >> 16
		crgTab[i] = -fix(0.71414) * x
		cbgTab[i] = -fix(0.34414)*x + 1<<15
	}
}

// clampTab[(v+512)&1023] = clamp(v, 0, 255) for v in [-512, 511], the range
// of every sum of a sample and a colour table entry.
var clampTab [1024]uint8

func init() {
	for i := range clampTab {
		clampTab[i] = clamp255(int32(i - 512))
	}
}

func clamp255(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

type upsampler struct {
	c          *component
	method     upMethod
	hexp, vexp int
	buf        []uint8 // one upsampled row (width >= image width, plus SIMD slack)
	colsum     []int32
	csb        []int16 // AVX2 path: column sums with one replicated sample each side
}

// planeSlack is how far past a plane's last sample the AVX2 kernels may read.
const planeSlack = 32

func (d *decoder) upsamplers() ([]upsampler, error) {
	ups := make([]upsampler, len(d.comps))
	for i := range d.comps {
		c := &d.comps[i]
		u := &ups[i]
		u.c = c
		hin, vin, hout, vout := c.h, c.v, d.hmax, d.vmax
		switch {
		case hin == hout && vin == vout:
			u.method = upFull
		case hin*2 == hout && vin == vout:
			u.method, u.hexp, u.vexp = upH2V1Fancy, 2, 1
			if c.dw <= 2 {
				u.method = upBox
			}
		case hin == hout && vin*2 == vout:
			u.method = upH1V2Fancy
		case hin*2 == hout && vin*2 == vout:
			u.method, u.hexp, u.vexp = upH2V2Fancy, 2, 2
			if c.dw <= 2 {
				u.method = upBox
			}
		case hout%hin == 0 && vout%vin == 0:
			u.method, u.hexp, u.vexp = upBox, hout/hin, vout/vin
		default:
			return nil, errf(ErrUnsupported, "component %d: fractional sampling %dx%d within %dx%d (libjpeg refuses it too)", i, hin, vin, hout, vout)
		}
		if u.method != upFull {
			n16 := (c.dw + 15) &^ 15
			u.buf = make([]uint8, max(c.bw*8*u.hexpOr1(), 2*n16)+planeSlack)
			u.colsum = make([]int32, c.bw*8+2)
			u.csb = make([]int16, n16+2+16)
		}
	}
	return ups, nil
}

func (u *upsampler) hexpOr1() int {
	if u.hexp < 1 {
		return 1
	}
	return u.hexp
}

func (u *upsampler) planeRow(r int) []uint8 {
	c := u.c
	if r < 0 {
		r = 0
	}
	if r > c.dh-1 {
		r = c.dh - 1
	}
	return c.plane[r*c.stride : r*c.stride+c.stride]
}

// planeRowSIMD is planeRow extended by the samples the AVX2 kernels may read past the row
// (into the next row or the plane's slack).
func (u *upsampler) planeRowSIMD(r int) []uint8 {
	c := u.c
	r = min(max(r, 0), c.dh-1)
	return c.plane[r*c.stride : r*c.stride+(c.dw+15)&^15]
}

// row returns upsampled output row y (at least width samples).
func (u *upsampler) row(y, width int) []uint8 {
	c := u.c
	switch u.method {
	case upFull:
		return c.plane[y*c.stride : y*c.stride+width]
	case upH2V1Fancy:
		if useAVX2 {
			s := u.planeRowSIMD(y)
			upH2(u.buf, u.csb, s, s, c.dw, 4, 8) // column sums 4·s: (12s + 4l + 4) >> 4 = (3s + l + 1) >> 2
			break
		}
		h2v1Fancy(u.buf, u.planeRow(y), c.dw)
	case upH1V2Fancy:
		i := y / 2
		near := u.planeRow(i)
		if y&1 == 0 {
			far := u.planeRow(i - 1)
			for x := 0; x < c.dw; x++ {
				u.buf[x] = uint8((3*int(near[x]) + int(far[x]) + 1) >> 2)
			}
		} else {
			far := u.planeRow(i + 1)
			for x := 0; x < c.dw; x++ {
				u.buf[x] = uint8((3*int(near[x]) + int(far[x]) + 2) >> 2)
			}
		}
	case upH2V2Fancy:
		i := y / 2
		far := i - 1
		if y&1 == 1 {
			far = i + 1
		}
		if useAVX2 {
			upH2(u.buf, u.csb, u.planeRowSIMD(i), u.planeRowSIMD(far), c.dw, 8, 7)
			break
		}
		h2v2Fancy(u.buf, u.colsum, u.planeRow(i), u.planeRow(far), c.dw)
	case upBox:
		src := u.planeRow(y / u.vexp)
		for x := 0; x < width; x++ {
			u.buf[x] = src[x/u.hexp]
		}
	}
	return u.buf[:width]
}

// upH2 is fancy horizontal 2× upsampling of the column sums 3·near + far with the AVX2
// kernels: dst[2i] = (3·cs[i] + cs[i−1] + r0) >> 4, dst[2i+1] = (3·cs[i] + cs[i+1] + r1) >> 4,
// the edge sums replicated (which gives jdsample.c's edge formulas). near and far hold dw
// samples rounded up to 16; csb and dst have room for the rounding.
func upH2(dst []uint8, csb []int16, near, far []uint8, dw, r0, r1 int) {
	n16 := (dw + 15) &^ 15
	_, _ = near[n16-1], far[n16-1]
	_ = csb[n16+16+1]
	_ = dst[2*n16-1]
	colsumAVX2(&csb[1], &near[0], &far[0], dw)
	csb[0], csb[dw+1] = csb[1], csb[dw]
	upH2AVX2(&dst[0], &csb[0], dw, r0, r1)
}

func h2v1Fancy(dst, s []uint8, dw int) {
	_ = s[dw-1]
	_ = dst[2*dw-1]
	v := int(s[0])
	dst[0] = s[0]
	dst[1] = uint8((v*3 + int(s[1]) + 2) >> 2)
	for i := 1; i < dw-1; i++ {
		v := int(s[i]) * 3
		dst[2*i] = uint8((v + int(s[i-1]) + 1) >> 2)
		dst[2*i+1] = uint8((v + int(s[i+1]) + 2) >> 2)
	}
	i := dw - 1
	dst[2*i] = uint8((int(s[i])*3 + int(s[i-1]) + 1) >> 2)
	dst[2*i+1] = s[i]
}

func h2v2Fancy(dst []uint8, cs []int32, near, far []uint8, dw int) {
	cs = cs[:dw]
	near, far = near[:dw], far[:dw]
	for x := range cs {
		cs[x] = 3*int32(near[x]) + int32(far[x])
	}
	_ = dst[2*dw-1]
	dst[0] = uint8((cs[0]*4 + 8) >> 4)
	dst[1] = uint8((cs[0]*3 + cs[1] + 7) >> 4)
	for i := 1; i < dw-1; i++ {
		t := cs[i] * 3
		dst[2*i] = uint8((t + cs[i-1] + 8) >> 4)
		dst[2*i+1] = uint8((t + cs[i+1] + 7) >> 4)
	}
	i := dw - 1
	dst[2*i] = uint8((cs[i]*3 + cs[i-1] + 8) >> 4)
	dst[2*i+1] = uint8((cs[i]*4 + 7) >> 4)
}

// outputter upsamples, converts colour and packs rows into the image; sequential
// single-scan images are converted band by band while the decoder's planes are still in cache.
type outputter struct {
	d    *decoder
	ups  []upsampler
	cs   colorSpace
	img  *Image
	rows [][]uint8
	next int // next output row
}

func (d *decoder) newOutputter() (*outputter, error) {
	ups, err := d.upsamplers()
	if err != nil {
		return nil, err
	}
	W, H := d.width, d.height
	img := &Image{Width: W, Height: H, Orientation: d.orientation}
	switch len(d.comps) {
	case 1:
		img.Mode = "L"
	case 3:
		img.Mode = "RGB"
	default:
		img.Mode = "CMYK"
	}
	if n := W * H * len(d.comps); cap(d.pix) >= n {
		img.Pix = d.pix[:n]
	} else {
		img.Pix = make([]uint8, n)
	}
	return &outputter{d: d, ups: ups, cs: d.jpegColorSpace(), img: img, rows: make([][]uint8, len(d.comps))}, nil
}

// emitReady produces every output row whose plane rows are decoded: decoded(c) is how many
// rows of c's plane are final. Output row y reads plane rows up to y·v/vmax + 1 (the fancy
// upsampler's far row), clamped to the plane.
func (o *outputter) emitReady(decoded func(c *component) int) {
	d := o.d
	y := o.next
	for ; y < d.height; y++ {
		ok := true
		for i := range d.comps {
			c := &d.comps[i]
			if got := decoded(c); got < c.dh && y*c.v/d.vmax+1 >= got {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
	}
	o.emit(y)
}

// emit produces output rows [o.next, upTo).
func (o *outputter) emit(upTo int) {
	W := o.d.width
	nc := len(o.ups)
	for y := o.next; y < upTo; y++ {
		for i := range o.ups {
			o.rows[i] = o.ups[i].row(y, W)
		}
		rows := o.rows
		out := o.img.Pix[y*W*nc : (y+1)*W*nc]
		switch o.cs {
		case csGray:
			copy(out, rows[0][:W])
		case csYCbCr:
			yccRowFast(out, rows[0][:W], rows[1][:W], rows[2][:W])
		case csRGB:
			r, g, b := rows[0][:W], rows[1][:W], rows[2][:W]
			for x := 0; x < W; x++ {
				out[3*x], out[3*x+1], out[3*x+2] = r[x], g[x], b[x]
			}
		case csCMYK:
			// Pillow's "CMYK;I" raw mode inverts every channel.
			c, m, yy, k := rows[0][:W], rows[1][:W], rows[2][:W], rows[3][:W]
			for x := 0; x < W; x++ {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = ^c[x], ^m[x], ^yy[x], ^k[x]
			}
		case csYCCK:
			yr, cb, cr, k := rows[0][:W], rows[1][:W], rows[2][:W], rows[3][:W]
			for x := 0; x < W; x++ {
				Y := int32(yr[x])
				c := clamp255(255 - (Y + crrTab[cr[x]]))
				m := clamp255(255 - (Y + (cbgTab[cb[x]]+crgTab[cr[x]])>>16))
				ye := clamp255(255 - (Y + cbbTab[cb[x]]))
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = ^c, ^m, ^ye, ^k[x]
			}
		}
	}
	o.next = max(o.next, upTo)
}

// yccRowFast is yccRow with the AVX2 kernel for whole groups of 16 pixels.
func yccRowFast(out, yr, cb, cr []uint8) {
	n := 0
	if useAVX2 {
		n = len(yr) &^ 15
		if n > 0 {
			_, _, _ = cb[n-1], cr[n-1], out[3*n-1]
			yccRGBAVX2(&out[0], &yr[0], &cb[0], &cr[0], n)
		}
	}
	yccRow(out[3*n:], yr[n:], cb[n:], cr[n:])
}

func yccRow(out, yr, cb, cr []uint8) {
	out = out[:3*len(yr)]
	cb, cr = cb[:len(yr)], cr[:len(yr)]
	for x, Y := range yr {
		y := int32(Y) + 512
		b, r := cb[x], cr[x]
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0] = clampTab[(y+crrTab[r])&1023]
		o[1] = clampTab[(y+(cbgTab[b]+crgTab[r])>>16)&1023]
		o[2] = clampTab[(y+cbbTab[b])&1023]
	}
}
