package optim

import "math"

// RefAdamWStep is the float64 AdamW update at step t (t ≥ 1), straight from the formulas.
func RefAdamWStep(p, g, m, v []float64, c AdamW, t int) {
	bc1 := 1 - math.Pow(c.Beta1, float64(t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t))
	for i := range p {
		p[i] -= c.LR * c.WeightDecay * p[i]
		m[i] = c.Beta1*m[i] + (1-c.Beta1)*g[i]
		v[i] = c.Beta2*v[i] + (1-c.Beta2)*g[i]*g[i]
		mhat, vhat := m[i]/bc1, v[i]/bc2
		p[i] -= c.LR * mhat / (math.Sqrt(vhat) + c.Eps)
	}
}
