package norm

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

func report(b *testing.B, bytes int) {
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// 2048 tokens × 4096 hidden: 32 MiB per activation.
const benchT, benchD = 2048, 4096

func benchInputs() (x, w, b, dy []float32) {
	r := kerneltest.RNG(1)
	return kerneltest.Normal(r, benchT*benchD, 1), kerneltest.Uniform(r, benchD, 0.5, 1.5),
		kerneltest.Uniform(r, benchD, -1, 1), kerneltest.Normal(r, benchT*benchD, 1)
}

func BenchmarkRMSNormForward(b *testing.B) {
	x, w, _, _ := benchInputs()
	y, rs := make([]float32, benchT*benchD), make([]float32, benchT)
	for b.Loop() {
		_ = RMSNormForward(y, rs, x, w, benchT, benchD, 1e-5)
	}
	report(b, 8*benchT*benchD) // read x, write y
}

func BenchmarkRMSNormBackward(b *testing.B) {
	x, w, _, dy := benchInputs()
	y, rs := make([]float32, benchT*benchD), make([]float32, benchT)
	_ = RMSNormForward(y, rs, x, w, benchT, benchD, 1e-5)
	dx, dw := make([]float32, benchT*benchD), make([]float32, benchD)
	for b.Loop() {
		_ = RMSNormBackward(dx, dw, dy, x, w, rs, benchT, benchD)
	}
	report(b, 12*benchT*benchD) // read dy, x, write dx
}

func BenchmarkLayerNormForward(b *testing.B) {
	x, w, bb, _ := benchInputs()
	y, m, rs := make([]float32, benchT*benchD), make([]float32, benchT), make([]float32, benchT)
	for b.Loop() {
		_ = LayerNormForward(y, m, rs, x, w, bb, benchT, benchD, 1e-5)
	}
	report(b, 8*benchT*benchD)
}

func BenchmarkLayerNormBackward(b *testing.B) {
	x, w, bb, dy := benchInputs()
	y, m, rs := make([]float32, benchT*benchD), make([]float32, benchT), make([]float32, benchT)
	_ = LayerNormForward(y, m, rs, x, w, bb, benchT, benchD, 1e-5)
	dx, dw, db := make([]float32, benchT*benchD), make([]float32, benchD), make([]float32, benchD)
	for b.Loop() {
		_ = LayerNormBackward(dx, dw, db, dy, x, w, m, rs, benchT, benchD)
	}
	report(b, 12*benchT*benchD)
}
