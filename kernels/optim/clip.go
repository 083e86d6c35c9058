package optim

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/glmflow/glmflow/kernels/vec"
)

// normBlock is the fixed element count of one partial sum of squares.
const normBlock = 4096

// GlobalNorm returns sqrt(Σ_tensors Σ_i g[i]²) computed in float64. Each tensor is cut into
// fixed blocks of 4096 elements; each block's sum of squares is formed in float64 in a fixed
// order, and the block sums are added in tensor order, block order. The result does not depend
// on the thread count. Empty tensors and an empty list contribute 0.
//
//	grads [tensors][n_i]
func GlobalNorm(grads [][]float32) float64 {
	type block struct{ tensor, lo, hi int }
	var blocks []block
	for ti, g := range grads {
		for lo := 0; lo < len(g); lo += normBlock {
			blocks = append(blocks, block{ti, lo, min(lo+normBlock, len(g))})
		}
	}
	sums := make([]float64, len(blocks))
	work := func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			sums[b] = sumSq64(grads[blocks[b].tensor][blocks[b].lo:blocks[b].hi])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	if workers <= 1 || len(blocks) < 16 {
		work(0, len(blocks))
	} else {
		per := (len(blocks) + workers - 1) / workers
		var wg sync.WaitGroup
		for b0 := 0; b0 < len(blocks); b0 += per {
			b1 := min(b0+per, len(blocks))
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(b0, b1)
			}()
		}
		wg.Wait()
	}
	total := 0.0
	for _, s := range sums {
		total += s
	}
	return math.Sqrt(total)
}

// sumSq64 is Σ x[i]² in float64. The generic path uses four interleaved accumulators (element i
// into lane i%4); the assembly paths use 32 lanes (see asmgen), identical on AVX2 and AVX-512.
func sumSq64(x []float32) float64 {
	if path != pathGeneric && len(x) > 0 {
		return sumSq64Asm(x) // element i into float64 lane i mod 32, fixed lane tree
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

// ClipByGlobalNorm scales every gradient by maxNorm/(norm + 1e-6) when that factor is below 1,
// as torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping. A NaN or
// infinite norm returns an error and leaves the gradients untouched (the caller should skip
// the step).
//
//	grads [tensors][n_i]  scaled in place
func ClipByGlobalNorm(grads [][]float32, maxNorm float64) (float64, error) {
	if !(maxNorm > 0) {
		return 0, fmt.Errorf("optim.ClipByGlobalNorm: maxNorm = %g, want > 0", maxNorm)
	}
	norm := GlobalNorm(grads)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, fmt.Errorf("optim.ClipByGlobalNorm: gradient norm is %g", norm)
	}
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		s := float32(coef)
		for _, g := range grads {
			parallel(len(g), func(lo, hi int) { vec.Scale(s, g[lo:hi]) })
		}
	}
	return norm, nil
}
