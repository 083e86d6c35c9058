package norm

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels/vec"
)

// RMSNormForward sets rstd[t] = 1/sqrt(Σ_j x[t,j]²/D + eps) and y[t,j] = (x[t,j]·rstd[t])·w[j].
// y may be the same slice as x.
//
//	y    [T, D]
//	rstd [T]
//	x    [T, D]
//	w    [D]
func RMSNormForward(y, rstd, x, w []float32, T, D int, eps float32) error {
	if err := checkArgs("RMSNormForward", T, D, arg{"y", len(y), T * D}, arg{"rstd", len(rstd), T},
		arg{"x", len(x), T * D}, arg{"w", len(w), D}); err != nil {
		return err
	}
	if !(eps >= 0) {
		return fmt.Errorf("norm.RMSNormForward: eps = %g, want ≥ 0", eps)
	}
	parallel(T, D, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			xr, yr := x[t*D:(t+1)*D], y[t*D:(t+1)*D]
			if path != pathGeneric { // two fused passes: Σx², then y
				r := float32(1 / math.Sqrt(float64(sumSqAsm(xr)/float32(D)+eps)))
				rstd[t] = r
				rmsOutAsm(yr, xr, w, r)
				continue
			}
			r := float32(1 / math.Sqrt(float64(vec.SumSq(xr)/float32(D)+eps)))
			rstd[t] = r
			for j, v := range xr {
				yr[j] = float32(v*r) * w[j]
			}
		}
	})
	return nil
}

// RMSNormBackward overwrites dx and accumulates dw, given the forward's x, w and rstd:
//
//	x̂ = x·rstd, g = dy·w, dx = rstd·(g − x̂·mean_j(g·x̂)), dw += Σ_t dy·x̂.
//
// dx may be the same slice as dy.
//
//	dx   [T, D]
//	dw   [D]     accumulated
//	dy   [T, D]
//	x    [T, D]
//	w    [D]
//	rstd [T]
func RMSNormBackward(dx, dw, dy, x, w, rstd []float32, T, D int) error {
	if err := checkArgs("RMSNormBackward", T, D, arg{"dx", len(dx), T * D}, arg{"dw", len(dw), D},
		arg{"dy", len(dy), T * D}, arg{"x", len(x), T * D}, arg{"w", len(w), D}, arg{"rstd", len(rstd), T}); err != nil {
		return err
	}
	C := (T + rowChunk - 1) / rowChunk
	part := make([]float32, C*D)
	parallel(C, rowChunk*D, func(c0, c1 int) {
		g := make([]float32, D)
		for c := c0; c < c1; c++ {
			pw := part[c*D : (c+1)*D]
			for t := c * rowChunk; t < min((c+1)*rowChunk, T); t++ {
				xr, dyr, dxr := x[t*D:(t+1)*D], dy[t*D:(t+1)*D], dx[t*D:(t+1)*D]
				r := rstd[t]
				if path != pathGeneric { // two fused passes over the row (the second from L1)
					m := rmsGrad1Asm(pw, dyr, xr, w, r) * r / float32(D)
					rmsGrad2Asm(dxr, dyr, xr, w, r, m)
					continue
				}
				for j, v := range dyr {
					g[j] = v * w[j]
					pw[j] += v * float32(xr[j]*r)
				}
				m := vec.Dot(g, xr) * r / float32(D) // mean(g·x̂)
				for j, v := range xr {
					dxr[j] = r * (g[j] - float32(v*r)*m)
				}
			}
		}
	})
	sumPartials(dw, part, C, D)
	return nil
}
