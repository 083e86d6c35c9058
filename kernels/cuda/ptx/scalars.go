package ptx

import "math"

// AdamWScalars returns adamw_f32's eight float arguments after n, in order (decay, b1, c1, b2,
// c2, stepSize, bc2Sqrt, eps), formed exactly as kernels/optim forms them: torch's Python-float
// scalars in float64, rounded to float32 where they meet float32 tensors. step counts from 1.
func AdamWScalars(lr, beta1, beta2, eps, weightDecay float64, step int) [8]float32 {
	bc1 := 1 - math.Pow(beta1, float64(step))
	bc2 := 1 - math.Pow(beta2, float64(step))
	return [8]float32{
		float32(1 - lr*weightDecay),
		float32(beta1), float32(1 - beta1),
		float32(beta2), float32(1 - beta2),
		float32(-(lr / bc1)),
		float32(math.Sqrt(bc2)),
		float32(eps),
	}
}
