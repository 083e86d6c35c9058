package attention

import (
	"github.com/glmflow/glmflow/kernels/internal/parallel"
)

// parallelFlops is the work (multiply-adds) below which a call runs inline on the caller's
// goroutine.
const parallelFlops = 1 << 22

// runTasks runs f for every task in [0, n) on worker goroutines, each with its own scratch
// from mk, inline below parallelFlops multiply-adds (see parallel.Tasks). A task's result
// depends only on its index, so the task-to-worker assignment cannot change any output.
func runTasks[S any](n int, work int64, mk func() *S, f func(s *S, task int)) {
	parallel.Tasks(n, int(min(work, 1<<62)), parallelFlops, mk, f)
}
