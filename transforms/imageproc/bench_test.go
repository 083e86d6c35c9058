package imageproc

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// benchJPEG is a 1000×1000 quality-90 4:2:0 JPEG with the content of the peer benchmark
// (../shared/peer/preprocess_bench.py make_jpeg: sines, a ramp and N(0, 20) noise), seeded.
var benchJPEG = sync.OnceValue(func() []byte {
	const n = 1000
	rng := rand.New(rand.NewPCG(0, 0))
	m := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			base := [3]float64{128 + 100*math.Sin(float64(x)/37), 128 + 100*math.Cos(float64(y)/23), float64(x+y) / (2 * n) * 255}
			for c := range 3 {
				v := base[c] + rng.NormFloat64()*20
				m.Pix[4*(y*n+x)+c] = uint8(max(0, min(255, v)))
			}
			m.Pix[4*(y*n+x)+3] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// BenchmarkPreprocess1000 is the measure: decode + resize + normalise + patchify of a
// 1000×1000 JPEG into pixel_values [5184, 1176] float32, one image per op. Run with
// GOMAXPROCS=1. Sub-benchmarks time the stages; /peer runs the PIL+numpy script once (when
// /usr/bin/python3 with PIL is present) and reports the speed-up.
func BenchmarkPreprocess1000(b *testing.B) {
	data := benchJPEG()
	o := DefaultOptions()
	var dst []float32
	b.Run("total", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			img, err := Process(data, o)
			if err != nil {
				b.Fatal(err)
			}
			if dst == nil {
				dst = make([]float32, len(img.Rows)/o.frameRowLen()*o.RowLen())
			}
			if err := Normalize(dst, img, o); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
	})
	src, err := decode(data, o)
	if err != nil {
		b.Fatal(err)
	}
	h, w, _ := SmartResize(src.H, src.W, o)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decode(data, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("resize", func(b *testing.B) {
		for b.Loop() {
			resizeBicubic(src, w, h)
		}
	})
	resized := resizeBicubic(src, w, h)
	b.Run("patchify", func(b *testing.B) {
		for b.Loop() {
			patchify(resized, o)
		}
	})
	img := Image{Grid: [3]int{1, h / 14, w / 14}, Rows: patchify(resized, o)}
	dst = make([]float32, h/14*w/14*o.RowLen())
	b.Run("normalize", func(b *testing.B) {
		for b.Loop() {
			if err := Normalize(dst, img, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("peer", func(b *testing.B) { benchPeer(b, data, o) })
}

const peerScript = "../../../shared/peer/preprocess_bench.py"

// benchPeer runs the PIL+numpy peer once and reports its images/s beside ours (measured here,
// single image loop, same process conditions) and the ratio.
func benchPeer(b *testing.B, data []byte, o Options) {
	if _, err := os.Stat(peerScript); err != nil {
		b.Skipf("no peer script: %v", err)
	}
	out, err := exec.Command("/usr/bin/python3", peerScript, "--size", "1000", "--n", "20").Output()
	if err != nil {
		b.Skipf("peer did not run: %v", err)
	}
	var res struct {
		HF struct {
			ImagesPerS float64 `json:"images_per_s"`
		} `json:"hf"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.HF.ImagesPerS <= 0 {
		b.Skipf("peer output %q: %v", out, err)
	}
	var dst []float32
	n := 0
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		img, err := Process(data, o)
		if err != nil {
			b.Fatal(err)
		}
		if dst == nil {
			dst = make([]float32, len(img.Rows)/o.frameRowLen()*o.RowLen())
		}
		_ = Normalize(dst, img, o)
		n++
	}
	ours := float64(n) / time.Since(start).Seconds()
	for b.Loop() {
	}
	b.ReportMetric(res.HF.ImagesPerS, "peer-img/s")
	b.ReportMetric(ours, "img/s")
	b.ReportMetric(ours/res.HF.ImagesPerS, "x-peer")
}
