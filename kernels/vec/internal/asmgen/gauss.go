package main

// The standard normal pieces of exact GELU, in float32 from x directly (no rounded x/√2):
//
//	a = min(|x|, 13.25), s = a² rounded, e = a² − s exactly (FMA)
//	d = e^(−a²/2): expNeg of −s/2 with −e/2 folded into its reduced argument r; 0 where a = 13.25
//	|x| < 1:  erf(x/√2) = x·E(s), E a degree-4 minimax polynomial (relative error 4e-8)
//	|x| ≥ 1:  erfc(a/√2) = d·P(a)/Q(a), degrees 3/4 minimax on [1, 13] (relative 3e-8)
//	Φ(x) = ½ + ½·erf (|x| < 1), else ½·erfc for x < 0 and 1 − ½·erfc for x > 0; 0 for x ≤ −13.25
//
// The coefficients (constVals HE0–HE5 and HTP0–HTP3, stored halved, TQ1–TQ4; TQ0 = 1) come from a Lawson-weighted
// least-squares fit in float64 of the relative error. Measured against math.Erf/Erfc/Exp over
// [−13, 13]: erf ≤ 1.9 ulp, Φ on the lower tail ≤ 4.9 ulp (relative), e^(−x²/2) ≤ 1.2 ulp.
// elementwise's generic path (gelu.go) is the same sequence of float32 operations in Go.

var gaussConsts = []string{"ABSMASK", "AMAX", "NHLOG2E", "ZERO", "INVSQRT2PI", "I127", "LN2HI2", "LN2LO2",
	"HE0", "HE1", "HE2", "HE3", "HE4", "HTP0", "HTP1", "HTP2", "HTP3", "TQ1", "TQ2", "TQ3", "TQ4",
	"UC1", "UC2", "UC3", "UC4", "UC5", "UC6"}

// gauss computes, for the sub-vector x, Φ(x) and, with dens, d = e^(−x²/2) into new
// temporaries; with erf it also returns erf(x/√2) (the test kernel). The ½ of Φ = ½ ± ½·… is
// folded into the coefficients (HE, HTP: exact halvings, so every value is the bits of the
// unhalved formula times ½), and −x²/2 − n·ln2 into u = s + n·2ln2hi + n·2ln2lo + e, r = −u/2
// whose e^(−u/2) is a polynomial in u (expPoly's UC form), to spare multiplies.
func (b *ctx) gauss(x string, dens, erf bool) (phi, d, erfv string) {
	Z := b.isa.vreg == "Z"
	one, half := b.s("ONE"), b.s("HALF")
	a, s, e, n, u, p, z := b.t(), b.t(), b.t(), b.t(), b.t(), b.t(), b.t()
	r := u
	b.i("VANDPS %s, %s, %s", b.c("ABSMASK"), x, a)
	b.i("VMINPS %s, %s, %s", b.c("AMAX"), a, a) // NaN → AMAX
	b.i("VMULPS %s, %s, %s", a, a, s)
	b.i("VMOVAPS %s, %s", a, e)
	b.i("VFMSUB213PS %s, %s, %s", s, a, e) // e = a·a − s, exact
	b.i("VMULPS %s, %s, %s", b.c("NHLOG2E"), s, n)
	if Z {
		b.i("VRNDSCALEPS $8, %s, %s", n, n)
	} else {
		b.i("VROUNDPS $8, %s, %s", n, n)
	}
	b.i("VMOVAPS %s, %s", s, u)
	b.i("VFMADD231PS %s, %s, %s", b.c("LN2HI2"), n, u) // exact
	b.i("VFMADD231PS %s, %s, %s", b.c("LN2LO2"), n, u)
	b.i("VADDPS %s, %s, %s", e, u, u)
	b.expPoly(n, u, p, z, true)
	d = p
	// Central: q = x·E(s)/2, then ½ + q.
	q := z
	b.i("VMOVUPS %s, %s", b.c("HE4"), q)
	for _, c := range []string{"HE3", "HE2", "HE1", "HE0"} {
		b.i("VFMADD213PS %s, %s, %s", b.c(c), s, q)
	}
	b.i("VMULPS %s, %s, %s", x, q, q)
	// Tail: hc = d·(P(a)/Q(a))/2 = erfc/2.
	hc, qd := r, n
	b.i("VMOVUPS %s, %s", b.c("HTP3"), hc)
	for _, c := range []string{"HTP2", "HTP1", "HTP0"} {
		b.i("VFMADD213PS %s, %s, %s", b.c(c), a, hc)
	}
	b.i("VMOVUPS %s, %s", b.c("TQ4"), qd)
	for _, c := range []string{"TQ3", "TQ2", "TQ1"} {
		b.i("VFMADD213PS %s, %s, %s", b.c(c), a, qd)
	}
	b.i("VFMADD213PS %s, %s, %s", one, a, qd)
	b.i("VDIVPS %s, %s, %s", qd, hc, hc)
	b.i("VMULPS %s, %s, %s", d, hc, hc)
	if erf {
		// erf = 2q (|x| < 1), else 1 − 2hc (x > 0) or 2hc − 1.
		erfv = b.t()
		t, c2 := b.t(), b.t()
		b.i("VADDPS %s, %s, %s", hc, hc, c2)
		b.i("VSUBPS %s, %s, %s", c2, one, erfv)
		b.i("VSUBPS %s, %s, %s", one, c2, t)
		b.i("VADDPS %s, %s, %s", q, q, c2)
		if Z {
			b.i("VCMPPS $0x1e, %s, %s, K3", b.c("ZERO"), x)
			b.i("VMOVAPS %s, K3, %s", erfv, t)
			b.i("VCMPPS $0x01, %s, %s, K4", one, a)
			b.i("VMOVAPS %s, K4, %s", c2, t)
		} else {
			m := b.t()
			b.i("VCMPPS $0x1e, %s, %s, %s", b.c("ZERO"), x, m)
			b.i("VBLENDVPS %s, %s, %s, %s", m, erfv, t, t)
			b.i("VCMPPS $0x01, %s, %s, %s", one, a, m)
			b.i("VBLENDVPS %s, %s, %s, %s", m, c2, t, t)
		}
		erfv = t
	}
	// hc (and d) zero where a reached AMAX; Φ = 1 − hc for x > 0; ½ + q where a < 1.
	b.i("VADDPS %s, %s, %s", half, q, q)
	if Z {
		b.i("VCMPPS $0x01, %s, %s, K2", b.c("AMAX"), a)
		b.i("VMOVAPS.Z %s, K2, %s", hc, hc)
		if dens {
			b.i("VMOVAPS.Z %s, K2, %s", d, d)
		}
		b.i("VCMPPS $0x1e, %s, %s, K3", b.c("ZERO"), x)
		b.i("VSUBPS %s, %s, K3, %s", hc, one, hc)
		b.i("VCMPPS $0x01, %s, %s, K4", one, a)
		b.i("VMOVAPS %s, K4, %s", q, hc)
		return hc, d, erfv
	}
	m, t := e, n
	b.i("VCMPPS $0x01, %s, %s, %s", b.c("AMAX"), a, m)
	b.i("VANDPS %s, %s, %s", m, hc, hc)
	if dens {
		b.i("VANDPS %s, %s, %s", m, d, d)
	}
	b.i("VCMPPS $0x1e, %s, %s, %s", b.c("ZERO"), x, m)
	b.i("VSUBPS %s, %s, %s", hc, one, t)
	b.i("VBLENDVPS %s, %s, %s, %s", m, t, hc, hc)
	b.i("VCMPPS $0x01, %s, %s, %s", one, a, m)
	b.i("VBLENDVPS %s, %s, %s, %s", m, q, hc, hc)
	return hc, d, erfv
}

var geluKernels = []*kernel{
	{name: "gelu", doc: "out = x·Φ(x)", ptrs: []string{"out", "x"}, regConsts: []string{"ONE", "HALF"},
		consts: gaussConsts, body: func(b *ctx) {
			x := b.ld("x")
			phi, _, _ := b.gauss(x, false, false)
			b.i("VMULPS %s, %s, %s", x, phi, phi)
			b.st(phi, "out")
		}},
	{name: "geluGrad", doc: "dx = dout·(Φ(x) + x·e^(−x²/2)/√(2π))", ptrs: []string{"dx", "dout", "x"},
		regConsts: []string{"ONE", "HALF"}, consts: gaussConsts, body: func(b *ctx) {
			x := b.ld("x")
			phi, d, _ := b.gauss(x, true, false)
			b.i("VMULPS %s, %s, %s", d, x, d)
			b.i("VFMADD231PS %s, %s, %s", b.c("INVSQRT2PI"), d, phi)
			g := b.ld("dout")
			b.i("VMULPS %s, %s, %s", g, phi, phi)
			b.st(phi, "dx")
		}},
	{name: "normalParts", doc: "test hook: erf = erf(x/√2), cdf = Φ(x), dens = e^(−x²/2) as GELU computes them",
		ptrs: []string{"erf", "cdf", "dens", "x"}, regConsts: []string{"ONE", "HALF"}, consts: gaussConsts,
		body: func(b *ctx) {
			x := b.ld("x")
			phi, d, erf := b.gauss(x, true, true)
			b.st(erf, "erf")
			b.st(phi, "cdf")
			b.st(d, "dens")
		}},
}
