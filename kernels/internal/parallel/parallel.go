// Package parallel runs kernel loops on goroutines without changing their results: work is
// split over independent outputs, so which goroutine computes what never changes a value.
// Small problems run inline on the caller's goroutine (spawning costs microseconds). Workers
// block on a WaitGroup; nothing spins.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var maxWorkers atomic.Int64 // 0: GOMAXPROCS

// Workers is the goroutine count a parallel loop uses: GOMAXPROCS, or the SetMaxWorkers cap.
func Workers() int {
	if m := int(maxWorkers.Load()); m > 0 {
		return m
	}
	return runtime.GOMAXPROCS(0)
}

// SetMaxWorkers caps Workers at n (0: no cap) and returns the previous cap. Tests use it to
// check that results do not depend on the thread count.
func SetMaxWorkers(n int) int { return int(maxWorkers.Swap(int64(n))) }

// Range calls f over [0, n) split into at most Workers() contiguous pieces, in parallel. It
// calls f(0, n) inline when work < minWork (work and minWork in the caller's unit, e.g. flops
// or bytes) or when one worker is allowed. Piece bounds are multiples of align (≥ 1) except
// the last.
func Range(n, align, work, minWork int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := min(Workers(), n)
	if w <= 1 || work < minWork {
		f(0, n)
		return
	}
	align = max(align, 1)
	per := (n + w - 1) / w
	per = (per + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// For calls f(i) for every i in [0, n): inline when work < minWork, otherwise on Workers()
// goroutines that take the next index from a shared counter (good for uneven tasks).
func For(n, work, minWork int, f func(i int)) {
	Tasks(n, work, minWork, func() *struct{} { return nil }, func(_ *struct{}, i int) { f(i) })
}

// Tasks is For with per-worker scratch: each worker calls mk once and passes its scratch to
// every task it runs. A task's result must depend only on its index (f re-initialises what it
// uses of the scratch).
func Tasks[S any](n, work, minWork int, mk func() *S, f func(s *S, i int)) {
	if n <= 0 {
		return
	}
	w := min(Workers(), n)
	if w <= 1 || work < minWork {
		s := mk()
		for i := range n {
			f(s, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			s := mk()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(s, i)
			}
		})
	}
	wg.Wait()
}
