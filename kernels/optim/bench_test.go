package optim

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// Benchmarks run on 4 Mi parameters (a [4096, 1024] tensor, 16 MiB per array, beyond L2), once
// per code path, and report GB/s from the bytes each call reads and writes once. Run with
// GOMAXPROCS=1 for single-thread numbers; BenchmarkCopy is the memory ceiling.

const benchN = 4096 * 1024

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

func BenchmarkCopy(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 1)
	y := make([]float32, benchN)
	for b.Loop() {
		copy(y, x)
	}
	b.ReportMetric(8*benchN*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkAdamW(b *testing.B) {
	r := kerneltest.RNG(1)
	p, g := kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 0.01)
	m, v := make([]float32, benchN), make([]float32, benchN)
	c := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	step := 0
	// read p, g, m, v; write p, m, v
	benchPaths(b, 28*benchN, func() {
		step++
		_ = c.Step(p, g, m, v, step)
	})
}

func BenchmarkGlobalNorm(b *testing.B) {
	g := [][]float32{kerneltest.Normal(kerneltest.RNG(1), benchN, 1)}
	benchPaths(b, 4*benchN, func() { GlobalNorm(g) })
}
