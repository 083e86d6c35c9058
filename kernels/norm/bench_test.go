package norm

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// Benchmarks run at [4096, 1024] (16 MiB per activation, beyond L2), once per code path, and
// report GB/s from the activation bytes each call reads and writes once (the [D] weight and
// gradient rows stay in cache). Run with GOMAXPROCS=1 for single-thread numbers; BenchmarkCopy
// is the memory ceiling to compare against.

const benchT, benchD = 4096, 1024

// benchPaths runs f once per available path and reports bytes/call as GB/s.
func benchPaths(b *testing.B, bytes int, f func()) {
	saved := path
	defer setPath(saved)
	for p := range pathNames {
		if !available(p) {
			continue
		}
		b.Run(pathNames[p], func(b *testing.B) {
			setPath(p)
			for b.Loop() {
				f()
			}
			b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

func benchInputs() (x, w, b, dy []float32) {
	r := kerneltest.RNG(1)
	return kerneltest.Normal(r, benchT*benchD, 1), kerneltest.Uniform(r, benchD, 0.5, 1.5),
		kerneltest.Uniform(r, benchD, -1, 1), kerneltest.Normal(r, benchT*benchD, 1)
}

func BenchmarkCopy(b *testing.B) {
	x, _, _, _ := benchInputs()
	y := make([]float32, benchT*benchD)
	for b.Loop() {
		copy(y, x)
	}
	b.ReportMetric(8*benchT*benchD*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkRMSNormForward(b *testing.B) {
	x, w, _, _ := benchInputs()
	y, rs := make([]float32, benchT*benchD), make([]float32, benchT)
	benchPaths(b, 8*benchT*benchD, func() { _ = RMSNormForward(y, rs, x, w, benchT, benchD, 1e-5) }) // read x, write y
}

func BenchmarkRMSNormBackward(b *testing.B) {
	x, w, _, dy := benchInputs()
	y, rs := make([]float32, benchT*benchD), make([]float32, benchT)
	_ = RMSNormForward(y, rs, x, w, benchT, benchD, 1e-5)
	dx, dw := make([]float32, benchT*benchD), make([]float32, benchD)
	benchPaths(b, 12*benchT*benchD, func() { _ = RMSNormBackward(dx, dw, dy, x, w, rs, benchT, benchD) }) // read dy, x, write dx
}

func BenchmarkLayerNormForward(b *testing.B) {
	x, w, bb, _ := benchInputs()
	y, m, rs := make([]float32, benchT*benchD), make([]float32, benchT), make([]float32, benchT)
	benchPaths(b, 8*benchT*benchD, func() { _ = LayerNormForward(y, m, rs, x, w, bb, benchT, benchD, 1e-5) })
}

func BenchmarkLayerNormBackward(b *testing.B) {
	x, w, bb, dy := benchInputs()
	y, m, rs := make([]float32, benchT*benchD), make([]float32, benchT), make([]float32, benchT)
	_ = LayerNormForward(y, m, rs, x, w, bb, benchT, benchD, 1e-5)
	dx, dw, db := make([]float32, benchT*benchD), make([]float32, benchD), make([]float32, benchD)
	benchPaths(b, 12*benchT*benchD, func() { _ = LayerNormBackward(dx, dw, db, dy, x, w, m, rs, benchT, benchD) })
}
