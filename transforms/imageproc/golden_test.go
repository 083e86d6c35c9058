package imageproc

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// goldens is testdata/goldens.json.gz, written by testdata/gen_goldens.py with Pillow 9.4 and
// numpy 1.24 (see that script for what each part pins down).
type goldens struct {
	SmartResize [][6]int `json:"smart_resize"`
	Resize      struct {
		Src   string `json:"src"`
		Cases []struct {
			W, H int
			RGB  string `json:"rgb"`
		} `json:"cases"`
	} `json:"resize"`
	PNG map[string]struct {
		Mode      string `json:"mode"`
		W, H      int
		RGB       string `json:"rgb"`
		Composite string `json:"composite"`
		Error     string `json:"error"`
	} `json:"png"`
	NormLUT     []string `json:"norm_lut"`
	PixelValues struct {
		Src    string `json:"src"`
		Grid   [3]int `json:"grid"`
		SHA256 string `json:"sha256"`
		Row5   string `json:"row5"`
	} `json:"pixel_values"`
	JPEG map[string]struct {
		Mode        string `json:"mode"`
		W, H        int
		RGB         string `json:"rgb"`
		TransposedW int    `json:"transposed_w"`
		TransposedH int    `json:"transposed_h"`
	} `json:"jpeg"`
	Transpose map[string]struct {
		W, H int
		RGB  string `json:"rgb"`
	} `json:"transpose"`
}

var (
	goldenOnce sync.Once
	goldenVal  goldens
	goldenErr  error
)

func loadGoldens(t testing.TB) *goldens {
	t.Helper()
	goldenOnce.Do(func() {
		f, err := os.Open(filepath.Join("testdata", "goldens.json.gz"))
		if err != nil {
			goldenErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			goldenErr = err
			return
		}
		goldenErr = json.NewDecoder(zr).Decode(&goldenVal)
	})
	if goldenErr != nil {
		t.Fatalf("goldens: %v", goldenErr)
	}
	return &goldenVal
}

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
