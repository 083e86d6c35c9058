package elementwise

import "math"

// Float64 references, written from the textbook formulas (no shared code with the kernels).
// Each forward is out[i] = f(x[i]) and each backward the exact derivative times dout.

func refSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// RefSiLU: out = x·σ(x).
func RefSiLU(out, x []float64) {
	for i, v := range x {
		out[i] = v * refSigmoid(v)
	}
}

// RefSiLUBackward: dx = dout·(σ(x) + x·σ(x)·(1−σ(x))).
func RefSiLUBackward(dx, dout, x []float64) {
	for i, v := range x {
		s := refSigmoid(v)
		dx[i] = dout[i] * (s + v*s*(1-s))
	}
}

// RefGELU: out = 0.5·x·(1 + erf(x/√2)).
func RefGELU(out, x []float64) {
	for i, v := range x {
		out[i] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	}
}

// RefGELUBackward: dx = dout·(0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π)).
func RefGELUBackward(dx, dout, x []float64) {
	for i, v := range x {
		dx[i] = dout[i] * (0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
	}
}

// RefSwiGLU: out = g·σ(g)·u.
func RefSwiGLU(out, g, u []float64) {
	for i := range out {
		out[i] = g[i] * refSigmoid(g[i]) * u[i]
	}
}

// RefSwiGLUBackward: du = dout·g·σ(g); dg = dout·u·(σ(g) + g·σ(g)·(1−σ(g))).
func RefSwiGLUBackward(dg, du, dout, g, u []float64) {
	for i := range dout {
		s := refSigmoid(g[i])
		du[i] = dout[i] * g[i] * s
		dg[i] = dout[i] * u[i] * (s + g[i]*s*(1-s))
	}
}

// RefSwiGLUFused: gu [T, 2F] split into gate gu[:, :F] and up gu[:, F:]; out [T, F].
func RefSwiGLUFused(out, gu []float64, T, F int) {
	for t := range T {
		RefSwiGLU(out[t*F:(t+1)*F], gu[2*t*F:2*t*F+F], gu[2*t*F+F:2*(t+1)*F])
	}
}

// RefSwiGLUFusedBackward: dgu [T, 2F] from dout [T, F].
func RefSwiGLUFusedBackward(dgu, dout, gu []float64, T, F int) {
	for t := range T {
		r, d := gu[2*t*F:2*(t+1)*F], dgu[2*t*F:2*(t+1)*F]
		RefSwiGLUBackward(d[:F], d[F:], dout[t*F:(t+1)*F], r[:F], r[F:])
	}
}
