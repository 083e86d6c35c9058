//go:build openblas && cgo

package gemm

// Side-by-side with OpenBLAS in the same process, single-threaded:
//
//	go test -tags openblas -run TestCompareOpenBLAS -v ./kernels/gemm
//	go test -tags openblas -run '^$' -bench OpenBLAS ./kernels/gemm
//
// The cgo binding is internal/cblas (cgo is not allowed in _test files nor next to Go
// assembly). Needs Debian's libopenblas-dev (pthread flavour). GLMFLOW_COMPARE_ROUNDS overrides the
// 5 interleaved rounds each median is taken over.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/gemm/internal/cblas"
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
	cblas.SetThreads(1)
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
	t.Logf("%-4s %-15s %15s %14s %14s %6s", "form", "shape", "M×K×N", "glmflow", "openblas", "ratio")
	var ratios []float64
	for _, r := range rows {
		ta, tb := r.form[0] == 'T', r.form[1] == 'T'
		a, lda, b, ldb, c := operands(ta, tb, r.m, r.n, r.k)
		flop := 2 * float64(r.m) * float64(r.n) * float64(r.k)
		var g, o, q []float64
		for range rounds {
			g = append(g, gflops(flop, func() { Sgemm(ta, tb, r.m, r.n, r.k, 1, a, lda, b, ldb, 0, c, r.n) }))
			o = append(o, gflops(flop, func() { cblas.Sgemm(ta, tb, r.m, r.n, r.k, 1, a, lda, b, ldb, 0, c, r.n) }))
			q = append(q, g[len(g)-1]/o[len(o)-1])
		}
		ratios = append(ratios, median(q))
		t.Logf("%-4s %-15s %15s %6.1f (%5.1f) %6.1f (%5.1f) %6.2f", r.form, r.name, fmt.Sprintf("%d×%d×%d", r.m, r.k, r.n),
			median(g), slices.Max(g), median(o), slices.Max(o), median(q))
	}
	t.Logf("median ratio %.2f, min %.2f", median(ratios), slices.Min(ratios))
}

func BenchmarkOpenBLAS(b *testing.B) {
	cblas.SetThreads(1)
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
