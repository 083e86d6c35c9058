package jpeg

import (
	"errors"
	"fmt"
)

// Image is a decoded JPEG with PIL's mode and pixel values.
type Image struct {
	Width, Height int
	// Mode is PIL's mode: "L" (1 channel), "RGB" (3) or "CMYK" (4).
	Mode string
	// Pix holds the samples row-major: [Height, Width, channels].
	Pix []uint8
	// Orientation is the EXIF orientation tag (1..8) of the first Exif APP1
	// segment, 0 when absent. It is reported, never applied (PIL's Image.open
	// does not apply it either).
	Orientation int
}

// Channels returns the number of samples per pixel for the image's mode.
func (m *Image) Channels() int { return channelsOf(m.Mode) }

// Config is what DecodeConfig reads from the headers.
type Config struct {
	Width, Height, Components int
	Progressive               bool
	Orientation               int
}

// Options controls Decode.
type Options struct {
	// MaxPixels refuses images whose Width*Height exceeds it, before any
	// pixel or coefficient buffer is allocated. 0 means no limit.
	MaxPixels int
	// Pix, when its capacity holds the image (Width·Height·channels bytes), receives the
	// pixels: Image.Pix is then Pix[:n], so a caller decoding many images can reuse one
	// buffer. Otherwise Decode allocates.
	Pix []uint8
}

// Error kinds, usable with errors.Is.
var (
	// ErrFormat: the data is not a JPEG this decoder (and PIL) can decode:
	// malformed markers, bad tables, impossible parameters.
	ErrFormat = errors.New("jpeg: invalid format")
	// ErrTruncated: the data ends before the image is complete.
	ErrTruncated = errors.New("jpeg: truncated data")
	// ErrUnsupported: a valid JPEG feature glmflow's decoder does not
	// implement (arithmetic coding, lossless/hierarchical frames).
	ErrUnsupported = errors.New("jpeg: unsupported feature")
	// ErrTooLarge: the image exceeds Options.MaxPixels.
	ErrTooLarge = errors.New("jpeg: image too large")
)

// decodeError carries a kind (one of the Err* values) and a message that
// names the marker/field and byte offset involved.
type decodeError struct {
	kind error
	msg  string
}

func (e *decodeError) Error() string { return "jpeg: " + e.msg }
func (e *decodeError) Unwrap() error { return e.kind }

func errf(kind error, format string, args ...any) error {
	return &decodeError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func channelsOf(mode string) int {
	switch mode {
	case "L":
		return 1
	case "RGB":
		return 3
	case "CMYK":
		return 4
	}
	return 0
}

// DecodeConfig parses the markers up to the first SOS (or EOI) and returns
// the frame parameters. It never allocates pixel or coefficient buffers.
func DecodeConfig(data []byte) (Config, error) {
	d := &decoder{data: data}
	if err := d.readHeaders(); err != nil {
		return Config{}, err
	}
	return Config{Width: d.width, Height: d.height, Components: len(d.comps),
		Progressive: d.progressive, Orientation: d.orientation}, nil
}

// Decode decodes a complete JPEG file. The pixels are bit-exact with what
// Debian bookworm's Pillow 9.4 (libjpeg-turbo 2.1.5, default settings) returns
// from np.asarray(Image.open(f)); see the package doc for the exact scope.
func Decode(data []byte, o Options) (*Image, error) {
	img, _, err := decode(data, o)
	return img, err
}

// decodeStats describes a decode beyond its pixels (for tests).
type decodeStats struct {
	// warnings counts libjpeg warnings (corrupt-data concealments).
	warnings int
	// wideBlocks counts blocks with a dequantized coefficient outside the
	// range an 8-bit encoder can produce (|v| > 2047), where IDCTs with
	// other integer widths than libjpeg-turbo's SIMD one disagree; counted
	// only when asked for.
	wideBlocks int
}

// decode also returns how many libjpeg warnings (corrupt-data concealments)
// the decode produced.
func decode(data []byte, o Options) (*Image, int, error) {
	img, st, err := decodeWithStats(data, o, false)
	return img, st.warnings, err
}

func decodeWithStats(data []byte, o Options, countWide bool) (*Image, decodeStats, error) {
	d := &decoder{data: data, countWide: countWide, pix: o.Pix}
	d.scratch = scratchPool.Get().(*scratch)
	d.br.buf = d.scratch.seg[:0]
	defer func() {
		d.scratch.seg = d.br.buf[:0]
		scratchPool.Put(d.scratch)
	}()
	if err := d.readHeaders(); err != nil {
		return nil, decodeStats{}, err
	}
	if o.MaxPixels > 0 && int64(d.width)*int64(d.height) > int64(o.MaxPixels) {
		return nil, decodeStats{}, errf(ErrTooLarge, "SOF: %dx%d = %d pixels exceeds MaxPixels %d",
			d.width, d.height, int64(d.width)*int64(d.height), o.MaxPixels)
	}
	if err := d.decodeScans(); err != nil {
		return nil, decodeStats{}, err
	}
	d.out.emit(d.height)
	return d.out.img, decodeStats{warnings: d.warnings, wideBlocks: d.wideBlocks}, nil
}

// wideBlock reports whether a block has a dequantized coefficient outside
// [-2047, 2047] (see decodeStats.wideBlocks).
func wideBlock(coef, q *[64]int16) bool {
	for i, c := range coef {
		if v := int32(c) * int32(q[i]); v > 2047 || v < -2047 {
			return true
		}
	}
	return false
}
