package elementwise

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// Benchmarks run single-threaded (GOMAXPROCS=1 recommended: large inputs split over
// GOMAXPROCS goroutines) at [4096, 1024]-sized operands (16 MiB each, beyond L2), once per code
// path, and report GB/s from the bytes each call reads and writes once. BenchmarkCopy is the
// memory ceiling to compare against (same byte count per element as a unary op).

const benchT, benchF = 4096, 1024

const benchN = benchT * benchF

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
	out := make([]float32, benchN)
	for b.Loop() {
		copy(out, x)
	}
	b.ReportMetric(8*benchN*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkSwiGLU(b *testing.B) {
	r := kerneltest.RNG(1)
	g, u := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = SwiGLU(out, g, u) })
}

func BenchmarkSwiGLUBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	g, u, d := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	dg, du := make([]float32, benchN), make([]float32, benchN)
	benchPaths(b, 20*benchN, func() { _ = SwiGLUBackward(dg, du, d, g, u) })
}

func BenchmarkSwiGLUFused(b *testing.B) {
	gu := kerneltest.Normal(kerneltest.RNG(1), 2*benchN, 2)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = SwiGLUFused(out, gu, benchT, benchF) })
}

func BenchmarkSwiGLUFusedBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	gu, d := kerneltest.Normal(r, 2*benchN, 2), kerneltest.Normal(r, benchN, 1)
	dgu := make([]float32, 2*benchN)
	benchPaths(b, 20*benchN, func() { _ = SwiGLUFusedBackward(dgu, d, gu, benchT, benchF) })
}

func BenchmarkSiLU(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 2)
	out := make([]float32, benchN)
	benchPaths(b, 8*benchN, func() { _ = SiLU(out, x) })
}

func BenchmarkSiLUBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	x, d := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = SiLUBackward(out, d, x) })
}

func BenchmarkGELU(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 2)
	out := make([]float32, benchN)
	benchPaths(b, 8*benchN, func() { _ = GELU(out, x) })
}

func BenchmarkGELUBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	x, d := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = GELUBackward(out, d, x) })
}

func BenchmarkAdd(b *testing.B) {
	r := kerneltest.RNG(1)
	x, y := kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = Add(out, x, y) })
}

func BenchmarkMul(b *testing.B) {
	r := kerneltest.RNG(1)
	x, y := kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 12*benchN, func() { _ = Mul(out, x, y) })
}

func BenchmarkMulBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	x, y, d := kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	da, db := make([]float32, benchN), make([]float32, benchN)
	benchPaths(b, 20*benchN, func() { _ = MulBackward(da, db, d, x, y) })
}

func BenchmarkScale(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 1)
	out := make([]float32, benchN)
	benchPaths(b, 8*benchN, func() { _ = Scale(out, x, 0.5) })
}
