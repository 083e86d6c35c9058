package elementwise

import (
	"math"

	"github.com/glmflow/glmflow/kernels/vec"
)

// GELU sets out = x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (exact GELU, PyTorch approximate='none').
//
//	out, x [n]
func GELU(out, x []float32) error {
	if err := checkLen("GELU", len(out), []string{"x"}, x); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) { geluRange(out[lo:hi], nil, x[lo:hi]) })
	return nil
}

// GELUBackward sets dx = dout·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π), the exact derivative.
//
//	dx, dout, x [n]
func GELUBackward(dx, dout, x []float32) error {
	if err := checkLen("GELUBackward", len(dx), []string{"dout", "x"}, dout, x); err != nil {
		return err
	}
	run(len(dx), func(lo, hi int) { geluRange(dx[lo:hi], dout[lo:hi], x[lo:hi]) })
	return nil
}

// geluRange writes the forward (dout == nil) or the backward into dst, chunk by chunk.
func geluRange(dst, dout, x []float32) {
	var z, cdf, dens [chunk]float64
	const invSqrt2, invSqrt2Pi = 1 / math.Sqrt2, 1 / (math.Sqrt2 * math.SqrtPi)
	for lo := 0; lo < len(dst); lo += chunk {
		hi := min(lo+chunk, len(dst))
		n := hi - lo
		xs := x[lo:hi]
		for i, v := range xs {
			z[i] = float64(v) * invSqrt2
		}
		normal(z[:n], cdf[:n], dens[:n])
		d := dst[lo:hi]
		if dout == nil {
			for i, v := range xs {
				d[i] = float32(float64(v) * cdf[i])
			}
			continue
		}
		g := dout[lo:hi]
		for i, v := range xs {
			xv := float64(v)
			d[i] = float32(float64(g[i]) * (cdf[i] + xv*dens[i]*invSqrt2Pi))
		}
	}
}

// erfSplit is where normal switches from the erf series to the erfc fit.
const erfSplit = 0.75

// erfTaylor[k] = 2/√π·(−1)^k/(k!·(2k+1)): erf(z) = z·Σ erfTaylor[k]·z^(2k). Eight terms
// leave a relative truncation error below 2e-8 for |z| < 0.75.
var erfTaylor [8]float64

// erfcNR are the Numerical Recipes (erfcc, §6.2) Chebyshev coefficients:
// erfc(z) ≈ t·exp(−z² − 1.26551223 + t·(c0 + t·(c1 + …))), t = 1/(1+z/2), z ≥ 0, fractional
// error < 1.2e-7 everywhere.
var erfcNR = [...]float64{1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
	-1.13520398, 1.48851587, -0.82215223, 0.17087277}

func init() {
	f := 1.0
	for k := range erfTaylor {
		if k > 0 {
			f *= float64(k)
		}
		erfTaylor[k] = 2 / math.SqrtPi / (f * float64(2*k+1))
		if k%2 == 1 {
			erfTaylor[k] = -erfTaylor[k]
		}
	}
}

// normal sets cdf[i] = (1 + erf(z[i]))/2 and dens[i] = exp(−z[i]²) for len(z) ≤ chunk values.
// The two exponentials go through vec.Exp (float32, ≤ 1 ulp); the rest is float64 arithmetic.
// z² = s + e with s = float32(z²) and e the float64 residual, so exp(−z²) = exp(−s)·(1 − e) keeps
// its relative accuracy for large |z| (a float32 −z² would be off by up to z²·2^-24).
func normal(z, cdf, dens []float64) {
	var a, b [chunk]float32
	var e, t [chunk]float64
	n := len(z)
	for i, zi := range z {
		az := min(math.Abs(zi), 10) // erfc(10) ≈ 2e-45: already 0 in float32; NaN stays NaN
		s64 := az * az
		s := float32(s64)
		e[i] = s64 - float64(s)
		a[i] = -s
		// The erfc fit for every element (no data-dependent branch); the series replaces it
		// below where |z| < erfSplit.
		ti := 1 / (1 + 0.5*az)
		p := erfcNR[len(erfcNR)-1]
		for k := len(erfcNR) - 2; k >= 0; k-- {
			p = p*ti + erfcNR[k]
		}
		b[i] = float32(p*ti - 1.26551223 - e[i])
		t[i] = ti
	}
	vec.Exp(a[:n], a[:n])
	vec.Exp(b[:n], b[:n])
	for i, zi := range z {
		dens[i] = float64(a[i]) * (1 - e[i])
		if !(math.Abs(zi) >= erfSplit) { // also NaN
			u := zi * zi
			p := erfTaylor[len(erfTaylor)-1]
			for k := len(erfTaylor) - 2; k >= 0; k-- {
				p = p*u + erfTaylor[k]
			}
			cdf[i] = 0.5 + 0.5*zi*p
			continue
		}
		c := 0.5 * t[i] * float64(a[i]) * float64(b[i]) // erfc(|z|)/2
		if zi > 0 {
			cdf[i] = 1 - c
		} else {
			cdf[i] = c
		}
	}
}
