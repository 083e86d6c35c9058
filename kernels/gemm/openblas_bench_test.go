package gemm

// Side-by-side with OpenBLAS in the same process, single-threaded:
//
//	go test -run TestCompareOpenBLAS -v ./kernels/gemm
//	go test -run '^$' -bench OpenBLAS ./kernels/gemm
//
// OpenBLAS is loaded at run time through kernels/openblas (dlopen, no cgo); these skip when
// Debian's libopenblas0-pthread is not installed. GLMFLOW_COMPARE_ROUNDS overrides the 5
// interleaved rounds each median is taken over. TestCompareOpenBLAS also times SgemmBF16
// (bf16 × bf16 on the same shapes) against OpenBLAS fp32 in the same rounds.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/openblas"
	"github.com/glmflow/glmflow/tensors"
)

// gflops times f over enough calls to fill about 25 ms and returns GFLOP/s.
func gflops(flop float64, f func()) float64 {
	f()
	reps := 1
	for {
		t0 := time.Now()
		for range reps {
			f()
		}
		if d := time.Since(t0); d > 25*time.Millisecond {
			return flop * float64(reps) / d.Seconds() / 1e9
		}
		reps *= 2
	}
}

// loadBLAS returns OpenBLAS set to n threads, or skips the test or benchmark.
func loadBLAS(tb testing.TB, n int) *openblas.Lib {
	l, err := openblas.Load()
	if err != nil {
		tb.Skip(err)
	}
	l.SetThreads(n)
	return l
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestCompareOpenBLAS(t *testing.T) {
	if testing.Short() {
		t.Skip("timing comparison; run without -short")
	}
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("GLMFLOW_COMPARE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	cblas := loadBLAS(t, 1)
	single(t)
	type row struct {
		form, name string
		m, k, n    int
	}
	var rows []row
	for _, tr := range transposes[:3] {
		for _, n := range []int{256, 512, 1024, 2048} {
			rows = append(rows, row{tr.name, fmt.Sprintf("square n=%d", n), n, n, n})
		}
	}
	for _, tr := range transposes[:3] {
		for _, s := range modelShapes {
			rows = append(rows, row{tr.name, s.name, s.m, s.k, s.n})
		}
	}
	t.Logf("path=%v threads=1 rounds=%d: median (and best) GFLOP/s, runs interleaved; ratio = median of per-round ratios", CurrentPath(), rounds)
	t.Logf("bf16 = SgemmBF16 (bf16 A and B, fp32 accumulation) on the same problem; bf16/ob = its ratio to OpenBLAS fp32 sgemm")
	t.Logf("%-4s %-15s %15s %14s %14s %14s %6s %7s", "form", "shape", "M×K×N", "glmflow", "bf16", "openblas", "ratio", "bf16/ob")
	var ratios, ratios16 []float64
	for _, r := range rows {
		ta, tb := r.form[0] == 'T', r.form[1] == 'T'
		a, lda, b, ldb, c := operands(ta, tb, r.m, r.n, r.k)
		a16, b16 := make([]uint16, len(a)), make([]uint16, len(b))
		tensors.F32ToBF16(a16, a)
		tensors.F32ToBF16(b16, b)
		flop := 2 * float64(r.m) * float64(r.n) * float64(r.k)
		var g, h, o, q, q16 []float64
		for range rounds {
			g = append(g, gflops(flop, func() { Sgemm(ta, tb, r.m, r.n, r.k, 1, a, lda, b, ldb, 0, c, r.n) }))
			h = append(h, gflops(flop, func() { SgemmBF16(ta, tb, r.m, r.n, r.k, 1, a16, lda, b16, ldb, 0, c, r.n) }))
			o = append(o, gflops(flop, func() { cblas.Sgemm(ta, tb, r.m, r.n, r.k, 1, a, lda, b, ldb, 0, c, r.n) }))
			q = append(q, g[len(g)-1]/o[len(o)-1])
			q16 = append(q16, h[len(h)-1]/o[len(o)-1])
		}
		ratios = append(ratios, median(q))
		ratios16 = append(ratios16, median(q16))
		t.Logf("%-4s %-15s %15s %6.1f (%5.1f) %6.1f (%5.1f) %6.1f (%5.1f) %6.2f %7.2f", r.form, r.name, fmt.Sprintf("%d×%d×%d", r.m, r.k, r.n),
			median(g), slices.Max(g), median(h), slices.Max(h), median(o), slices.Max(o), median(q), median(q16))
	}
	t.Logf("fp32: median ratio %.2f, min %.2f; bf16: median ratio %.2f, min %.2f",
		median(ratios), slices.Min(ratios), median(ratios16), slices.Min(ratios16))
}

func BenchmarkOpenBLAS(b *testing.B) {
	cblas := loadBLAS(b, 1)
	for _, tr := range transposes[:3] {
		for _, n := range []int{256, 512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/n=%d", tr.name, n), func(b *testing.B) {
				a, lda, bb, ldb, c := operands(tr.ta, tr.tb, n, n, n)
				for b.Loop() {
					cblas.Sgemm(tr.ta, tr.tb, n, n, n, 1, a, lda, bb, ldb, 0, c, n)
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestOpenBLASSamples times single calls, glmflow and OpenBLAS alternating, for 1.5 s per
// shape and prints the 50th and 90th percentiles: on a shared machine the 90th percentile of
// short calls tracks uncontended speed better than long runs do. Shapes come from
// GLMFLOW_GEMM_SAMPLE="NN:256x256x256,TN:1024x256x1376" (form:MxKxN); GLMFLOW_GEMM_THREADS
// sets both libraries' thread count (default 1) and GLMFLOW_GEMM_PATH=avx2 forces that path.
func TestOpenBLASSamples(t *testing.T) {
	spec := os.Getenv("GLMFLOW_GEMM_SAMPLE")
	if spec == "" {
		t.Skip("set GLMFLOW_GEMM_SAMPLE to run")
	}
	if os.Getenv("GLMFLOW_GEMM_PATH") == "avx2" {
		defer ForcePath(ForcePath(PathAVX2))
	}
	th := 1
	if v, err := strconv.Atoi(os.Getenv("GLMFLOW_GEMM_THREADS")); err == nil {
		th = v
	}
	cblas := loadBLAS(t, th)
	defer SetThreads(SetThreads(th))
	for _, s := range strings.Split(spec, ",") {
		var form string
		var m, k, n int
		if _, err := fmt.Sscanf(strings.Replace(s, ":", " ", 1), "%s %dx%dx%d", &form, &m, &k, &n); err != nil || len(form) != 2 {
			t.Fatalf("bad shape %q (want e.g. NT:1024x256x1376): %v", s, err)
		}
		ta, tb := form[0] == 'T', form[1] == 'T'
		a, lda, b, ldb, c := operands(ta, tb, m, n, k)
		flop := 2 * float64(m) * float64(n) * float64(k)
		var g, o []float64
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			t0 := time.Now()
			Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			g = append(g, flop/time.Since(t0).Seconds()/1e9)
			t0 = time.Now()
			cblas.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			o = append(o, flop/time.Since(t0).Seconds()/1e9)
		}
		slices.Sort(g)
		slices.Sort(o)
		p := func(x []float64, q float64) float64 { return x[int(q*float64(len(x)-1))] }
		t.Logf("%s %dx%dx%d  n=%d  glm p50 %.1f p90 %.1f | oblas p50 %.1f p90 %.1f | p90 ratio %.2f", form, m, k, n, len(g), p(g, .5), p(g, .9), p(o, .5), p(o, .9), p(g, .9)/p(o, .9))
	}
}
