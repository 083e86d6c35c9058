package imageproc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/transforms/jpeg"
)

// corpus is the shared robustness corpus (../shared/corpora from the repository root); tests
// that need more than the few files copied into testdata run over it when it is present.
var corpus = filepath.Join("..", "..", "..", "shared", "corpora")

// TestDecodeMatchesPIL checks every PNG/GIF/BMP/WebP golden: PIL's convert("RGB") bytes and the
// alpha-over-white variant, or an error where PIL fails too.
func TestDecodeMatchesPIL(t *testing.T) {
	g := loadGoldens(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range g.PNG {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		want := g.PNG[name]
		data := readTestdata(t, filepath.Join("png", name))
		for _, composite := range []bool{false, true} {
			o := DefaultOptions()
			o.AlphaOverWhite = composite
			img, err := decode(data, o)
			if want.Error != "" {
				if err == nil {
					t.Errorf("%s: decoded, PIL fails with %s", name, want.Error)
				}
				continue
			}
			if err != nil {
				if strings.HasPrefix(name, "x") { // PIL skips CRC checks; Go does not
					continue
				}
				t.Errorf("%s: %v", name, err)
				continue
			}
			wantSHA := want.RGB
			if composite {
				wantSHA = want.Composite
			}
			if img.W != want.W || img.H != want.H || sha(img.Pix) != wantSHA {
				t.Errorf("%s (PIL mode %s, composite %v): %dx%d, pixels differ from PIL", name, want.Mode, composite, img.W, img.H)
			}
		}
	}
}

// TestDecodePNGSuite runs the whole PngSuite: valid files decode to the right size, x*.png
// files fail with an error that says what is wrong.
func TestDecodePNGSuite(t *testing.T) {
	dir := filepath.Join(corpus, "pngsuite")
	files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(files) == 0 {
		t.Skipf("no PngSuite at %s", dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		img, err := Process(data, DefaultOptions())
		switch {
		case strings.HasPrefix(name, "x"):
			if err == nil {
				t.Errorf("%s: corrupt file accepted", name)
			} else if !strings.Contains(err.Error(), "PNG") && !strings.Contains(err.Error(), "unknown image format") {
				t.Errorf("%s: error %q does not name the format", name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case len(img.Rows) != img.Grid[1]*img.Grid[2]*588:
			t.Errorf("%s: %d bytes for grid %v", name, len(img.Rows), img.Grid)
		}
	}
}

func TestBrokenImagesFail(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "broken", "*"))
	more, _ := filepath.Glob(filepath.Join(corpus, "broken-images", "*"))
	files = append(files, more...)
	if len(files) < 4 {
		t.Fatalf("only %d broken images", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Process(data, DefaultOptions())
		if err == nil {
			t.Errorf("%s: broken file accepted", filepath.Base(f))
			continue
		}
		if !strings.Contains(err.Error(), "PNG") && !strings.Contains(err.Error(), "JPEG") &&
			!strings.Contains(err.Error(), "unknown image format") {
			t.Errorf("%s: error %q does not name the format", filepath.Base(f), err)
		}
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, {}, []byte("hello world"), []byte("\x89PNG\r\n\x1a\n"), {0xFF, 0xD8, 0xFF}, []byte("GIF89a"), []byte("BM"), []byte("RIFF\x00\x00\x00\x00WEBP")} {
		if _, err := Process(data, DefaultOptions()); err == nil {
			t.Errorf("%q accepted", data)
		}
	}
}

// pngHeaderOnly is a valid PNG signature + IHDR declaring w×h RGB, and nothing else.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0}
	ihdr[0], ihdr[1], ihdr[2], ihdr[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	writeChunk(&b, "IHDR", ihdr)
	return b.Bytes()
}

// TestHugeHeaderRefusedBeforeAllocating: a header declaring 100,000 × 100,000 pixels is refused
// from the header alone, allocating no more than a few KiB.
func TestHugeHeaderRefusedBeforeAllocating(t *testing.T) {
	cases := map[string][]byte{
		"png":  pngHeaderOnly(100000, 100000),
		"png2": pngHeaderOnly(60000, 60000),
		"jpeg": jpegHeaderOnly(60000, 60000),
	}
	for name, data := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Process(data, DefaultOptions())
		runtime.ReadMemStats(&after)
		if err == nil || !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: allocated %d bytes before refusing", name, n)
		}
	}
	o := DefaultOptions()
	o.MaxDecodePixels = 31 * 31
	if _, err := Process(readTestdata(t, "png/basn2c08.png"), o); !errors.Is(err, ErrTooLarge) {
		t.Errorf("32x32 PNG with a cap of 31x31 pixels: %v", err)
	}
}

// jpegHeaderOnly is SOI + JFIF APP0 + a baseline SOF0 declaring w×h, three components, and
// the SOS header of an interleaved scan, with no tables and no entropy data.
func jpegHeaderOnly(w, h int) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
		0xFF, 0xC0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
		0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0}
	return b
}

func TestJPEGDecode(t *testing.T) {
	g := loadGoldens(t)
	for _, name := range []string{"rgb420.jpg", "gray.jpg", "cmyk.jpg", "orient6.jpg"} {
		want := g.JPEG[name]
		img, err := decode(readTestdata(t, name), DefaultOptions())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.W != want.W || img.H != want.H {
			t.Fatalf("%s: %dx%d, PIL %dx%d", name, img.W, img.H, want.W, want.H)
		}
		// Bit-exact: transforms/jpeg decodes as libjpeg-turbo does in PIL.
		w := unb64(t, want.RGB)
		if len(img.Pix) != len(w) {
			t.Fatalf("%s: %d bytes, PIL %d", name, len(img.Pix), len(w))
		}
		if d, mean := maxAbsDiff(img.Pix, w), meanAbsDiff(img.Pix, w); d > jpegMaxDiff || mean > jpegMeanDiff {
			t.Errorf("%s (PIL %s): max |Δ| = %d (limit %d), mean %.3f (limit %.3f): %s", name, want.Mode, d, jpegMaxDiff,
				mean, jpegMeanDiff, firstDiff(img.Pix, w, 3*img.W))
		}
	}
}

// TestJPEGStdFallback: a progressive file whose scans leave AC coefficients unrefined needs
// libjpeg's block smoothing, which transforms/jpeg refuses (ErrUnsupported); decodeJPEG then
// falls back to the standard library, within the fallback's tolerance of PIL. The file is
// testdata/rgb420.jpg rewritten by `jpegtran -scans S` with S = "0,1,2: 0-0, 0, 0; 0: 1-63, 0,
// 1; 1: 1-63, 0, 0; 2: 1-63, 0, 0;" (Y's AC never refined); prog_unrefined.pil.rgb is
// np.asarray(Image.open(f).convert("RGB")) from Pillow 9.4.
func TestJPEGStdFallback(t *testing.T) {
	data := readTestdata(t, "prog_unrefined.jpg")
	if _, err := jpeg.Decode(data, jpeg.Options{}); !errors.Is(err, jpeg.ErrUnsupported) {
		t.Fatalf("transforms/jpeg: err = %v, want ErrUnsupported (the premise of this test)", err)
	}
	img, err := decode(data, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := readTestdata(t, "prog_unrefined.pil.rgb")
	if img.W != 40 || img.H != 30 || len(img.Pix) != len(want) {
		t.Fatalf("%dx%d with %d bytes, PIL 40x30", img.W, img.H, len(img.Pix))
	}
	if d, mean := maxAbsDiff(img.Pix, want), meanAbsDiff(img.Pix, want); d > jpegStdMaxDiff || mean > jpegStdMeanDiff {
		t.Errorf("fallback: max |Δ| = %d (limit %d), mean %.3f (limit %.3f)", d, jpegStdMaxDiff, mean, jpegStdMeanDiff)
	}
	// Arithmetic coding: neither decoder handles it; the error is transforms/jpeg's.
	arith, err := os.ReadFile("../jpeg/testdata/golden/err_arithmetic.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(arith, DefaultOptions()); err == nil || !errors.Is(err, jpeg.ErrUnsupported) ||
		!strings.Contains(err.Error(), "arithmetic") {
		t.Errorf("arithmetic-coded JPEG: err = %v", err)
	}
}

func meanAbsDiff(a, b []uint8) float64 {
	s := 0
	for i := range a {
		s += max(int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return float64(s) / float64(len(a))
}

func maxAbsDiff(a, b []uint8) int {
	m := 0
	for i := range a {
		m = max(m, int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return m
}

func TestExifTranspose(t *testing.T) {
	g := loadGoldens(t)
	data := readTestdata(t, "orient6.jpg")
	if o := exifOrientation(data); o != 6 {
		t.Fatalf("orientation %d, want 6", o)
	}
	o := DefaultOptions()
	plain, err := decode(data, o)
	if err != nil {
		t.Fatal(err)
	}
	o.ExifTranspose = true
	rot, err := decode(data, o)
	if err != nil {
		t.Fatal(err)
	}
	want := g.JPEG["orient6.jpg"]
	if rot.W != want.TransposedW || rot.H != want.TransposedH || plain.W != want.W {
		t.Errorf("transposed %dx%d, PIL %dx%d", rot.W, rot.H, want.TransposedW, want.TransposedH)
	}
	if o := exifOrientation(readTestdata(t, "rgb420.jpg")); o != 0 {
		t.Errorf("rgb420.jpg orientation %d, want 0", o)
	}
	// The mapping for every orientation, against PIL's exif_transpose on a lossless image.
	base := rgbImage{W: 4, H: 3, Pix: make([]uint8, 36)}
	for i := range base.Pix {
		base.Pix[i] = uint8(i)
	}
	for ori := 1; ori <= 8; ori++ {
		w := g.Transpose[string(rune('0'+ori))]
		got := transpose(base, ori)
		if got.W != w.W || got.H != w.H || !bytes.Equal(got.Pix, unb64(t, w.RGB)) {
			t.Errorf("orientation %d: %dx%d %v, PIL %dx%d %v", ori, got.W, got.H, got.Pix, w.W, w.H, unb64(t, w.RGB))
		}
	}
}
