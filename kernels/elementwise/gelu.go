package elementwise

import "math"

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

// geluRange writes the forward (dout == nil) or the backward into dst: the fused kernel of the
// active path, or normal32 element by element on the generic path. dst may alias the inputs.
func geluRange(dst, dout, x []float32) {
	if path != pathGeneric && len(dst) > 0 {
		if dout == nil {
			geluAsm(dst, x)
		} else {
			geluGradAsm(dst, dout, x)
		}
		return
	}
	x = x[:len(dst)]
	if dout == nil {
		for i, v := range x {
			_, cdf, _ := normal32(v)
			dst[i] = v * cdf
		}
		return
	}
	dout = dout[:len(dst)]
	for i, v := range x {
		_, cdf, d := normal32(v)
		dst[i] = dout[i] * fma32(v*d, invSqrt2Pi, cdf)
	}
}

// The float32 erf/Φ algorithm of the assembly kernels (kernels/vec/internal/asmgen/gauss.go
// documents it and holds the same coefficients as bits).
const (
	gaussAMax  = 13.25 // from here on Φ(−x) = 0 and e^(−x²/2) = 0
	invSqrt2Pi = float32(0.3989422804014327)
	log2e      = float32(1.44269504088896341)
	ln2Hi      = float32(0.693359375)
	ln2Lo      = float32(-2.12194440e-4)
)

var (
	// e^(−u/2) = Σ expU[k]·u^k for |u| ≤ ln2 (constants UC_k of asmgen: a degree-6 fit of e^r).
	expU = [7]float32{1, -0.5, 0.1249999850988388, -0.020833149552345276, 0.0026042747776955366,
		-0.00026152454665862024, 2.15850868698908e-05}
	// erf(x/√2)/2 = x·Σ erfP[k]·x^(2k) for |x| < 1.
	erfP = [5]float32{0.797884524 / 2, -0.132979169 / 2, 0.0199343953 / 2, -0.00233870954 / 2, 0.000188471444 / 2}
	// erfc(a/√2)/2 = e^(−a²/2)·Σ tailP[k]·a^k / Σ tailQ[k]·a^k for 1 ≤ a ≤ 13.25.
	tailP = [4]float32{0.999626696 / 2, 0.793832183 / 2, 0.283537775 / 2, 0.0477078296 / 2}
	tailQ = [5]float32{1, 1.58984625, 1.05640078, 0.355274886, 0.0597947985}
)

// fma32 is float32(a·b + c) with one rounding of the exact a·b (exact in float64) plus c; the
// float64 sum can round once more, so in rare ties it differs from a float32 FMA by one ulp.
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// normal32 returns erf(x/√2), Φ(x) and e^(−x²/2), all float32, by the kernels' operations.
func normal32(x float32) (erf, cdf, dens float32) {
	a := float32(math.Abs(float64(x)))
	if !(a < gaussAMax) { // also NaN
		a = gaussAMax
	}
	s := a * a
	e := float32(float64(a)*float64(a) - float64(s)) // exact
	n := float32(math.RoundToEven(float64(s * (-0.5 * log2e))))
	u := fma32(n, 2*ln2Hi, s) // exact
	u = fma32(n, 2*ln2Lo, u)
	u += e // u = −2r for r = −a²/2 − n·ln2
	p := expU[6]
	for k := 5; k >= 0; k-- {
		p = fma32(p, u, expU[k])
	}
	// p·2^n as (p·2^(n>>1))·2^(n−(n>>1)): n ≥ −127, the first product is exact.
	n1 := int32(n) >> 1
	d := p * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(int32(n)-n1+127)<<23)
	q := erfP[4]
	for k := 3; k >= 0; k-- {
		q = fma32(q, s, erfP[k])
	}
	q *= x // erf/2
	pn, qd := tailP[3], tailQ[4]
	for k := 2; k >= 0; k-- {
		pn = fma32(pn, a, tailP[k])
	}
	for k := 3; k >= 0; k-- {
		qd = fma32(qd, a, tailQ[k])
	}
	hc := d * (pn / qd) // erfc/2
	if !(a < gaussAMax) {
		hc, d = 0, 0
	}
	switch {
	case a < 1:
		return 2 * q, q + 0.5, d
	case x > 0:
		return 1 - 2*hc, 1 - hc, d
	}
	return 2*hc - 1, hc, d
}
