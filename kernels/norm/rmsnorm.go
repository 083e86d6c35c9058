package norm

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels/vec"
	"github.com/glmflow/glmflow/tensors"
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
			rstd[t] = rmsRow(y[t*D:(t+1)*D], x[t*D:(t+1)*D], w, eps)
		}
	})
	return nil
}

// RMSNormForwardBF16 is RMSNormForward with y rounded to bfloat16 (round to nearest even,
// tensors.F32ToBF16): the same bits as RMSNormForward followed by that conversion, without
// the float32 y ever reaching memory (each row goes through an L1 buffer). For mixed
// precision, where the normalised activations are only read by bf16 GEMMs.
//
//	y    [T, D] bf16 bits
//	rstd [T]
//	x    [T, D]
//	w    [D]
func RMSNormForwardBF16(y []uint16, rstd, x, w []float32, T, D int, eps float32) error {
	if err := checkArgs("RMSNormForwardBF16", T, D, arg{"y", len(y), T * D}, arg{"rstd", len(rstd), T},
		arg{"x", len(x), T * D}, arg{"w", len(w), D}); err != nil {
		return err
	}
	if !(eps >= 0) {
		return fmt.Errorf("norm.RMSNormForwardBF16: eps = %g, want ≥ 0", eps)
	}
	parallel(T, D, func(t0, t1 int) {
		buf := make([]float32, D)
		for t := t0; t < t1; t++ {
			rstd[t] = rmsRow(buf, x[t*D:(t+1)*D], w, eps)
			tensors.F32ToBF16(y[t*D:(t+1)*D], buf)
		}
	})
	return nil
}

// rmsRow sets yr = (xr·r)·w for one row and returns r = 1/sqrt(mean(xr²) + eps).
func rmsRow(yr, xr, w []float32, eps float32) float32 {
	D := len(xr)
	if path != pathGeneric { // two fused passes: Σx², then y
		r := float32(1 / math.Sqrt(float64(sumSqAsm(xr)/float32(D)+eps)))
		rmsOutAsm(yr, xr, w, r)
		return r
	}
	r := float32(1 / math.Sqrt(float64(vec.SumSq(xr)/float32(D)+eps)))
	for j, v := range xr {
		yr[j] = float32(v*r) * w[j]
	}
	return r
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
