package jpeg

import "sync"

// scratch holds a decode's internal buffers (component planes, progressive coefficients, the
// unstuffed entropy segment), reused across Decode calls through scratchPool so that decoding
// image after image neither allocates nor zeroes them again. None of them is visible in the
// result.
type scratch struct {
	planes []uint8
	coef   []int16
	seg    []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// poisonScratch, when non-zero, fills every reused plane buffer with that byte (tests: a
// decode must never read plane bytes it has not written).
var poisonScratch byte

// planeBuf returns n bytes of reused storage (contents undefined).
func (s *scratch) planeBuf(n int) []uint8 {
	if cap(s.planes) < n {
		s.planes = make([]uint8, n)
	}
	b := s.planes[:n]
	if poisonScratch != 0 {
		for i := range b {
			b[i] = poisonScratch
		}
	}
	return b
}

// coefBuf returns n zeroed coefficients.
func (s *scratch) coefBuf(n int) []int16 {
	if cap(s.coef) < n {
		s.coef = make([]int16, n)
		return s.coef
	}
	b := s.coef[:n]
	clear(b)
	return b
}
