package moe

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxWorkers caps the goroutines a kernel uses; 0 means runtime.GOMAXPROCS(0). Tests set it to
// check that results do not depend on the thread count.
var maxWorkers = 0

// minParallelWork is the approximate amount of work (flops or bytes) below which a kernel runs
// inline: spawning goroutines costs a few microseconds. Tests lower it to force threading.
var minParallelWork = 1 << 17

func workers() int {
	if maxWorkers > 0 {
		return maxWorkers
	}
	return runtime.GOMAXPROCS(0)
}

// parallelFor runs fn(i) for every i in [0, n). work estimates the total cost; small jobs run
// inline. Tasks are handed out through an atomic counter, so which goroutine runs a task varies,
// but each task's result must not depend on it (tasks write disjoint outputs).
func parallelFor(n int, work int, fn func(i int)) {
	w := min(workers(), n)
	if w <= 1 || work < minParallelWork {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// tiles returns how many tiles of size ts cover n.
func tiles(n, ts int) int { return (n + ts - 1) / ts }
