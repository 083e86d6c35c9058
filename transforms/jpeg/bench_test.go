package jpeg

import (
	"bytes"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// benchJPEG is the preprocessing benchmark's image: 1000x1000, the
// photo-like pattern of ../shared/peer/preprocess_bench.py (sinusoids, a
// gradient, Gaussian noise sigma 20), 4:2:0, quality 90 (Go's encoder).
var benchJPEG = sync.OnceValue(func() []byte {
	const size = 1000
	rng := rand.New(rand.NewPCG(0, 0))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			base := [3]float64{
				128 + 100*math.Sin(float64(x)/37),
				128 + 100*math.Cos(float64(y)/23),
				float64(x+y) / (2 * size) * 255,
			}
			var c [3]uint8
			for i, b := range base {
				c[i] = uint8(math.Max(0, math.Min(255, b+rng.NormFloat64()*20)))
			}
			img.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
		}
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	if p := os.Getenv("GLMFLOW_JPEG_BENCH_OUT"); p != "" {
		_ = os.WriteFile(p, buf.Bytes(), 0o644)
	}
	return buf.Bytes()
})

// BenchmarkDecode1000 measures Decode and image/jpeg.Decode on the same file
// in one run and reports the speed ratio.
func BenchmarkDecode1000(b *testing.B) {
	data := benchJPEG()
	timeIt := func(f func()) time.Duration {
		best := time.Duration(math.MaxInt64)
		for r := 0; r < 5; r++ {
			t0 := time.Now()
			f()
			best = min(best, time.Since(t0))
		}
		return best
	}
	var std time.Duration
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(1000 * 1000 * 3)
		for i := 0; i < b.N; i++ {
			if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		std = timeIt(func() { _, _ = stdjpeg.Decode(bytes.NewReader(data)) })
	})
	for _, avx := range []bool{true, false} {
		if avx && !hasAVX2 {
			continue
		}
		name := map[bool]string{true: "glmflow_avx2", false: "glmflow_go"}[avx]
		b.Run(name, func(b *testing.B) {
			saved := useAVX2
			useAVX2 = avx
			defer func() { useAVX2 = saved }()
			b.SetBytes(1000 * 1000 * 3)
			for i := 0; i < b.N; i++ {
				if _, err := Decode(data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			ours := timeIt(func() { _, _ = Decode(data, Options{}) })
			if std > 0 {
				b.ReportMetric(float64(std)/float64(ours), "x_vs_stdlib")
			}
		})
	}
}
