package loader

import (
	"math/bits"
	"math/rand/v2"
)

// Permutation returns the order in which epoch epoch visits the n samples of a dataset.
//
// The RNG is fixed and documented so orders never change under a new Go release: a PCG-DXSM
// generator (math/rand/v2 NewPCG, whose output is specified) seeded with (seed, epoch), driving
// a Fisher–Yates shuffle from the last element down; the index for position i is drawn
// uniformly from [0, i] with Lemire's multiply-shift method and rejection (bounded below).
func Permutation(n int, seed, epoch uint64) []int64 {
	p := make([]int64, n)
	for i := range p {
		p[i] = int64(i)
	}
	src := rand.NewPCG(seed, epoch)
	for i := n - 1; i > 0; i-- {
		j := bounded(src, uint64(i)+1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// bounded returns a uniform value in [0, n) (n ≥ 1): Lemire, "Fast Random Integer Generation
// in an Interval" (2019), 64-bit version.
func bounded(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
