package vec

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// benchPaths runs f per available path; n elements, bytes moved per call for GB/s.
func benchPaths(b *testing.B, n int, bytes int, f func(x, y []float32)) {
	saved := path
	defer func() { path = saved }()
	r := kerneltest.RNG(9)
	x := kerneltest.Uniform(r, n, -10, 10)
	y := kerneltest.Uniform(r, n, -10, 10)
	for p := range pathNames {
		if !available(p) {
			continue
		}
		b.Run(pathNames[p], func(b *testing.B) {
			path = p
			for b.Loop() {
				f(x, y)
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(n)*float64(b.N)/s/1e9, "Gelem/s")
			b.ReportMetric(float64(bytes)*float64(b.N)/s/1e9, "GB/s")
		})
	}
}

// 64 Ki elements (256 KiB per slice) stays in L2; 4 Mi elements streams from memory.
var benchSizes = []struct {
	name string
	n    int
}{{"64Ki", 1 << 16}, {"4Mi", 1 << 22}}

func BenchmarkExp(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 8*s.n, func(x, y []float32) { Exp(y, x) }) })
	}
}

func BenchmarkSigmoid(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 8*s.n, func(x, y []float32) { Sigmoid(y, x) }) })
	}
}

func BenchmarkDot(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 8*s.n, func(x, y []float32) { Dot(x, y) }) })
	}
}

func BenchmarkSum(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 4*s.n, func(x, y []float32) { Sum(x) }) })
	}
}

func BenchmarkMax(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 4*s.n, func(x, y []float32) { Max(x) }) })
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 12*s.n, func(x, y []float32) { Axpy(1e-7, x, y) }) })
	}
}

func BenchmarkScale(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchPaths(b, s.n, 8*s.n, func(x, y []float32) { Scale(1, y) }) })
	}
}
