package cpu

import (
	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/internal/parallel"
)

// SetThreads caps the goroutines every CPU kernel uses per call (GEMMs and the parallel
// loops of the other ops); n ≤ 0 restores the default, GOMAXPROCS. It returns the previous
// cap. Pipeline ranks running as goroutines of one process set it to their threads per rank
// so that ranks, not kernels, share the cores. Results do not depend on it.
func SetThreads(n int) int {
	if n < 0 {
		n = 0
	}
	gemm.SetThreads(n)
	return parallel.SetMaxWorkers(n)
}
