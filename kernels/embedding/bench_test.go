package embedding

import (
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

func report(b *testing.B, bytes int) {
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// A 32768 × 1024 table (128 MiB), 4096 tokens.
const benchV, benchD, benchT = 32768, 1024, 4096

func BenchmarkForward(b *testing.B) {
	table := kerneltest.Normal(kerneltest.RNG(1), benchV*benchD, 1)
	ids := randomIDs(2, benchT, benchV)
	out := make([]float32, benchT*benchD)
	for b.Loop() {
		_ = Forward(out, table, ids, benchV, benchD)
	}
	report(b, 8*benchT*benchD) // read a row, write a row
}

func BenchmarkBackward(b *testing.B) {
	dout := kerneltest.Normal(kerneltest.RNG(1), benchT*benchD, 1)
	ids := randomIDs(2, benchT, benchV)
	dt := make([]float32, benchV*benchD)
	for b.Loop() {
		_ = Backward(dt, dout, ids, benchV, benchD, 0)
	}
	report(b, 12*benchT*benchD) // read dout, read+write a table row
}
