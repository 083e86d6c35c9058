package stages

import (
	"fmt"
	"sort"
	"sync"
)

// Saved keeps per-micro-batch state from a stage's Forward until its backward. It is safe for
// concurrent use (a pipeline may run forwards and backwards of different micro-batches on
// different goroutines).
type Saved[T any] struct {
	mu sync.Mutex
	m  map[int]T
}

// Put stores v for micro-batch mb; a second Put for a live mb is an error (a forward ran
// twice without its backward).
func (s *Saved[T]) Put(stage string, mb int, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]T{}
	}
	if _, dup := s.m[mb]; dup {
		return fmt.Errorf("%s: forward of micro-batch %d ran twice without its backward", stage, mb)
	}
	s.m[mb] = v
	return nil
}

// Get returns mb's state without releasing it.
func (s *Saved[T]) Get(stage string, mb int) (T, error) { return s.lookup(stage, mb, false) }

// Take returns mb's state and releases it.
func (s *Saved[T]) Take(stage string, mb int) (T, error) { return s.lookup(stage, mb, true) }

func (s *Saved[T]) lookup(stage string, mb int, release bool) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[mb]
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s: backward of micro-batch %d without its forward", stage, mb)
	}
	if release {
		delete(s.m, mb)
	}
	return v, nil
}

// Live lists the micro-batches with kept state, sorted (for leak checks and memory reports).
func (s *Saved[T]) Live() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var mbs []int
	for mb := range s.m {
		mbs = append(mbs, mb)
	}
	sort.Ints(mbs)
	return mbs
}
