package moe

import (
	"math"
	"testing"

	kt "github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

// offsFor returns expert offsets for the given per-expert row counts.
func offsFor(counts ...int) []int32 {
	o := make([]int32, len(counts)+1)
	for e, c := range counts {
		o[e+1] = o[e] + int32(c)
	}
	return o
}

// absGrouped is the a-priori magnitude Σ_k |x·w| of every output element.
func absGrouped(E, R, N, K int, x, w []float32, offs []int32) []float64 {
	ax, aw := kt.F64(x), kt.F64(w)
	for i := range ax {
		ax[i] = math.Abs(ax[i])
	}
	for i := range aw {
		aw[i] = math.Abs(aw[i])
	}
	return RefGroupedLinear(E, R, N, K, ax, aw, offs)
}

func TestGroupedLinear(t *testing.T) { gemmPaths(t, testGroupedLinear) }

func testGroupedLinear(t *testing.T) {
	cases := []struct {
		name   string
		N, K   int
		counts []int
	}{
		{"balanced", 24, 20, []int{5, 7, 6, 4}},
		{"empty experts", 17, 9, []int{0, 11, 0, 0, 3, 0}},
		{"hot expert", 33, 16, []int{300, 1, 0, 2}}, // > groupRowTile rows in one expert
		{"no rows", 8, 8, []int{0, 0, 0}},
		{"N = 0", 0, 5, []int{2, 3}},
		{"K = 0", 6, 0, []int{4, 0, 1}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			E, N, K := len(c.counts), c.N, c.K
			offs := offsFor(c.counts...)
			R := int(offs[E])
			r := kt.RNG(uint64(10 + ci))
			x := kt.Normal(r, R*K, 1)
			w := kt.Normal(r, E*N*K, 1)
			dy := kt.Normal(r, R*N, 1)

			y := make([]float32, R*N)
			kt.Poison(y)
			must(t, GroupedLinear(E, R, N, K, x, w, offs, y))
			mag := absGrouped(E, R, N, K, x, w, offs)
			kt.Close(t, "y", y, RefGroupedLinear(E, R, N, K, kt.F64(x), kt.F64(w), offs),
				func(i int) float64 { return kt.Tol(1, K, kt.Eps32, mag[i], 0) })

			// dx[r] = dy[r]·w[e]: the grouped linear with wᵀ per expert.
			wT := make([]float32, E*K*N)
			for e := range E {
				for n := range N {
					for kk := range K {
						wT[e*K*N+kk*N+n] = w[e*N*K+n*K+kk]
					}
				}
			}
			dx := make([]float32, R*K)
			kt.Poison(dx)
			must(t, GroupedLinearBackwardInput(E, R, N, K, dy, w, offs, dx))
			magX := absGrouped(E, R, K, N, dy, wT, offs)
			kt.Close(t, "dx", dx, RefGroupedLinear(E, R, K, N, kt.F64(dy), kt.F64(wT), offs),
				func(i int) float64 { return kt.Tol(1, N, kt.Eps32, magX[i], 0) })

			// dw[e] += dy_eᵀ·x_e, accumulated onto a non-zero start.
			dw := kt.Uniform(r, E*N*K, -1, 1)
			want := kt.F64(dw)
			magW := make([]float64, E*N*K)
			for e := range E {
				for row := int(offs[e]); row < int(offs[e+1]); row++ {
					for n := range N {
						for kk := range K {
							p := float64(dy[row*N+n]) * float64(x[row*K+kk])
							want[e*N*K+n*K+kk] += p
							magW[e*N*K+n*K+kk] += math.Abs(p)
						}
					}
				}
			}
			must(t, GroupedLinearBackwardWeight(E, R, N, K, dy, x, offs, dw))
			kt.Close(t, "dw", dw, want, func(i int) float64 {
				return kt.Tol(1, R+1, kt.Eps32, magW[i]+1, 0)
			})
		})
	}
}

func TestGroupedLinearErrors(t *testing.T) {
	f := func(n int) []float32 { return make([]float32, n) }
	if err := GroupedLinear(2, 4, 3, 5, f(20), f(30), []int32{0, 3, 5}, f(12)); err == nil {
		t.Error("offs[E] ≠ R: no error")
	}
	if err := GroupedLinear(2, 4, 3, 5, f(20), f(30), []int32{0, 3, 2, 4}[:3], f(12)); err == nil {
		t.Error("decreasing offs: no error")
	}
	if err := GroupedLinearBackwardInput(2, 4, 3, 5, f(12), f(29), []int32{0, 1, 4}, f(20)); err == nil {
		t.Error("short w: no error")
	}
	if err := GroupedLinearBackwardWeight(2, 4, 3, 5, f(12), f(20), []int32{0, 1}, f(30)); err == nil {
		t.Error("short offs: no error")
	}
}
