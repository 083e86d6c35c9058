package norm

import "math"

// Float64 references, row by row from the textbook formulas.

// RefRMSNormForward: y = x/sqrt(mean(x²)+eps)·w; rstd [T].
func RefRMSNormForward(y, rstd, x, w []float64, T, D int, eps float64) {
	for t := range T {
		xr := x[t*D : (t+1)*D]
		ss := 0.0
		for _, v := range xr {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(D)+eps)
		rstd[t] = r
		for j, v := range xr {
			y[t*D+j] = v * r * w[j]
		}
	}
}

// RefRMSNormBackward: dx overwritten, dw accumulated.
func RefRMSNormBackward(dx, dw, dy, x, w, rstd []float64, T, D int) {
	for t := range T {
		r := rstd[t]
		s := 0.0
		for j := range D {
			s += dy[t*D+j] * w[j] * x[t*D+j] * r
		}
		s /= float64(D)
		for j := range D {
			xh := x[t*D+j] * r
			dx[t*D+j] = r * (dy[t*D+j]*w[j] - xh*s)
			dw[j] += dy[t*D+j] * xh
		}
	}
}

// RefLayerNormForward: y = (x−mean)/sqrt(var+eps)·w + b; mean, rstd [T].
func RefLayerNormForward(y, mean, rstd, x, w, b []float64, T, D int, eps float64) {
	for t := range T {
		xr := x[t*D : (t+1)*D]
		mu := 0.0
		for _, v := range xr {
			mu += v
		}
		mu /= float64(D)
		va := 0.0
		for _, v := range xr {
			va += (v - mu) * (v - mu)
		}
		r := 1 / math.Sqrt(va/float64(D)+eps)
		mean[t], rstd[t] = mu, r
		for j, v := range xr {
			y[t*D+j] = (v-mu)*r*w[j] + b[j]
		}
	}
}

// RefLayerNormBackward: dx overwritten, dw and db accumulated.
func RefLayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float64, T, D int) {
	for t := range T {
		r, mu := rstd[t], mean[t]
		mg, mgx := 0.0, 0.0
		for j := range D {
			g := dy[t*D+j] * w[j]
			mg += g
			mgx += g * (x[t*D+j] - mu) * r
		}
		mg /= float64(D)
		mgx /= float64(D)
		for j := range D {
			xh := (x[t*D+j] - mu) * r
			dx[t*D+j] = r * (dy[t*D+j]*w[j] - mg - xh*mgx)
			dw[j] += dy[t*D+j] * xh
			db[j] += dy[t*D+j]
		}
	}
}
