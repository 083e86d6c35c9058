package imageproc

import (
	"bytes"
	"fmt"
	"image/jpeg"
)

// decodeJPEG is the one place JPEG bytes become pixels. It uses the standard library's decoder
// until transforms/jpeg (bit-exact with libjpeg-turbo as PIL uses it) is available; the Go
// decoder's IDCT and chroma upsampling differ from libjpeg-turbo's by a few levels.
func decodeJPEG(data []byte, o Options) (rgbImage, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("JPEG header: %w", err)
	}
	if err := checkSize(formatJPEG, cfg.Width, cfg.Height, o); err != nil {
		return rgbImage{}, err
	}
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return rgbImage{}, fmt.Errorf("JPEG data: %w", err)
	}
	img := toRGB(m, conversion{paletteLen: -1})
	if o.ExifTranspose {
		img = transpose(img, exifOrientation(data))
	}
	return img, nil
}
