package elementwise

import (
	"fmt"
	"github.com/glmflow/glmflow/kernels/internal/parallel"
)

// checkLen returns an error naming op and the first argument whose length differs from n.
func checkLen(op string, n int, names []string, xs ...[]float32) error {
	for i, x := range xs {
		if len(x) != n {
			return fmt.Errorf("elementwise.%s: len(%s) = %d, want %d", op, names[i], len(x), n)
		}
	}
	return nil
}

// chunk is the block size of the chunked loops (stack buffers of this many float32s).
const chunk = 256

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 16

// run calls f over [0, n) in contiguous pieces whose bounds are multiples of chunk, in
// parallel when n ≥ parallelMin. Elements are independent, so the split changes no result.
func run(n int, f func(lo, hi int)) { parallel.Range(n, chunk, n, parallelMin, f) }

// rows calls f over row ranges [t0, t1) of a [T, width] problem, in parallel when large.
func rows(T, width int, f func(t0, t1 int)) { parallel.Range(T, 1, T*width, parallelMin, f) }
