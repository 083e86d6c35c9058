package norm

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels/vec"
)

// LayerNormForward sets mean[t] = Σ_j x[t,j]/D, rstd[t] = 1/sqrt(Σ_j (x[t,j]−mean)²/D + eps)
// (biased variance, two passes) and y[t,j] = ((x[t,j]−mean)·rstd)·w[j] + b[j].
// y may be the same slice as x.
//
//	y    [T, D]
//	mean [T]
//	rstd [T]
//	x    [T, D]
//	w, b [D]
func LayerNormForward(y, mean, rstd, x, w, b []float32, T, D int, eps float32) error {
	if err := checkArgs("LayerNormForward", T, D, arg{"y", len(y), T * D}, arg{"mean", len(mean), T},
		arg{"rstd", len(rstd), T}, arg{"x", len(x), T * D}, arg{"w", len(w), D}, arg{"b", len(b), D}); err != nil {
		return err
	}
	if !(eps >= 0) {
		return fmt.Errorf("norm.LayerNormForward: eps = %g, want ≥ 0", eps)
	}
	parallel(T, D, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			xr, yr := x[t*D:(t+1)*D], y[t*D:(t+1)*D]
			if path != pathGeneric { // three fused passes: Σx, Σ(x−mean)², then y
				mu := sumAsm(xr) / float32(D)
				r := float32(1 / math.Sqrt(float64(sumSqDevAsm(xr, mu)/float32(D)+eps)))
				mean[t], rstd[t] = mu, r
				lnOutAsm(yr, xr, w, b, mu, r)
				continue
			}
			mu := vec.Sum(xr) / float32(D)
			var v float32
			for _, xv := range xr {
				d := xv - mu
				v += d * d
			}
			r := float32(1 / math.Sqrt(float64(v/float32(D)+eps)))
			mean[t], rstd[t] = mu, r
			for j, xv := range xr {
				yr[j] = float32((xv-mu)*r)*w[j] + b[j]
			}
		}
	})
	return nil
}

// LayerNormBackward overwrites dx and accumulates dw and db, given the forward's x, w, mean and
// rstd:
//
//	x̂ = (x−mean)·rstd, g = dy·w, dx = rstd·(g − mean_j(g) − x̂·mean_j(g·x̂)),
//	dw += Σ_t dy·x̂, db += Σ_t dy.
//
// dx may be the same slice as dy.
//
//	dx         [T, D]
//	dw, db     [D]     accumulated
//	dy, x      [T, D]
//	w          [D]
//	mean, rstd [T]
func LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, T, D int) error {
	if err := checkArgs("LayerNormBackward", T, D, arg{"dx", len(dx), T * D}, arg{"dw", len(dw), D},
		arg{"db", len(db), D}, arg{"dy", len(dy), T * D}, arg{"x", len(x), T * D}, arg{"w", len(w), D},
		arg{"mean", len(mean), T}, arg{"rstd", len(rstd), T}); err != nil {
		return err
	}
	C := (T + rowChunk - 1) / rowChunk
	part := make([]float32, 2*C*D) // [C, D] for dw, then [C, D] for db
	pb := part[C*D:]
	parallel(C, rowChunk*D, func(c0, c1 int) {
		g := make([]float32, D)
		xh := make([]float32, D)
		for c := c0; c < c1; c++ {
			pw, pbc := part[c*D:(c+1)*D], pb[c*D:(c+1)*D]
			for t := c * rowChunk; t < min((c+1)*rowChunk, T); t++ {
				xr, dyr, dxr := x[t*D:(t+1)*D], dy[t*D:(t+1)*D], dx[t*D:(t+1)*D]
				mu, r := mean[t], rstd[t]
				if path != pathGeneric { // two fused passes over the row (the second from L1)
					sg, sgx := lnGrad1Asm(pw, pbc, dyr, xr, w, mu, r)
					lnGrad2Asm(dxr, dyr, xr, w, mu, r, sg/float32(D), sgx/float32(D))
					continue
				}
				for j, v := range dyr {
					h := (xr[j] - mu) * r
					xh[j] = h
					g[j] = v * w[j]
					pw[j] += v * h
					pbc[j] += v
				}
				mg := vec.Sum(g) / float32(D)
				mgx := vec.Dot(g, xh) / float32(D)
				for j := range dxr {
					dxr[j] = r * (g[j] - mg - xh[j]*mgx)
				}
			}
		}
	})
	sumPartials(dw, part[:C*D], C, D)
	sumPartials(db, pb, C, D)
	return nil
}
