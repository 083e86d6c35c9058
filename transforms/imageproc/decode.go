package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// rgbImage is a decoded image converted to RGB as PIL's Image.convert("RGB") would give it.
type rgbImage struct {
	W, H int
	Pix  []uint8 // [H, W, 3] interleaved R, G, B
	// recyclable: Pix belongs to this package alone (a decoded JPEG) and may go back to
	// pixPool once the image is no longer used.
	recyclable bool
}

// format is a container format recognised by its magic bytes.
type format int

const (
	formatUnknown format = iota
	formatJPEG
	formatPNG
	formatGIF
	formatBMP
	formatWebP
)

func (f format) String() string {
	return [...]string{"unknown", "JPEG", "PNG", "GIF", "BMP", "WebP"}[f]
}

func sniff(data []byte) format {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return formatJPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return formatGIF
	case bytes.HasPrefix(data, []byte("BM")):
		return formatBMP
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return formatWebP
	}
	return formatUnknown
}

// ErrTooLarge is wrapped by errors for images whose header declares more than MaxDecodePixels.
var ErrTooLarge = errors.New("image too large")

// checkSize enforces the decode cap on header dimensions, before any pixel buffer exists.
func checkSize(f format, w, h int, o Options) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("%v header declares an empty %dx%d image", f, w, h)
	}
	if w > maxSide || h > maxSide || w*h > o.MaxDecodePixels {
		return fmt.Errorf("%v header declares %dx%d = %d pixels, over the cap of %d (MaxDecodePixels): %w",
			f, w, h, int64(w)*int64(h), o.MaxDecodePixels, ErrTooLarge)
	}
	return nil
}

// decode reads data as one of the supported formats and converts it to RGB. Decoder panics
// (none are known, this is the last line of defence for untrusted input) become errors.
func decode(data []byte, o Options) (img rgbImage, err error) {
	f := sniff(data)
	defer func() {
		if r := recover(); r != nil {
			img, err = rgbImage{}, fmt.Errorf("%v decoder failed: %v", f, r)
		}
	}()
	switch f {
	case formatJPEG:
		return decodeJPEG(data, o)
	case formatPNG:
		return decodePNG(data, o)
	case formatGIF:
		return decodeGIF(data, o)
	case formatBMP:
		return decodeStd(f, data, o, bmp.DecodeConfig, bmp.Decode)
	case formatWebP:
		return decodeStd(f, data, o, webp.DecodeConfig, webp.Decode)
	}
	n := min(len(data), 8)
	return rgbImage{}, fmt.Errorf("unknown image format (first bytes % x)", data[:n])
}

// decodeStd decodes a format whose Go decoder output maps to PIL's RGB without format quirks.
func decodeStd(f format, data []byte, o Options,
	config func(io.Reader) (image.Config, error), dec func(io.Reader) (image.Image, error)) (rgbImage, error) {
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("%v header: %w", f, err)
	}
	if err := checkSize(f, cfg.Width, cfg.Height, o); err != nil {
		return rgbImage{}, err
	}
	m, err := dec(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("%v data: %w", f, err)
	}
	return toRGB(m, conversion{composite: o.AlphaOverWhite, paletteLen: -1}), nil
}

// decodeGIF decodes the first frame. PIL shows the first frame on the logical screen; a first
// frame smaller than the screen would need the background filled in, which this decoder refuses
// rather than guess.
func decodeGIF(data []byte, o Options) (rgbImage, error) {
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("GIF header: %w", err)
	}
	if err := checkSize(formatGIF, cfg.Width, cfg.Height, o); err != nil {
		return rgbImage{}, err
	}
	m, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("GIF data: %w", err)
	}
	if b := m.Bounds(); b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		return rgbImage{}, fmt.Errorf("GIF first frame %v does not cover the %dx%d screen", b, cfg.Width, cfg.Height)
	}
	// PIL's convert("RGB") of a GIF ignores its transparency index.
	return toRGB(m, conversion{paletteLen: -1}), nil
}

// pngHeader is the part of IHDR the conversion needs: PIL opens 16-bit grayscale as mode "I"
// (and converts it to RGB by clipping to 0..255), every other 16-bit type by keeping the high
// byte.
type pngHeader struct {
	width, height    int
	depth, colorType uint8
}

func readPNGHeader(data []byte) (pngHeader, error) {
	// signature (8) + length (4) + "IHDR" (4) + 13 bytes of fields
	if len(data) < 8+8+13 || string(data[12:16]) != "IHDR" || binary.BigEndian.Uint32(data[8:12]) != 13 {
		return pngHeader{}, errors.New("PNG header: missing IHDR chunk")
	}
	return pngHeader{
		width:     int(binary.BigEndian.Uint32(data[16:20])),
		height:    int(binary.BigEndian.Uint32(data[20:24])),
		depth:     data[24],
		colorType: data[25],
	}, nil
}

// pngPaletteLen returns the number of PLTE entries, or -1 when there is no PLTE before IDAT.
func pngPaletteLen(data []byte) int {
	for i := 8; i+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if typ == "PLTE" {
			return n / 3
		}
		if typ == "IDAT" || n < 0 || n > len(data) {
			return -1
		}
		i += 12 + n
	}
	return -1
}

func decodePNG(data []byte, o Options) (rgbImage, error) {
	hdr, err := readPNGHeader(data)
	if err != nil {
		return rgbImage{}, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("PNG header: %w", err)
	}
	if err := checkSize(formatPNG, cfg.Width, cfg.Height, o); err != nil {
		return rgbImage{}, err
	}
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("PNG data: %w", err)
	}
	return toRGB(m, conversion{
		gray16:     hdr.colorType == 0 && hdr.depth == 16,
		composite:  o.AlphaOverWhite,
		paletteLen: pngPaletteLen(data),
	}), nil
}
