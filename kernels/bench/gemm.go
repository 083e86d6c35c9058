package bench

import (
	"fmt"
	"runtime"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/openblas"
	"github.com/glmflow/glmflow/tensors"
)

// shape is one GEMM problem: C[M,N] = op(A)[M,K]·op(B)[K,N].
type shape struct {
	name           string
	m, k, n        int
	transA, transB bool
}

// The square sizes and the model shapes of performance.md (M, K, N).
var (
	squareShapes = []int{256, 512, 1024, 2048}
	modelShapes  = []shape{
		{"attn proj q/o (T=1024,d=256)", 1024, 256, 256, false, false},
		{"dense gate_up (1024x256x1376)", 1024, 256, 1376, false, false},
		{"expert gate_up (256 tok)", 256, 256, 512, false, false},
		{"expert down (256 tok)", 256, 256, 256, false, false},
		{"LM head fwd (1024x256x8192)", 1024, 256, 8192, false, false},
		{"LM head dgrad (1024x8192x256)", 1024, 8192, 256, false, false},
		{"patch embed (64x1176x384)", 64, 1176, 384, false, false},
		{"ViT mlp (2048x384x2048)", 2048, 384, 2048, false, false},
	}
)

// operands allocates A, B, C for s with deterministic non-trivial values.
func operands(s shape) (a, b, c []float32, lda, ldb int) {
	a, b, c = make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
	for i := range a {
		a[i] = float32(i%7)*0.1 - 0.3
	}
	for i := range b {
		b[i] = float32(i%5)*0.1 - 0.2
	}
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return
}

func flops(s shape) float64 { return 2 * float64(s.m) * float64(s.n) * float64(s.k) }

// blasRate measures OpenBLAS on s, or 0 when it is not installed.
func blasRate(c *Config, blas *openblas.Lib, s shape) float64 {
	if blas == nil {
		return 0
	}
	a, b, cc, lda, ldb := operands(s)
	return rate(c, flops(s), func() {
		blas.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, cc, s.n)
	}) / 1e9
}

func glmRate(c *Config, s shape) float64 {
	a, b, cc, lda, ldb := operands(s)
	return rate(c, flops(s), func() {
		gemm.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, cc, s.n)
	}) / 1e9
}

// loadBLAS returns OpenBLAS set to GOMAXPROCS threads, or nil with a note printed once.
func loadBLAS(emit func(Row)) *openblas.Lib {
	blas, err := openblas.Load()
	if err != nil {
		emit(Row{Name: "(no OpenBLAS baseline: " + err.Error() + ")"})
		return nil
	}
	blas.SetThreads(runtime.GOMAXPROCS(0))
	return blas
}

func init() {
	register("gemm", func(c *Config, emit func(Row)) error {
		blas := loadBLAS(emit)
		gemm.SetThreads(runtime.GOMAXPROCS(0))
		var shapes []shape
		sq := squareShapes
		if c.Quick {
			sq = sq[:3]
		}
		for _, n := range sq {
			shapes = append(shapes, shape{fmt.Sprintf("sgemm NN n=%d", n), n, n, n, false, false})
		}
		for _, t := range []struct {
			name   string
			ta, tb bool
		}{{"NT", false, true}, {"TN", true, false}} {
			shapes = append(shapes, shape{fmt.Sprintf("sgemm %s n=1024", t.name), 1024, 1024, 1024, t.ta, t.tb})
		}
		if !c.Quick {
			shapes = append(shapes, modelShapes...)
		}
		for _, s := range shapes {
			emit(Row{Name: s.name, Unit: "GFLOP/s", Value: glmRate(c, s), Base: blasRate(c, blas, s), BaseName: "OpenBLAS"})
		}
		// bf16 weights × fp32 activations (B is the weight, stored [N, K] as HF Linear layers
		// are: transB), against OpenBLAS fp32 on the same problem.
		for _, s := range []shape{
			{"bf16 B: linear 1024x1024x1024", 1024, 1024, 1024, false, true},
			{"bf16 B: LM head 1024x256x8192", 1024, 256, 8192, false, true},
		} {
			a, b, cc, lda, ldb := operands(s)
			bb := make([]uint16, len(b))
			tensors.F32ToBF16(bb, b)
			v := rate(c, flops(s), func() {
				gemm.SgemmBF16B(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, cc, s.n)
			}) / 1e9
			emit(Row{Name: s.name, Unit: "GFLOP/s", Value: v, Base: blasRate(c, blas, s), BaseName: "OpenBLAS f32"})
		}
		// bf16 × bf16 with fp32 accumulation (gemm.SgemmBF16: VDPBF16PS on PathAVX512BF16,
		// widened to the fp32 kernels elsewhere), against OpenBLAS fp32 on the same problem:
		// linear forward (NT, weights [N,K]: square, LM head, dense and expert gate_up), input
		// gradient (NN) and weight gradient (TN).
		kind := "bf16×bf16 (VDPBF16PS)"
		if gemm.CurrentPath() != gemm.PathAVX512BF16 {
			kind = "bf16×bf16 (fp32 fallback)"
		}
		bf := []shape{
			{"NT 1024x1024x1024", 1024, 1024, 1024, false, true},
			{"NT 1024x256x8192", 1024, 256, 8192, false, true},
		}
		if !c.Quick {
			bf = append(bf,
				shape{"NN 1024x1024x1024", 1024, 1024, 1024, false, false},
				shape{"TN 1024x1024x1024", 1024, 1024, 1024, true, false},
				shape{"NT 1024x256x1376", 1024, 256, 1376, false, true},
				shape{"NT 256x256x512", 256, 256, 512, false, true})
		}
		for _, s := range bf {
			a, b, cc, lda, ldb := operands(s)
			aa, bb := make([]uint16, len(a)), make([]uint16, len(b))
			tensors.F32ToBF16(aa, a)
			tensors.F32ToBF16(bb, b)
			v := rate(c, flops(s), func() {
				gemm.SgemmBF16(s.transA, s.transB, s.m, s.n, s.k, 1, aa, lda, bb, ldb, 0, cc, s.n)
			}) / 1e9
			emit(Row{Name: kind + ": " + s.name, Unit: "GFLOP/s", Value: v, Base: blasRate(c, blas, s), BaseName: "OpenBLAS f32"})
		}
		return nil
	})
}
