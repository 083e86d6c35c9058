package gridsample

import "math"

// RefForward is the float64 reference of Forward, written from the definition (PyTorch's
// generic formula ix = ((x+1)·W0 − 1)/2, per-tap border clamping, cubic convolution A = −0.75).
//
//	out [N, C]; table [H0, W0, C]; grid [N, 2]
func RefForward(out, table, grid []float64, H0, W0, C, N int) {
	for n := range N {
		rows, cols, wy, wx, _, _ := refTaps(grid[2*n], grid[2*n+1], H0, W0)
		o := out[n*C : (n+1)*C]
		clear(o)
		for i := range 4 {
			for j := range 4 {
				t := table[(rows[i]*W0+cols[j])*C:]
				for c := range C {
					o[c] += wy[i] * wx[j] * t[c]
				}
			}
		}
	}
}

// RefBackward is the float64 reference of Backward: dtable += Σ_n weights·dout (dtable may be
// nil) and dgrid = d(Σ out·dout)/d(grid) (dgrid may be nil).
//
//	dtable [H0, W0, C]; dgrid [N, 2]; dout [N, C]; table [H0, W0, C]; grid [N, 2]
func RefBackward(dtable, dgrid, dout, table, grid []float64, H0, W0, C, N int) {
	for n := range N {
		rows, cols, wy, wx, dwy, dwx := refTaps(grid[2*n], grid[2*n+1], H0, W0)
		g := dout[n*C : (n+1)*C]
		var gx, gy float64
		for i := range 4 {
			for j := range 4 {
				o := (rows[i]*W0 + cols[j]) * C
				for c := range C {
					if dtable != nil {
						dtable[o+c] += wy[i] * wx[j] * g[c]
					}
					if dgrid != nil {
						gx += wy[i] * dwx[j] * table[o+c] * g[c]
						gy += dwy[i] * wx[j] * table[o+c] * g[c]
					}
				}
			}
		}
		if dgrid != nil {
			dgrid[2*n] = gx * float64(W0) / 2
			dgrid[2*n+1] = gy * float64(H0) / 2
		}
	}
}

// refTaps returns the clamped tap rows and columns, the weights and their t-derivatives.
func refTaps(x, y float64, H0, W0 int) (rows, cols [4]int, wy, wx, dwy, dwx [4]float64) {
	ix := ((x+1)*float64(W0) - 1) / 2
	iy := ((y+1)*float64(H0) - 1) / 2
	fx, fy := math.Floor(ix), math.Floor(iy)
	for k := range 4 {
		cols[k] = min(max(int(fx)+k-1, 0), W0-1)
		rows[k] = min(max(int(fy)+k-1, 0), H0-1)
	}
	wx, dwx = refCubic(ix - fx)
	wy, dwy = refCubic(iy - fy)
	return
}

// refCubic is the Keys cubic kernel W(d) with a = A at the four tap distances 1+t, t, 1−t,
// 2−t, and d/dt of each weight.
func refCubic(t float64) (w, dw [4]float64) {
	k := func(d float64) (float64, float64) { // W(|d|), W'(|d|)
		d = math.Abs(d)
		if d <= 1 {
			return (A+2)*d*d*d - (A+3)*d*d + 1, 3*(A+2)*d*d - 2*(A+3)*d
		}
		return A*d*d*d - 5*A*d*d + 8*A*d - 4*A, 3*A*d*d - 10*A*d + 8*A
	}
	dists := [4]float64{1 + t, t, 1 - t, 2 - t}
	signs := [4]float64{1, 1, -1, -1} // d(dist)/dt
	for i, d := range dists {
		v, g := k(d)
		w[i], dw[i] = v, g*signs[i]
	}
	return
}
