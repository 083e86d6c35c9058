package elementwise

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// report sets GB/s from the bytes one call moves.
func report(b *testing.B, bytes int) {
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

const benchN = 1 << 22 // 16 MiB per operand: beyond L2, streams through L3/memory

func BenchmarkSwiGLU(b *testing.B) {
	r := kerneltest.RNG(1)
	g, u := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	for b.Loop() {
		_ = SwiGLU(out, g, u)
	}
	report(b, 12*benchN)
}

func BenchmarkSwiGLUBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	g, u, d := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	dg, du := make([]float32, benchN), make([]float32, benchN)
	for b.Loop() {
		_ = SwiGLUBackward(dg, du, d, g, u)
	}
	report(b, 20*benchN)
}

func BenchmarkSwiGLUFused(b *testing.B) {
	T, F := 2048, 2048
	r := kerneltest.RNG(1)
	gu := kerneltest.Normal(r, 2*T*F, 2)
	out := make([]float32, T*F)
	for b.Loop() {
		_ = SwiGLUFused(out, gu, T, F)
	}
	report(b, 12*T*F)
}

func BenchmarkSiLU(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 2)
	out := make([]float32, benchN)
	for b.Loop() {
		_ = SiLU(out, x)
	}
	report(b, 8*benchN)
}

func BenchmarkGELU(b *testing.B) {
	x := kerneltest.Normal(kerneltest.RNG(1), benchN, 2)
	out := make([]float32, benchN)
	for b.Loop() {
		_ = GELU(out, x)
	}
	report(b, 8*benchN)
}

func BenchmarkGELUBackward(b *testing.B) {
	r := kerneltest.RNG(1)
	x, d := kerneltest.Normal(r, benchN, 2), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	for b.Loop() {
		_ = GELUBackward(out, d, x)
	}
	report(b, 12*benchN)
}

func BenchmarkAdd(b *testing.B) {
	r := kerneltest.RNG(1)
	x, y := kerneltest.Normal(r, benchN, 1), kerneltest.Normal(r, benchN, 1)
	out := make([]float32, benchN)
	for b.Loop() {
		_ = Add(out, x, y)
	}
	report(b, 12*benchN)
}
