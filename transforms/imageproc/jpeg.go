package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	stdjpeg "image/jpeg"
	"sync"

	"github.com/glmflow/glmflow/transforms/jpeg"
)

// decodeJPEG is the one place JPEG bytes become pixels. transforms/jpeg decodes bit-exactly as
// Pillow 9.4 (libjpeg-turbo 2.1.5) does, and the result is converted as PIL's convert("RGB")
// does: "L" replicated, "CMYK" through cmyk2rgb.
//
// Files transforms/jpeg reports as ErrUnsupported (arithmetic coding, progressive scripts that
// would need libjpeg's block smoothing, fractional sampling) fall back to the standard
// library's decoder, which is NOT bit-exact (box chroma upsampling, its own IDCT: typically a
// few levels off PIL); when the standard library cannot decode them either, the
// transforms/jpeg error is returned.
func decodeJPEG(data []byte, o Options) (rgbImage, error) {
	cfg, err := jpeg.DecodeConfig(data)
	if err != nil && !errors.Is(err, jpeg.ErrUnsupported) {
		return rgbImage{}, fmt.Errorf("JPEG header: %w", err)
	}
	if err == nil {
		if err := checkSize(formatJPEG, cfg.Width, cfg.Height, o); err != nil {
			return rgbImage{}, err
		}
	}
	var img rgbImage
	orientation := 0
	if err == nil {
		var m *jpeg.Image
		m, err = jpeg.Decode(data, jpeg.Options{MaxPixels: o.MaxDecodePixels, Pix: getPix()})
		if err == nil {
			img, orientation = jpegToRGB(m), m.Orientation
			if &img.Pix[0] != &m.Pix[0] {
				putPix(m.Pix) // converted into a new buffer
			}
			img.recyclable = true
		}
	}
	if err != nil {
		if !errors.Is(err, jpeg.ErrUnsupported) {
			return rgbImage{}, fmt.Errorf("JPEG data: %w", err)
		}
		var ferr error
		if img, ferr = decodeJPEGStd(data, o); ferr != nil {
			return rgbImage{}, fmt.Errorf("JPEG data: %w (standard library fallback: %v)", err, ferr)
		}
		orientation = exifOrientation(data)
	}
	if o.ExifTranspose {
		t := transpose(img, orientation)
		if img.recyclable && &t.Pix[0] != &img.Pix[0] {
			putPix(img.Pix)
			t.recyclable = true
		}
		img = t
	}
	return img, nil
}

// pixPool recycles the decoded pixel buffers of JPEGs, which nothing outside this package
// sees (rgbImage.recyclable): Process returns them once the image is resized, so that
// decoding image after image does not allocate and zero a new buffer each time.
var pixPool sync.Pool // of *[]uint8

// getPix returns a recycled buffer (contents undefined; jpeg.Decode overwrites what it uses),
// or nil.
func getPix() []uint8 {
	if p, ok := pixPool.Get().(*[]uint8); ok {
		return *p
	}
	return nil
}

func putPix(b []uint8) {
	if cap(b) > 0 {
		pixPool.Put(&b)
	}
}

// jpegToRGB converts a transforms/jpeg image (PIL's mode and values) to RGB as PIL's
// convert("RGB").
func jpegToRGB(m *jpeg.Image) rgbImage {
	w, h := m.Width, m.Height
	switch m.Mode {
	case "RGB":
		return rgbImage{W: w, H: h, Pix: m.Pix}
	case "L":
		out := rgbImage{W: w, H: h, Pix: make([]uint8, 3*w*h)}
		for i, v := range m.Pix[:w*h] {
			o := out.Pix[3*i : 3*i+3 : 3*i+3]
			o[0], o[1], o[2] = v, v, v
		}
		return out
	default: // "CMYK", PIL's convention (0 = no ink)
		out := rgbImage{W: w, H: h, Pix: make([]uint8, 3*w*h)}
		cmykToRGB(out.Pix, m.Pix[:4*w*h])
		return out
	}
}

// decodeJPEGStd decodes with the standard library (the ErrUnsupported fallback).
func decodeJPEGStd(data []byte, o Options) (rgbImage, error) {
	cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, err
	}
	if err := checkSize(formatJPEG, cfg.Width, cfg.Height, o); err != nil {
		return rgbImage{}, err
	}
	m, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, err
	}
	return toRGB(m, conversion{paletteLen: -1}), nil
}
