package jpeg

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReusedBuffers: decoding with reused internal buffers and a caller's Options.Pix, both
// filled with arbitrary bytes beforehand, gives Pillow's pixels for every golden file (the
// decoder never reads a plane byte it has not written, and writes every output byte).
func TestReusedBuffers(t *testing.T) {
	cases := loadGoldens(t)
	pix := make([]uint8, 1<<20)
	withIDCT(t, func(t *testing.T) {
		for _, poison := range []byte{0xFF, 0x00, 0x5A} {
			poisonScratch = poison
			for _, gc := range cases {
				if gc.PillowError != "" || strings.HasPrefix(gc.Name, knownGapPrefix) {
					continue
				}
				data, err := os.ReadFile(filepath.Join("testdata/golden", gc.Name+".jpg"))
				if err != nil {
					t.Fatal(err)
				}
				for i := range pix {
					pix[i] = poison
				}
				img, err := Decode(data, Options{Pix: pix})
				if err != nil {
					t.Fatalf("%s: %v", gc.Name, err)
				}
				if &img.Pix[0] != &pix[0] {
					t.Fatalf("%s: Options.Pix not used", gc.Name)
				}
				if want := readPix(t, gc.Name); !bytes.Equal(img.Pix, want) {
					t.Errorf("%s (poison %#x): pixels differ from Pillow: %s", gc.Name, poison, firstDiff(img.Pix, want, img.Width, img.Channels()))
				}
			}
		}
		poisonScratch = 0
	})
}

// TestPairsMatchSingles: two-symbol AC decoding gives the same pixels, warnings and errors as
// one symbol per lookup, on every golden file, the benchmark image, and copies of them with
// bytes of the entropy data replaced (which exercises bad codes, runs past the block end and
// early markers).
func TestPairsMatchSingles(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.jpg")
	inputs := [][]byte{benchJPEG()}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, data := range inputs[:len(inputs):len(inputs)] {
		for range 8 {
			c := bytes.Clone(data)
			for range 4 {
				i := len(c)/3 + rng.IntN(len(c)-len(c)/3)
				c[i] = uint8(rng.Uint32())
			}
			inputs = append(inputs, c)
		}
	}
	for _, data := range inputs {
		img, st, err := decodeWithStats(data, Options{MaxPixels: 1 << 20}, true)
		checkPairsMatchSingles(t, data, img, st, err)
	}
}
