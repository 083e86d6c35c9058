package gemm

import (
	"fmt"
	"testing"
	"time"

	"github.com/glmflow/glmflow/tensors"
)

// Benchmarks report GFLOP/s (2·m·n·k per call). Single-threaded unless the name says
// otherwise; compare paths with -bench and GLMFLOW-free flags only, e.g.
//
//	go test -run '^$' -bench 'Square|Model' -count 5 ./kernels/gemm

// modelShapes are the (M, K, N) GEMMs of the GLM-4.5V training step (docs/performance.md).
var modelShapes = []struct {
	name    string
	m, k, n int
}{
	{"attn_proj", 1024, 256, 256},
	{"dense_gate_up", 1024, 256, 1376},
	{"expert_gate_up", 256, 256, 512},
	{"expert_down", 256, 256, 256},
	{"lm_head_fwd", 1024, 256, 8192},
	{"lm_head_dgrad", 1024, 8192, 256},
	{"patch_embed", 64, 1176, 384},
	{"vit_mlp", 2048, 384, 2048},
}

// operands returns op(A) [m,k], op(B) [k,n] and C [m,n] for the transpose form, packed.
func operands(ta, tb bool, m, n, k int) (a []float32, lda int, b []float32, ldb int, c []float32) {
	r := rng(uint64(m*n + k))
	lda, ldb = k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	return randMat(r, m*k/lda, lda, lda), lda, randMat(r, k*n/ldb, ldb, ldb), ldb, make([]float32, m*n)
}

func benchGemm(b *testing.B, ta, tb bool, m, n, k int) {
	a, lda, bb, ldb, c := operands(ta, tb, m, n, k)
	Sgemm(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ResetTimer()
	for b.Loop() {
		Sgemm(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func single(b testing.TB) {
	prev := SetThreads(1)
	b.Cleanup(func() { SetThreads(prev) })
}

func BenchmarkSquare(b *testing.B) {
	single(b)
	for _, tr := range transposes[:3] {
		for _, n := range []int{256, 512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/n=%d", tr.name, n), func(b *testing.B) { benchGemm(b, tr.ta, tr.tb, n, n, n) })
		}
	}
}

// BenchmarkModel runs the model shapes as NN (dX = dY·W) and NT (Y = X·Wᵀ), and TN (dW).
func BenchmarkModel(b *testing.B) {
	single(b)
	for _, tr := range transposes[:3] {
		for _, s := range modelShapes {
			b.Run(fmt.Sprintf("%s/%s_%dx%dx%d", tr.name, s.name, s.m, s.k, s.n), func(b *testing.B) {
				benchGemm(b, tr.ta, tr.tb, s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkParallel uses Threads() goroutines (GOMAXPROCS by default).
func BenchmarkParallel(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		b.Run(fmt.Sprintf("NN/n=%d/threads=%d", n, Threads()), func(b *testing.B) { benchGemm(b, false, false, n, n, n) })
	}
}

// BenchmarkBF16B: bf16 weights W [n,k] times fp32 activations, Y = X·Wᵀ (and NN), one thread.
func BenchmarkBF16B(b *testing.B) {
	single(b)
	for _, tb := range []bool{true, false} {
		for _, s := range []struct{ m, k, n int }{{1024, 1024, 1024}, {1024, 256, 1376}, {256, 256, 512}} {
			name := fmt.Sprintf("transB=%v/%dx%dx%d", tb, s.m, s.k, s.n)
			b.Run(name, func(b *testing.B) {
				a, lda, bf, ldb, c := operands(false, tb, s.m, s.n, s.k)
				w := make([]uint16, len(bf))
				for i, v := range bf {
					w[i] = toBF16(v)
				}
				for b.Loop() {
					SgemmBF16B(false, tb, s.m, s.n, s.k, 1, a, lda, w, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGrouped: MoE expert forward, 8 experts, 2048 routed rows in uneven groups.
func BenchmarkGrouped(b *testing.B) {
	offs := []int{0, 300, 520, 700, 1000, 1150, 1500, 1800, 2048}
	n, k := 512, 256
	a, _, w, _, _ := operands(false, true, 2048, 8*n, k)
	c := make([]float32, 2048*n)
	for b.Loop() {
		GroupedSgemm(true, offs, n, k, 1, a, k, w, k, n*k, 0, c, n)
	}
	b.ReportMetric(2*2048*float64(n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// operands16 is operands with A and B as bf16 bits (A also kept as float32 for the Round
// variant).
func operands16(ta, tb bool, m, n, k int) (a32 []float32, a []uint16, lda int, b []uint16, ldb int, c []float32) {
	a32, lda, b32, ldb, c := operands(ta, tb, m, n, k)
	a, b = make([]uint16, len(a32)), make([]uint16, len(b32))
	tensors.F32ToBF16(a, a32)
	tensors.F32ToBF16(b, b32)
	return a32, a, lda, b, ldb, c
}

func benchBF16(b *testing.B, round, ta, tb bool, m, n, k int) {
	a32, a, lda, bb, ldb, c := operands16(ta, tb, m, n, k)
	f := func() { SgemmBF16(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n) }
	if round {
		f = func() { SgemmBF16Round(ta, tb, m, n, k, 1, a32, lda, bb, ldb, 0, c, n) }
	}
	f()
	b.ResetTimer()
	for b.Loop() {
		f()
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkBF16: SgemmBF16 (bf16 × bf16, VDPBF16PS where available), one thread, on the
// square sizes and the model shapes; NT is the linear-layer forward with HF weights [N,K].
func BenchmarkBF16(b *testing.B) {
	single(b)
	for _, tr := range transposes[:3] {
		for _, n := range []int{512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/n=%d", tr.name, n), func(b *testing.B) { benchBF16(b, false, tr.ta, tr.tb, n, n, n) })
		}
	}
	for _, tr := range transposes[:3] {
		for _, s := range modelShapes {
			b.Run(fmt.Sprintf("%s/%s_%dx%dx%d", tr.name, s.name, s.m, s.k, s.n), func(b *testing.B) {
				benchBF16(b, false, tr.ta, tr.tb, s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkBF16Round: SgemmBF16Round (float32 A rounded while packing), one thread.
func BenchmarkBF16Round(b *testing.B) {
	single(b)
	for _, tr := range transposes[:3] {
		for _, n := range []int{512, 1024} {
			b.Run(fmt.Sprintf("%s/n=%d", tr.name, n), func(b *testing.B) { benchBF16(b, true, tr.ta, tr.tb, n, n, n) })
		}
	}
}

// BenchmarkBF16InPlaceA: a row-major bf16 A read in place against the same call with A
// packed first (packAlways16), alternating in the same run, on attention's P·V shape (A at
// PackedLD16), a linear layer's (Y = X·Wᵀ, A compact) and a long-k one; x_packed is the
// packed call's time over the in-place one.
func BenchmarkBF16InPlaceA(b *testing.B) {
	single(b)
	for _, s := range []struct {
		m, n, k, lda int
		transB       bool
	}{{256, 64, 256, PackedLD16, false}, {2048, 384, 1024, 1024, true}, {512, 512, 4096, 4096, true}} {
		b.Run(fmt.Sprintf("%dx%dx%d/lda=%d", s.m, s.n, s.k, s.lda), func(b *testing.B) {
			a := make([]uint16, s.m*s.lda)
			for i := range a {
				a[i] = 0x3f80 + uint16(i%7)
			}
			bb := make([]uint16, s.k*s.n)
			for i := range bb {
				bb[i] = 0x3f80 + uint16(i%5)
			}
			ldb := s.n
			if s.transB {
				ldb = s.k
			}
			c := make([]float32, s.m*s.n)
			defer func() { packAlways16 = false }()
			var tIn, tPacked time.Duration
			for b.Loop() {
				t0 := time.Now()
				packAlways16 = false
				SgemmBF16Serial(false, s.transB, s.m, s.n, s.k, 1, a, s.lda, bb, ldb, 0, c, s.n)
				t1 := time.Now()
				packAlways16 = true
				SgemmBF16Serial(false, s.transB, s.m, s.n, s.k, 1, a, s.lda, bb, ldb, 0, c, s.n)
				tIn, tPacked = tIn+t1.Sub(t0), tPacked+time.Since(t1)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/tIn.Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(tPacked.Seconds()/tIn.Seconds(), "x_packed")
		})
	}
}

// BenchmarkBF16KMajor: transposed bf16 A (weight gradients, attention's transposed products)
// packed straight into its panels by interleaveK6 against the interleave-then-copy packing it
// replaced, alternating in the same run; x_copy is the latter's time over the former's.
func BenchmarkBF16KMajor(b *testing.B) {
	single(b)
	im := cur
	if im.interleaveK6 == nil {
		b.Skip("no interleaveK6 on this path")
	}
	k6 := im.interleaveK6
	defer func() { im.interleaveK6 = k6 }()
	for _, s := range []struct{ m, n, k int }{{256, 64, 256}, {1024, 384, 2048}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			a := make([]uint16, s.k*s.m) // stored [k, m]: op(A) = Aᵀ
			for i := range a {
				a[i] = 0x3f80 + uint16(i%7)
			}
			bb := make([]uint16, s.k*s.n)
			for i := range bb {
				bb[i] = 0x3f80 + uint16(i%5)
			}
			c := make([]float32, s.m*s.n)
			var tK6, tCopy time.Duration
			for b.Loop() {
				t0 := time.Now()
				SgemmBF16Serial(true, false, s.m, s.n, s.k, 1, a, s.m, bb, s.n, 0, c, s.n)
				t1 := time.Now()
				im.interleaveK6 = nil
				SgemmBF16Serial(true, false, s.m, s.n, s.k, 1, a, s.m, bb, s.n, 0, c, s.n)
				im.interleaveK6 = k6
				tK6, tCopy = tK6+t1.Sub(t0), tCopy+time.Since(t1)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/tK6.Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(tCopy.Seconds()/tK6.Seconds(), "x_copy")
		})
	}
}

// BenchmarkBF16PrefetchCold: the source-row prefetches (in-place A panels, k-major packing)
// on and off, alternating in the same run, each call after 16 MiB of other writes so its
// operands start out of cache as in a training step; on the vision tower's weight-gradient
// (Aᵀ·B, k = tokens) and forward shapes. x_noprefetch is the time without them over with.
func BenchmarkBF16PrefetchCold(b *testing.B) {
	single(b)
	if cur.prefetch16 == nil {
		b.Skip("no prefetch on this path")
	}
	for _, s := range []struct {
		ta, tb  bool
		m, n, k int
	}{{true, false, 384, 384, 2048}, {false, true, 2048, 384, 1024}} {
		b.Run(fmt.Sprintf("ta=%v/%dx%dx%d", s.ta, s.m, s.n, s.k), func(b *testing.B) {
			a := make([]uint16, s.m*s.k)
			bb := make([]uint16, s.k*s.n)
			for i := range a {
				a[i] = 0x3f80 + uint16(i%7)
			}
			for i := range bb {
				bb[i] = 0x3f80 + uint16(i%5)
			}
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			c := make([]float32, s.m*s.n)
			junk := make([]byte, 16<<20)
			pf := cur.prefetch16
			defer func() { cur.prefetch16 = pf }()
			call := func(on bool) time.Duration {
				for i := range junk {
					junk[i]++
				}
				cur.prefetch16 = nil
				if on {
					cur.prefetch16 = pf
				}
				t0 := time.Now()
				SgemmBF16Serial(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 1, c, s.n)
				return time.Since(t0)
			}
			var tOn, tOff time.Duration
			for b.Loop() {
				tOn += call(true)
				tOff += call(false)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/tOn.Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(tOff.Seconds()/tOn.Seconds(), "x_noprefetch")
		})
	}
}
