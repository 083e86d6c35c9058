package jpeg

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type goldenCase struct {
	Name        string `json:"name"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Mode        string `json:"mode"`
	Orientation int    `json:"orientation"`
	PillowError string `json:"pillow_error"`
}

func loadGoldens(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("manifest lists %d cases, want >= 50", len(cases))
	}
	return cases
}

func readPix(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata/golden", name+".pix.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withIDCT runs f once per available IDCT implementation.
func withIDCT(t *testing.T, f func(t *testing.T)) {
	paths := []bool{false}
	if hasAVX2 {
		paths = append(paths, true)
	}
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, p := range paths {
		useAVX2 = p
		t.Run(map[bool]string{false: "go", true: "avx2"}[p], f)
	}
}

// Pillow decodes arithmetic-coded files; glmflow's decoder refuses them.
const knownGapPrefix = "err_arithmetic"

func TestGoldenPillow(t *testing.T) {
	cases := loadGoldens(t)
	withIDCT(t, func(t *testing.T) {
		for _, gc := range cases {
			data, err := os.ReadFile(filepath.Join("testdata/golden", gc.Name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, Options{})
			if strings.HasPrefix(gc.Name, knownGapPrefix) {
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "arithmetic-coded JPEG") {
					t.Errorf("%s: err = %v, want the arithmetic-coding ErrUnsupported", gc.Name, err)
				}
				continue
			}
			if gc.PillowError != "" {
				if err == nil {
					t.Errorf("%s: decoded, but Pillow raised %q", gc.Name, gc.PillowError)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", gc.Name, err)
				continue
			}
			if img.Width != gc.Width || img.Height != gc.Height || img.Mode != gc.Mode || img.Orientation != gc.Orientation {
				t.Errorf("%s: got %dx%d %s orientation %d, want %dx%d %s orientation %d", gc.Name,
					img.Width, img.Height, img.Mode, img.Orientation, gc.Width, gc.Height, gc.Mode, gc.Orientation)
				continue
			}
			want := readPix(t, gc.Name)
			if !bytes.Equal(img.Pix, want) {
				t.Errorf("%s: pixels differ from Pillow: %s", gc.Name, firstDiff(img.Pix, want, img.Width, img.Channels()))
			}
		}
	})
}

func firstDiff(got, want []byte, w, ch int) string {
	if len(got) != len(want) {
		return fmt.Sprintf("len %d vs %d", len(got), len(want))
	}
	n, maxd := 0, 0
	first := -1
	for i := range got {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			n++
			d := int(got[i]) - int(want[i])
			if d < 0 {
				d = -d
			}
			maxd = max(maxd, d)
		}
	}
	p := first / ch
	return fmt.Sprintf("%d samples differ (max |diff| %d), first at x=%d y=%d ch=%d: got %d want %d",
		n, maxd, p%w, p/w, first%ch, got[first], want[first])
}
