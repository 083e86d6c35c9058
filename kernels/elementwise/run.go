package elementwise

import (
	"fmt"
	"runtime"
	"sync"
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

// run calls f over [0, n) in contiguous pieces whose bounds are multiples of chunk, on
// GOMAXPROCS goroutines when n is large. Elements are independent, so the split does not
// change any result.
func run(n int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers <= 1 || n < parallelMin {
		if n > 0 {
			f(0, n)
		}
		return
	}
	per := (n + workers - 1) / workers
	per = (per + chunk - 1) / chunk * chunk
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// rows calls f over row ranges [t0, t1) of a [T, width] problem, in parallel when large.
func rows(T, width int, f func(t0, t1 int)) {
	workers := min(runtime.GOMAXPROCS(0), T)
	if workers <= 1 || T*width < parallelMin {
		if T > 0 {
			f(0, T)
		}
		return
	}
	per := (T + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < T; lo += per {
		hi := min(lo+per, T)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
