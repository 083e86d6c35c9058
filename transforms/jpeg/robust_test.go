package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	stdjpeg "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBrokenCorpus: every file of the shared broken-images corpus is refused
// with an error (the JPEGs are truncated, the PNGs are not JPEGs); none panics.
func TestBrokenCorpus(t *testing.T) {
	dir := "../../../shared/corpora/broken-images"
	if _, err := os.Stat(dir); err != nil {
		dir = "/work/shared/corpora/broken-images"
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Skipf("broken-images corpus not found (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data, Options{})
		if err == nil {
			t.Errorf("%s: decoded %dx%d, want an error", filepath.Base(f), img.Width, img.Height)
			continue
		}
		if strings.HasSuffix(f, ".jpg") && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v, want ErrTruncated", filepath.Base(f), err)
		}
	}
}

func goldenBytes(t testing.TB, name string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata/golden", name+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEveryTruncation: every prefix of a baseline and a progressive file is
// an error (never a panic, never a partial image).
func TestEveryTruncation(t *testing.T) {
	for _, name := range []string{"pil_420_33x31_q90", "prog_420_37x29", "cjpeg_restart1_420"} {
		data := goldenBytes(t, name)
		for n := 0; n < len(data)-2; n++ {
			if img, err := Decode(data[:n], Options{}); err == nil {
				t.Fatalf("%s cut to %d of %d bytes: decoded %dx%d", name, n, len(data), img.Width, img.Height)
			}
		}
	}
}

func TestMaxPixelsAndConfig(t *testing.T) {
	data := goldenBytes(t, "photo_160x120_420_q90_progressive")
	cfg, err := DecodeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != (Config{Width: 160, Height: 120, Components: 3, Progressive: true}) {
		t.Fatalf("config = %+v", cfg)
	}
	if _, err := Decode(data, Options{MaxPixels: 160*120 - 1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MaxPixels: err = %v, want ErrTooLarge", err)
	}
	if _, err := Decode(data, Options{MaxPixels: 160 * 120}); err != nil {
		t.Fatalf("MaxPixels at the limit: %v", err)
	}
	cfg, err = DecodeConfig(goldenBytes(t, "exif_orientation6"))
	if err != nil || cfg.Orientation != 6 {
		t.Fatalf("exif config = %+v, %v", cfg, err)
	}
}

// TestHugeHeaderNoAllocation: a header declaring 65500x65500 is refused by
// MaxPixels before any buffer is allocated, and DecodeConfig allocates
// nothing proportional to the image.
func TestHugeHeaderNoAllocation(t *testing.T) {
	data := append([]byte(nil), goldenBytes(t, "pil_444_7x5_q90")...)
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	data[i+5], data[i+6], data[i+7], data[i+8] = 0xFF, 0xDC, 0xFF, 0xDC
	var m0, m1 runtimeMem
	m0.read()
	if _, err := Decode(data, Options{MaxPixels: 1 << 24}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	m1.read()
	if d := m1.total - m0.total; d > 256<<10 {
		t.Fatalf("allocated %d bytes before refusing a 65500x65500 header", d)
	}
	var ms1, ms2 runtimeMem
	ms1.read()
	for i := 0; i < 10; i++ {
		if _, err := DecodeConfig(data); err != nil {
			t.Fatal(err)
		}
	}
	ms2.read()
	if d := ms2.total - ms1.total; d > 1<<20 {
		t.Fatalf("DecodeConfig allocated %d bytes for 10 calls", d)
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		kind error
		msg  string
	}{
		{"empty", nil, ErrFormat, "SOI"},
		{"png", []byte("\x89PNG\r\n\x1a\n"), ErrFormat, "SOI"},
		{"soi only", []byte{0xFF, 0xD8}, ErrTruncated, "no SOS"},
		{"arithmetic", goldenBytes(t, "err_arithmetic"), ErrUnsupported, "arithmetic-coded JPEG: unsupported by glmflow's decoder"},
		{"eoi before scan", []byte{0xFF, 0xD8, 0xFF, 0xD9}, ErrFormat, "EOI"},
		{"no eoi", goldenBytes(t, "no_eoi"), ErrTruncated, "scan 1"},
	}
	for _, tc := range tests {
		_, err := Decode(tc.data, Options{})
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.kind, tc.msg)
		}
	}
}

// checkPairsMatchSingles decodes data again with one AC symbol per table lookup and fails
// unless the result (pixels, warnings, error) is the same as the two-symbol decode's.
func checkPairsMatchSingles(t *testing.T, data []byte, img *Image, st decodeStats, err error) {
	t.Helper()
	usePairs = false
	img1, st1, err1 := decodeWithStats(data, Options{MaxPixels: 1 << 20}, true)
	usePairs = true
	if fmt.Sprint(err) != fmt.Sprint(err1) || st != st1 {
		t.Fatalf("pairs: err %v, %+v; singles: err %v, %+v", err, st, err1, st1)
	}
	if err == nil && !bytes.Equal(img.Pix, img1.Pix) {
		t.Fatalf("pairs and singles decode different pixels: %s", firstDiff(img.Pix, img1.Pix, img.Width, img.Channels()))
	}
}

// FuzzDecode: no panics; the two-symbol AC decoder agrees with one symbol at a time; DecodeConfig agrees with Decode; on inputs the
// standard library also decodes, dimensions match and pixels are close (the
// two decoders round differently: within a few levels on average).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.jpg")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, cerr := DecodeConfig(data)
		if cerr != nil {
			if _, err := Decode(data, Options{}); err == nil {
				t.Fatalf("Decode succeeded where DecodeConfig failed: %v", cerr)
			}
			return
		}
		if cfg.Width*cfg.Height > 1<<20 {
			return
		}
		img, st, err := decodeWithStats(data, Options{MaxPixels: 1 << 20}, true)
		checkPairsMatchSingles(t, data, img, st, err)
		if err != nil {
			return
		}
		if img.Width != cfg.Width || img.Height != cfg.Height || len(img.Pix) != img.Width*img.Height*img.Channels() {
			t.Fatalf("image %dx%d (%d bytes) vs config %+v", img.Width, img.Height, len(img.Pix), cfg)
		}
		std, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil || img.Mode != "RGB" {
			return
		}
		b := std.Bounds()
		if b.Dx() != img.Width || b.Dy() != img.Height {
			t.Fatalf("stdlib %v vs %dx%d", b, img.Width, img.Height)
		}
		// Compare only streams libjpeg decodes without a warning (corrupt
		// data is concealed differently by the two decoders) and without
		// coefficients no 8-bit encoder produces (image/jpeg's IDCT has other
		// integer widths than libjpeg-turbo's; seed 4b8cd7393776a406, a
		// coefficient of 23568: this decoder matches Pillow exactly,
		// image/jpeg is 23 levels off).
		if st.warnings != 0 || st.wideBlocks != 0 || cfg.Progressive {
			// Progressive: on fuzzed scan scripts image/jpeg and libjpeg
			// disagree (seed e6ee17d7: this decoder matches Pillow exactly,
			// image/jpeg does not), so only dimensions are compared.
			return
		}
		// image/jpeg upsamples chroma by replication and libjpeg by a triangle
		// filter, so compare luma, which chroma rounding barely moves.
		var sum, n float64
		for y := 0; y < img.Height; y++ {
			for x := 0; x < img.Width; x++ {
				r, g, bl, _ := std.At(b.Min.X+x, b.Min.Y+y).RGBA()
				p := img.Pix[(y*img.Width+x)*3:]
				ls := 0.299*float64(r>>8) + 0.587*float64(g>>8) + 0.114*float64(bl>>8)
				lo := 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
				sum += (ls - lo) * (ls - lo)
				n++
			}
		}
		// 6 levels: on tiny saturated images (seed a955052b971739e8, 20x10,
		// Pillow-exact here) the two decoders' luma differs by 4.2 levels rms.
		if rms := math.Sqrt(sum / n); rms > 6 {
			t.Fatalf("luma rms difference to image/jpeg %.2f levels, want <= 6", rms)
		}
	})
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.total = ms.TotalAlloc
}
