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
// active path, or normalLanes chunk by chunk on the generic path. dst may alias the inputs.
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
	if dout != nil {
		dout = dout[:len(dst)]
	}
	var xs, erf, cdf, d lanes
	for lo := 0; lo < len(dst); lo += nLanes {
		n := copy(xs[:], x[lo:]) // a short last chunk keeps earlier lanes: finite, ignored
		normalLanes(&xs, &erf, &cdf, &d)
		out := dst[lo : lo+n]
		if dout == nil {
			for i := range out {
				out[i] = xs[i] * cdf[i]
			}
			continue
		}
		g := dout[lo : lo+n]
		for i := range out {
			out[i] = g[i] * fma32(xs[i]*d[i], invSqrt2Pi, cdf[i])
		}
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

// Polynomial coefficients (float32 values; asmgen holds the same as bits).
const (
	// e^(−u/2) = Σ expUk·u^k for |u| ≤ ln2 (constants UC_k of asmgen: a degree-6 fit of e^r).
	expU0, expU1, expU2, expU3 float32 = 1, -0.5, 0.1249999850988388, -0.020833149552345276
	expU4, expU5, expU6        float32 = 0.0026042747776955366, -0.00026152454665862024, 2.15850868698908e-05
	// erf(x/√2)/2 = x·Σ erfPk·x^(2k) for |x| < 1.
	erfP0, erfP1, erfP2 float32 = 0.797884524 / 2, -0.132979169 / 2, 0.0199343953 / 2
	erfP3, erfP4        float32 = -0.00233870954 / 2, 0.000188471444 / 2
	// erfc(a/√2)/2 = e^(−a²/2)·Σ tailPk·a^k / Σ tailQk·a^k for 1 ≤ a ≤ 13.25.
	tailP0, tailP1, tailP2, tailP3 float32 = 0.999626696 / 2, 0.793832183 / 2, 0.283537775 / 2, 0.0477078296 / 2
	tailQ0, tailQ1, tailQ2, tailQ3 float32 = 1, 1.58984625, 1.05640078, 0.355274886
	tailQ4                         float32 = 0.0597947985
)

// fma32 is float32(a·b + c) with one rounding of the exact a·b (exact in float64) plus c; the
// float64 sum can round once more, so in rare ties it differs from a float32 FMA by one ulp.
// The product is exact, so a fused or unfused float64 multiply-add gives the same result; plain
// arithmetic (not math.FMA) keeps the compiler from spilling around a software fallback.
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }

// roundEven is math.RoundToEven for |v| < 2^51 without the SSE4.1 check and call fallback:
// adding and subtracting 1.5·2^52 rounds to an integer in the current (nearest-even) mode.
func roundEven(v float64) float64 {
	const magic = 0x1.8p52
	return (v + magic) - magic
}

// nLanes is the chunk of the generic path. normalLanes runs the float32 algorithm in three short
// loops over nLanes elements (reduction; e^(−u/2); erf/erfc and the branch-free select) so that
// the ≈20 dependent multiply-adds of one element overlap with other elements' chains, with no
// data-dependent branch to flush them. Element by element through math.FMA (a call fallback the
// compiler spills around) and a mispredicted range switch it ran at ≈0.2 GB/s; now ≈0.38 GB/s
// (one Zen 4 core, bound by the float64 ⇄ float32 conversions each rounding step needs).
const nLanes = 16

// lanes is one chunk of elements.
type lanes [nLanes]float32

// h32 is one Horner step fma32(p, x, c) on float32 values held in float64 (exact product).
func h32(p, x float64, c float32) float64 { return float64(float32(p*x + float64(c))) }

// normalLanes sets erf[i] = erf(x[i]/√2), cdf[i] = Φ(x[i]) and dens[i] = e^(−x[i]²/2), all
// float32, by the assembly kernels' operations (float64 intermediates hold float32 values).
func normalLanes(x, erf, cdf, dens *lanes) {
	var a, s, u [nLanes]float64
	var n [nLanes]int32
	for i, v := range x {
		ai := math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		if !(ai < gaussAMax) { // also NaN
			ai = gaussAMax
		}
		si := ai * ai
		e := float32(float64(ai)*float64(ai) - float64(si))    // exact
		ni := float32(roundEven(float64(si * (-0.5 * log2e)))) // |·| ≤ 128
		ui := fma32(ni, 2*ln2Hi, si)                           // exact
		ui = fma32(ni, 2*ln2Lo, ui)
		a[i], s[i], u[i], n[i] = float64(ai), float64(si), float64(ui+e), int32(ni) // u = −2r, r = −a²/2 − n·ln2
	}
	for i := range dens {
		// d = e^(−u/2)·2^n as (p·2^(n>>1))·2^(n−(n>>1)): n ≥ −127, the first product is exact.
		ui := u[i]
		p := h32(h32(h32(h32(h32(h32(float64(expU6), ui, expU5), ui, expU4), ui, expU3), ui, expU2), ui, expU1), ui, expU0)
		n1 := n[i] >> 1
		dens[i] = float32(p) * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n[i]-n1+127)<<23)
	}
	for i, v := range x {
		d := dens[i]
		si, ai := s[i], a[i]
		q := float32(h32(h32(h32(h32(float64(erfP4), si, erfP3), si, erfP2), si, erfP1), si, erfP0)) * v // erf/2
		pn := h32(h32(h32(float64(tailP3), ai, tailP2), ai, tailP1), ai, tailP0)
		qd := h32(h32(h32(h32(float64(tailQ4), ai, tailQ3), ai, tailQ2), ai, tailQ1), ai, tailQ0)
		h := d * (float32(pn) / float32(qd)) // erfc/2
		if !(ai < gaussAMax) {
			h, d = 0, 0
		}
		dens[i] = d
		// Branch-free (the range is unpredictable), bit for bit the case split a < 1: erf = 2q,
		// Φ = q + 0.5; x > 0: erf = 1 − 2h, Φ = 1 − h = 1 + (−h); else (NaN too): erf = 2h − 1
		// = −(1 − 2h) (rounding is sign-symmetric, 1 − 2h ≠ 0), Φ = h = 0 + h (h ≥ 0).
		var neg, one uint32 = 1 << 31, 0
		if v > 0 {
			neg, one = 0, 0x3f800000
		}
		tErf := math.Float32bits(1-2*h) ^ neg
		tCdf := math.Float32bits(math.Float32frombits(one) + math.Float32frombits(math.Float32bits(h)^neg^(1<<31)))
		lo := uint32(int32(math.Float32bits(float32(ai))-0x3f800000) >> 31) // a < 1 (0 ≤ a ≤ 13.25)
		erf[i] = math.Float32frombits(lo&math.Float32bits(2*q) | ^lo&tErf)
		cdf[i] = math.Float32frombits(lo&math.Float32bits(q+0.5) | ^lo&tCdf)
	}
}

// normal32 returns erf(x/√2), Φ(x) and e^(−x²/2) for one x (normalLanes; tests).
func normal32(x float32) (erf, cdf, dens float32) {
	var xs, e, c, d lanes
	xs[0] = x
	normalLanes(&xs, &e, &c, &d)
	return e[0], c[0], d[0]
}
