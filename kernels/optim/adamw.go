package optim

import (
	"fmt"
	par "github.com/glmflow/glmflow/kernels/internal/parallel"
	"math"
)

// AdamW holds the hyperparameters of torch.optim.AdamW (PyTorch defaults: LR 1e-3, Beta1 0.9,
// Beta2 0.999, Eps 1e-8, WeightDecay 1e-2).
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// Validate reports a hyperparameter outside PyTorch's accepted range.
func (c AdamW) Validate() error {
	switch {
	case !(c.LR >= 0):
		return fmt.Errorf("optim.AdamW: LR = %g, want ≥ 0", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("optim.AdamW: Beta1 = %g, want in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("optim.AdamW: Beta2 = %g, want in [0, 1)", c.Beta2)
	case !(c.Eps >= 0):
		return fmt.Errorf("optim.AdamW: Eps = %g, want ≥ 0", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("optim.AdamW: WeightDecay = %g, want ≥ 0", c.WeightDecay)
	}
	return nil
}

// Step applies one AdamW update at step t (1 for the first update) to one tensor, in place.
//
//	p [n]  parameters, updated
//	g [n]  gradient (read only)
//	m [n]  first moment, updated (zeros before step 1)
//	v [n]  second moment, updated (zeros before step 1)
func (c AdamW) Step(p, g, m, v []float32, t int) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if t < 1 {
		return fmt.Errorf("optim.AdamW.Step: step t = %d, want ≥ 1", t)
	}
	n := len(p)
	for _, a := range []struct {
		name string
		x    []float32
	}{{"g", g}, {"m", m}, {"v", v}} {
		if len(a.x) != n {
			return fmt.Errorf("optim.AdamW.Step: len(%s) = %d, want len(p) = %d", a.name, len(a.x), n)
		}
	}
	// The scalars exactly as torch/optim/adamw.py (_single_tensor_adamw) forms them: Python
	// floats (float64), each rounded to float32 when it meets a float32 tensor.
	decay := float32(1 - c.LR*c.WeightDecay)
	b1, c1 := float32(c.Beta1), float32(1-c.Beta1)
	b2, c2 := float32(c.Beta2), float32(1-c.Beta2)
	bc1 := 1 - math.Pow(c.Beta1, float64(t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t))
	stepSize := float32(-(c.LR / bc1))
	bc2Sqrt := float32(math.Sqrt(bc2))
	eps := float32(c.Eps)
	parallel(n, func(lo, hi int) {
		pp, gg, mm, vv := p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
		if path != pathGeneric { // the same roundings, with hardware FMA for m and v
			adamwAsm(pp, gg, mm, vv, decay, b1, c1, b2, c2, stepSize, bc2Sqrt, eps)
			return
		}
		for i := range pp {
			gi := gg[i]
			mi := fma32(c1, gi, float32(mm[i]*b1))
			vi := fma32(float32(c2*gi), gi, float32(vv[i]*b2))
			mm[i], vv[i] = mi, vi
			denom := float32(sqrt32(vi)/bc2Sqrt) + eps
			pp[i] = float32(pp[i]*decay) + float32(stepSize*mi)/denom
		}
	})
	return nil
}

// fma32 is a·b + c with one rounding to float32 (the product is exact in float64; the float64
// sum is rounded twice, which changes the result only on a float32 halfway case).
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) } // correctly rounded

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 16

// parallel splits [0, n) over goroutines when n is large; elements are independent.
func parallel(n int, f func(lo, hi int)) { par.Range(n, 1, n, parallelMin, f) }
