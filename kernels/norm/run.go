package norm

import (
	"fmt"
	par "github.com/glmflow/glmflow/kernels/internal/parallel"
)

// rowChunk is the fixed row count of one weight-gradient partial sum.
const rowChunk = 64

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 15

// parallel calls f(lo, hi) over [0, n) in contiguous pieces, in parallel when n·width is
// large, inline otherwise.
func parallel(n, width int, f func(lo, hi int)) { par.Range(n, 1, n*width, parallelMin, f) }

// sumPartials adds the chunk partials part [C, D] into acc [D], chunk 0 first, for every
// column; columns are split over goroutines (each column's order is fixed).
func sumPartials(acc, part []float32, C, D int) {
	parallel(D, C, func(j0, j1 int) {
		for c := range C {
			p := part[c*D : (c+1)*D]
			for j := j0; j < j1; j++ {
				acc[j] += p[j]
			}
		}
	})
}

type arg struct {
	name      string
	got, want int
}

func checkArgs(op string, T, D int, args ...arg) error {
	if T < 0 || D <= 0 {
		return fmt.Errorf("norm.%s: bad dims T=%d D=%d", op, T, D)
	}
	for _, a := range args {
		if a.got != a.want {
			return fmt.Errorf("norm.%s: len(%s) = %d, want %d", op, a.name, a.got, a.want)
		}
	}
	return nil
}
