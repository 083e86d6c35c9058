package parallel

import (
	"slices"
	"sync"
	"testing"
)

// Every index is visited exactly once, for every worker count, inline or not, aligned or not.
func TestCoverage(t *testing.T) {
	defer SetMaxWorkers(SetMaxWorkers(0))
	for _, w := range []int{1, 2, 3, 8} {
		SetMaxWorkers(w)
		for _, n := range []int{0, 1, 7, 64, 1000} {
			for _, align := range []int{1, 16} {
				for _, inline := range []bool{true, false} {
					work := 0
					if !inline {
						work = 1
					}
					var mu sync.Mutex
					seen := make([]int, n)
					Range(n, align, work, 1, func(lo, hi int) {
						if lo%align != 0 {
							t.Errorf("w=%d n=%d: piece starts at %d, not a multiple of %d", w, n, lo, align)
						}
						mu.Lock()
						for i := lo; i < hi; i++ {
							seen[i]++
						}
						mu.Unlock()
					})
					For(n, work, 1, func(i int) { mu.Lock(); seen[i]++; mu.Unlock() })
					Tasks(n, work, 1, func() *int { return new(int) }, func(s *int, i int) { mu.Lock(); seen[i]++; mu.Unlock() })
					if slices.ContainsFunc(seen, func(c int) bool { return c != 3 }) {
						t.Errorf("w=%d n=%d align=%d inline=%v: visit counts %v, want all 3", w, n, align, inline, seen)
					}
				}
			}
		}
	}
}

// Inline runs happen on the caller's goroutine with one call.
func TestInline(t *testing.T) {
	calls := 0
	Range(100, 1, 10, 1000, func(lo, hi int) {
		calls++
		if lo != 0 || hi != 100 {
			t.Errorf("inline piece [%d, %d), want [0, 100)", lo, hi)
		}
	})
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
}
