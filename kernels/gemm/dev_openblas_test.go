//go:build openblas && cgo

package gemm

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/gemm/internal/cblas"
)

// TestDevP90: per-call samples, 90th percentile. GLMFLOW_DEV="NN:256x256x256,..."
func TestDevP90(t *testing.T) {
	spec := os.Getenv("GLMFLOW_DEV")
	if spec == "" {
		t.Skip()
	}
	cblas.SetThreads(1)
	single(t)
	for _, s := range strings.Split(spec, ",") {
		var form string
		var m, k, n int
		fmt.Sscanf(strings.Replace(s, ":", " ", 1), "%s %dx%dx%d", &form, &m, &k, &n)
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
