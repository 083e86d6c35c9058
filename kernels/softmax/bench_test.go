package softmax

import (
	"fmt"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// benchPaths runs f once per available path as sub-benchmarks.
func benchPaths(b *testing.B, bytes int, f func(b *testing.B)) {
	saved := path
	defer setPath(saved)
	for p := range pathNames {
		if !available(p) {
			continue
		}
		b.Run(pathNames[p], func(b *testing.B) {
			setPath(p)
			b.SetBytes(int64(bytes))
			f(b)
		})
	}
}

// ceShapesBench are the cross-entropy benchmark shapes: the tiny text model's LM head and
// GLM-4.5V's vocabulary.
var ceShapesBench = [][2]int{{1024, 8192}, {256, 151552}}

// BenchmarkCopy is the memory ceiling for BenchmarkCrossEntropy/…/fused and BenchmarkSoftmax/forward:
// copy of the same T·V (R·C) floats between two buffers, counted as 8 bytes per element like
// them. Compare in the same run: go test -bench 'Copy|CrossEntropy|Softmax'.
func BenchmarkCopy(b *testing.B) {
	for _, s := range append(ceShapesBench, [2]int{smR, smC}) {
		n := s[0] * s[1]
		src, dst := kt.Normal(kt.RNG(1), n, 1), make([]float32, n)
		b.Run(fmt.Sprintf("T%d_V%d", s[0], s[1]), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkCrossEntropy: forward + backward in place on logits [T, V]. GB/s counts the bytes
// each variant must move: separate calls read the logits twice and write them once
// (12·T·V bytes), the fused call reads once and writes once (8·T·V). Compare with
// BenchmarkCopy of the same shape.
func BenchmarkCrossEntropy(b *testing.B) {
	for _, s := range ceShapesBench {
		T, V := s[0], s[1]
		r := kt.RNG(1)
		logits := kt.Normal(r, T*V, 2)
		targets := randTargets(r, T, V)
		stats := make([]float32, 2*T)
		for _, fused := range []bool{false, true} {
			name := fmt.Sprintf("T%d_V%d/separate", T, V)
			bytes := 12 * T * V
			if fused {
				name = fmt.Sprintf("T%d_V%d/fused", T, V)
				bytes = 8 * T * V
			}
			b.Run(name, func(b *testing.B) {
				benchPaths(b, bytes, func(b *testing.B) {
					for b.Loop() {
						if fused {
							if _, _, err := CrossEntropy(logits, stats, logits, targets, T, V, 1e-3); err != nil {
								b.Fatal(err)
							}
							continue
						}
						if _, _, err := CrossEntropyForward(stats, logits, targets, T, V); err != nil {
							b.Fatal(err)
						}
						if err := CrossEntropyBackward(logits, logits, stats, targets, T, V, 1e-3); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

const smR, smC = 1024, 1024

// BenchmarkSoftmax: forward and backward over [R, C] (8 and 12 bytes per element).
func BenchmarkSoftmax(b *testing.B) {
	x := kt.Normal(kt.RNG(2), smR*smC, 2)
	dy := kt.Normal(kt.RNG(3), smR*smC, 1)
	y := make([]float32, smR*smC)
	dx := make([]float32, smR*smC)
	b.Run("forward", func(b *testing.B) {
		benchPaths(b, 8*smR*smC, func(b *testing.B) {
			for b.Loop() {
				_ = Forward(y, x, smR, smC)
			}
		})
	})
	b.Run("backward", func(b *testing.B) {
		benchPaths(b, 12*smR*smC, func(b *testing.B) {
			for b.Loop() {
				_ = Backward(dx, y, dy, smR, smC)
			}
		})
	})
}

// BenchmarkLMHead: the fused chunked LM-head loss (3 GEMMs of 2·T·D·V FLOPs) at the tiny
// text model's shape, with 1/4 of the tokens ignored, and a 64-row scratch.
func BenchmarkLMHead(b *testing.B) {
	const T, D, V = 1024, 256, 8192
	r := kt.RNG(4)
	h, w := kt.Normal(r, T*D, 1), kt.Normal(r, V*D, 0.05)
	targets := randTargets(r, T, V)
	n := CountTargets(targets)
	dh, dw, stats := make([]float32, T*D), make([]float32, V*D), make([]float32, 2*T)
	scratch := make([]float32, 64*V)
	b.ResetTimer()
	for range b.N {
		if _, _, err := LMHead(dh, dw, stats, h, w, targets, T, D, V, 1/float32(n), scratch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(6*float64(n)*D*V*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
