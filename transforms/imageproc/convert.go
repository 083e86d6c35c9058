package imageproc

import (
	"image"
	"image/color"
)

// conversion carries what the decoded image alone does not say about PIL's view of the file.
type conversion struct {
	gray16    bool // a 16-bit grayscale PNG: PIL holds it as mode "I" and clips to 0..255
	composite bool // blend over opaque white (Options.AlphaOverWhite)
	// paletteLen is the number of PLTE entries (PNG), or -1. PIL gives palette indices past the
	// PLTE the gray (i, i, i) of its initial palette; Go's decoder gives them opaque black.
	paletteLen int
}

// toRGB converts a decoded image to PIL's RGB. Alpha is dropped (PIL convert("RGB")) or, with
// composite, blended over opaque white exactly as PIL's Image.alpha_composite does.
func toRGB(m image.Image, cv conversion) rgbImage {
	gray16, composite := cv.gray16, cv.composite
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := rgbImage{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	px := out.Pix
	switch m := m.(type) {
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := px[3*w*y : 3*w*(y+1)]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				v := gray16To8(row[2*x], row[2*x+1], gray16)
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		// Opaque in every decoder used here (PNG truecolour without tRNS, 24-bit BMP).
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 0xff { // premultiplied: recover the straight colour
					c := color.NRGBAModel.Convert(color.RGBA{r, g, bb, a}).(color.NRGBA)
					r, g, bb = c.R, c.G, c.B
				}
				o[3*x], o[3*x+1], o[3*x+2] = blend(r, g, bb, a, composite)
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				o[3*x], o[3*x+1], o[3*x+2] = blend(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3], composite)
			}
		}
	case *image.RGBA64:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				p := row[8*x : 8*x+8]
				r, g, bb := p[0], p[2], p[4]
				if gray16 {
					r = gray16To8(p[0], p[1], true)
					g, bb = r, r
				}
				o[3*x], o[3*x+1], o[3*x+2] = blend(r, g, bb, p[6], composite)
			}
		}
	case *image.NRGBA64:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				p := row[8*x : 8*x+8]
				r, g, bb := p[0], p[2], p[4]
				if gray16 {
					r = gray16To8(p[0], p[1], true)
					g, bb = r, r
				}
				o[3*x], o[3*x+1], o[3*x+2] = blend(r, g, bb, p[6], composite)
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i := range lut {
			c := color.NRGBA{uint8(i), uint8(i), uint8(i), 0xff} // PIL's initial palette
			if i < len(m.Palette) && (cv.paletteLen < 0 || i < cv.paletteLen) {
				c = color.NRGBAModel.Convert(m.Palette[i]).(color.NRGBA)
			}
			lut[i][0], lut[i][1], lut[i][2] = blend(c.R, c.G, c.B, c.A, composite)
		}
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := px[3*w*y : 3*w*(y+1)]
			for x, v := range row {
				c := &lut[v]
				o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := px[3*w*y : 3*w*(y+1)]
			cmykToRGB(o, row)
		}
	case *image.YCbCr:
		for y := range h {
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				o[3*x], o[3*x+1], o[3*x+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	default: // NYCbCrA (WebP with alpha) and anything else: through the colour model
		for y := range h {
			o := px[3*w*y : 3*w*(y+1)]
			for x := range w {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				o[3*x], o[3*x+1], o[3*x+2] = blend(c.R, c.G, c.B, c.A, composite)
			}
		}
	}
	return out
}

// gray16To8 maps a big-endian 16-bit gray sample to 8 bits: PIL's "I"→"RGB" clip for 16-bit
// grayscale PNGs, the high byte otherwise.
func gray16To8(hi, lo uint8, clip bool) uint8 {
	if !clip {
		return hi
	}
	if hi != 0 {
		return 255
	}
	return lo
}

// blend returns the straight colour (PIL convert("RGB") drops alpha) or, with composite, the
// colour of Image.alpha_composite(white, rgba) (Pillow's integer AlphaComposite.c with
// PRECISION_BITS 7; dst is opaque white).
func blend(r, g, b, a uint8, composite bool) (uint8, uint8, uint8) {
	if !composite || a == 0xff {
		return r, g, b
	}
	if a == 0 {
		return 255, 255, 255
	}
	const prec = 7
	sa := uint32(a)
	blendA := 255 * (255 - sa) // dst.a · (255 − src.a)
	outa255 := sa*255 + blendA // 255·255 for an opaque dst
	coef1 := sa * 255 * 255 * (1 << prec) / outa255
	coef2 := 255*(1<<prec) - coef1
	ch := func(s uint8) uint8 {
		t := uint32(s)*coef1 + 255*coef2 + 0x80<<prec
		return uint8((((t >> 8) + t) >> 8) >> prec)
	}
	return ch(r), ch(g), ch(b)
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c): nk = 255−K; out = clip(nk − nk·C/255) with
// MULDIV255's rounding. src is [W, 4] in PIL's CMYK convention (0 = no ink).
func cmykToRGB(dst, src []uint8) {
	for x := 0; 4*x+3 < len(src); x++ {
		p := src[4*x : 4*x+4]
		nk := 255 - int32(p[3])
		for c := range 3 {
			t := int32(p[c])*nk + 128
			v := nk - (((t >> 8) + t) >> 8)
			dst[3*x+c] = uint8(max(0, min(255, v)))
		}
	}
}
