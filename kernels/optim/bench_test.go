package optim

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

func BenchmarkAdamW(b *testing.B) {
	const n = 1 << 23
	r := kerneltest.RNG(1)
	p, g := kerneltest.Normal(r, n, 1), kerneltest.Normal(r, n, 0.01)
	m, v := make([]float32, n), make([]float32, n)
	c := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	step := 0
	for b.Loop() {
		step++
		_ = c.Step(p, g, m, v, step)
	}
	// read p, g, m, v; write p, m, v
	b.ReportMetric(28*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkGlobalNorm(b *testing.B) {
	const n = 1 << 23
	g := [][]float32{kerneltest.Normal(kerneltest.RNG(1), n, 1)}
	for b.Loop() {
		GlobalNorm(g)
	}
	b.ReportMetric(4*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
