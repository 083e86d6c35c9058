package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Threading: a lazily grown pool of worker goroutines that block on a channel (no spinning).
// A parallel call queues one helper closure per extra thread (never blocking: if the queue is
// full it skips) and works on its own tasks too; tasks are claimed with an atomic counter and
// the caller waits only for claimed tasks. A helper that starts late finds nothing left and
// returns, so when every worker is busy (nested or concurrent calls) the caller simply does
// all the work itself: nested use cannot deadlock.

var threadSetting atomic.Int64 // ≤ 0: follow runtime.GOMAXPROCS(0)

// SetThreads sets how many goroutines parallel calls use and returns the previous setting.
// n ≤ 0 restores the default: runtime.GOMAXPROCS(0), read at every call. Results do not
// depend on the setting (see doc.go).
func SetThreads(n int) int { return int(threadSetting.Swap(int64(n))) }

// Threads returns the number of goroutines the next parallel call will use.
func Threads() int {
	if n := int(threadSetting.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

var (
	workMu  sync.Mutex
	workers int
	work    = make(chan func(), 256)
)

// growWorkers makes sure at least n workers exist.
func growWorkers(n int) {
	workMu.Lock()
	defer workMu.Unlock()
	for ; workers < n; workers++ {
		go func() {
			for f := range work {
				f()
			}
		}()
	}
}

// parallel runs fn(ws, i) for i in [0, n) on up to threads goroutines, the caller included,
// each with its own workspace.
func parallel(n, threads int, fn func(ws *workspace, i int)) {
	helpers := min(threads, n) - 1
	if helpers <= 0 {
		ws := workspaces.Get().(*workspace)
		for i := 0; i < n; i++ {
			fn(ws, i)
		}
		workspaces.Put(ws)
		return
	}
	growWorkers(helpers)
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(n)
	drain := func() {
		ws := workspaces.Get().(*workspace)
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(ws, i)
			wg.Done()
		}
		workspaces.Put(ws)
	}
	for h := 0; h < helpers; h++ {
		select {
		case work <- drain:
		default: // queue full: the caller does the rest
		}
	}
	drain()
	wg.Wait()
}
