package imageproc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzProcess: any input gives an image or an error, never a panic; a success has a grid
// consistent with its rows, a budget-respecting size, and is reproducible. Seeds: the test
// PNGs/JPEGs, the broken images and, when present, the shared PngSuite and broken-images corpora.
func FuzzProcess(f *testing.F) {
	var seeds []string
	for _, pat := range []string{"testdata/png/*.png", "testdata/broken/*", "testdata/*.jpg", "testdata/gen.*",
		"testdata/*.webp", filepath.Join(corpus, "pngsuite", "*.png"), filepath.Join(corpus, "broken-images", "*")} {
		m, _ := filepath.Glob(pat)
		seeds = append(seeds, m...)
	}
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	o := DefaultOptions()
	o.MaxDecodePixels = 1 << 20 // keep each input's work small
	o.MaxPixels = 2 * 256 * 256
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Process(data, o)
		if err != nil {
			if len(img.Rows) != 0 {
				t.Fatal("rows returned with an error")
			}
			return
		}
		p := img.Grid[0] * img.Grid[1] * img.Grid[2]
		if img.Grid[0] != 1 || img.Grid[1]%2 != 0 || img.Grid[2]%2 != 0 || len(img.Rows) != p*588 {
			t.Fatalf("grid %v with %d bytes", img.Grid, len(img.Rows))
		}
		if 2*p*196 > o.MaxPixels {
			t.Fatalf("grid %v over the pixel budget", img.Grid)
		}
		again, err := Process(data, o)
		if err != nil || !bytes.Equal(again.Rows, img.Rows) {
			t.Fatal("second run differs")
		}
		dst := make([]float32, p*o.RowLen())
		if err := Normalize(dst, img, o); err != nil {
			t.Fatal(err)
		}
	})
}
