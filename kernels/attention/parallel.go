package attention

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFlops is the work (multiply-adds) below which a call runs inline on the caller's
// goroutine.
const parallelFlops = 1 << 22

// runTasks runs f for every task in [0, n). Tasks go to min(GOMAXPROCS, n) workers that pull
// the next index from a shared counter; each worker owns one scratch made by mk. A task's result
// must depend only on the task index (scratch is re-initialised by f), so the assignment of
// tasks to workers cannot change any output.
func runTasks[S any](n int, work int64, mk func() *S, f func(s *S, task int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || work < parallelFlops {
		s := mk()
		for i := range n {
			f(s, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := mk()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(s, i)
			}
		}()
	}
	wg.Wait()
}
