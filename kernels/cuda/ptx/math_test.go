package ptx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/glmflow/glmflow/kernels/optim"
	"github.com/glmflow/glmflow/tensors"
)

// Go twins of prelude.h's math, operation for operation (float32 roundings made explicit,
// fused multiply-adds through fma32), checked against float64 references. The device code is
// compiled with -ffp-contract=off and uses no .approx instruction (TestNoApproxOrFTZ), so
// these twins compute what the GPU computes.

// fma32 is a correctly rounded float32 fused multiply-add (fma.rn.f32): the product is exact
// in float64; the sum is formed with round-to-odd (53 ≥ 24+2 bits), so the final rounding to
// float32 is correct.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cd := float64(c)
	s := p + cd
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bv := s - p
	e := (p - (s - bv)) + (cd - bv) // exact error of the sum
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

func pow2i(n int32) float32 { return math.Float32frombits(uint32(n+127) << 23) }

const (
	expHi    = float32(88.72283173)
	expLo    = float32(-87.33654022)
	log2e    = float32(1.44269504088896341)
	ln2Hi    = float32(0.693359375)
	ln2Lo    = float32(-2.12194440e-4)
	roundMag = float32(12582912)
)

func devExp(x float32) float32 {
	switch {
	case x > expHi:
		return float32(math.Inf(1))
	case x < expLo:
		return 0
	case x != x:
		return x
	}
	t := float32(x * log2e)
	n := float32(float32(t+roundMag) - roundMag)
	r := fma32(-n, ln2Hi, x)
	r = fma32(-n, ln2Lo, r)
	z := float32(r * r)
	p := float32(1.9875691500e-4)
	for _, c := range []float32{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		p = fma32(p, r, c)
	}
	p = fma32(p, z, r)
	p = p + 1
	ni := int32(n)
	n1 := ni >> 1
	return float32(float32(p*pow2i(n1)) * pow2i(ni-n1))
}

func devSigmoid(x float32) float32 { return 1 / float32(1+devExp(-x)) }

func devLog(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < 0:
		return float32(math.NaN())
	case x == 0:
		return float32(math.Inf(-1))
	case math.IsInf(float64(x), 1):
		return x
	}
	b := math.Float32bits(x)
	e := int32(0)
	if b < 0x00800000 {
		b = math.Float32bits(float32(x * 33554432))
		e = -25
	}
	e += int32(b>>23) - 126
	m := math.Float32frombits(b&0x007fffff | 0x3f000000)
	if m < 0.70710678118654752440 {
		m = m + m
		e--
	}
	f := m - 1
	z := float32(f * f)
	p := float32(7.0376836292e-2)
	for _, c := range []float32{-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
		-1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1} {
		p = fma32(p, f, c)
	}
	p = float32(float32(p*f) * z)
	fe := float32(e)
	p = fma32(fe, -2.12194440e-4, p)
	p = fma32(-0.5, z, p)
	r := f + p
	return fma32(fe, 0.693359375, r)
}

// devNormal is gf_normal: erf(x/√2), Φ(x), e^(−x²/2).
func devNormal(x float32) (erf, cdf, dens float32) {
	a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	big := !(a < 13.25)
	if big {
		a = 13.25
	}
	s := float32(a * a)
	e := fma32(a, a, -s)
	t := float32(s * (-0.5 * log2e))
	n := float32(float32(t+roundMag) - roundMag)
	u := fma32(n, 2*ln2Hi, s)
	u = fma32(n, 2*ln2Lo, u)
	u = u + e
	p := float32(2.15850868698908e-05)
	for _, c := range []float32{-0.00026152454665862024, 0.0026042747776955366, -0.020833149552345276,
		0.1249999850988388, -0.5, 1} {
		p = fma32(p, u, c)
	}
	ni := int32(n)
	n1 := ni >> 1
	d := float32(float32(p*pow2i(n1)) * pow2i(ni-n1))
	q := float32(0.000188471444) / 2
	for _, c := range []float32{-0.00233870954, 0.0199343953, -0.132979169, 0.797884524} {
		q = fma32(q, s, c/2)
	}
	q = float32(q * x)
	pn := float32(0.0477078296) / 2
	for _, c := range []float32{0.283537775, 0.793832183, 0.999626696} {
		pn = fma32(pn, a, c/2)
	}
	qd := float32(0.0597947985)
	for _, c := range []float32{0.355274886, 1.05640078, 1.58984625, 1} {
		qd = fma32(qd, a, c)
	}
	h := float32(d * float32(pn/qd))
	if big {
		h, d = 0, 0
	}
	switch {
	case a < 1:
		return 2 * q, q + 0.5, d
	case x > 0:
		return 1 - float32(2*h), 1 - h, d
	default:
		return -(1 - float32(2*h)), h, d
	}
}

// devBF16 is gf_f32_to_bf16.
func devBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// ulps is |got − want| in units of the float32 spacing at want (want normal).
func ulps(got float32, want float64) float64 {
	w := float32(want)
	ulp := float64(math.Nextafter32(float32(math.Abs(float64(w))), float32(math.Inf(1)))) - math.Abs(float64(w))
	return math.Abs(float64(got)-want) / ulp
}

func samples(lo, hi float32, n int, rng *rand.Rand) []float32 {
	xs := make([]float32, 0, 2*n)
	for i := range n {
		xs = append(xs, lo+(hi-lo)*float32(i)/float32(n))
		xs = append(xs, lo+(hi-lo)*rng.Float32())
	}
	return xs
}

func count(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

func TestFMA32(t *testing.T) {
	// Cases where float32(float64 a·b + c) double-rounds: a·b + c lies just above a float32
	// halfway point by less than a float64 ulp.
	a, b := float32(1+1.0/(1<<12)), float32(1+1.0/(1<<12)) // a·b = 1 + 2^−11 + 2^−24 (exact)
	c := float32(-1.0 / (1 << 11))                         // sum = 1 + 2^−24: halfway, tie → 1
	if got := fma32(a, b, c); got != 1 {
		t.Errorf("fma32 tie: %v, want 1", got)
	}
	c2 := math.Nextafter32(c, 0) // sum a hair above halfway → 1 + 2^−23
	if got := fma32(a, b, c2); got != 1+1.0/(1<<23) {
		t.Errorf("fma32 above tie: %v, want %v", got, 1+1.0/(1<<23))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x, y, z := rng.Float32()*4-2, rng.Float32()*4-2, rng.Float32()*4-2
		if got, want := fma32(x, y, z), float32(math.FMA(float64(x), float64(y), float64(z))); got != want && !closeTie(x, y, z) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", x, y, z, got, want)
		}
	}
}

// closeTie reports whether math.FMA's float64 result itself sits on a float32 halfway point
// (where rounding it again is the double rounding fma32 avoids).
func closeTie(x, y, z float32) bool {
	s := math.FMA(float64(x), float64(y), float64(z))
	return math.Float64bits(s)&(1<<29-1) == 1<<28
}

func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for _, x := range samples(expLo, expHi, count(200000, 4000000), rng) {
		u := ulps(devExp(x), math.Exp(float64(x)))
		worst = max(worst, u)
		if u > 2 {
			t.Fatalf("exp(%v) = %v, want %v (%.2f ulp)", x, devExp(x), math.Exp(float64(x)), u)
		}
	}
	t.Logf("exp: max error %.3f ulp", worst)
	for x, want := range map[float32]float32{0: 1, 89: float32(math.Inf(1)), -88: 0, float32(math.Inf(-1)): 0} {
		if got := devExp(x); got != want {
			t.Errorf("exp(%v) = %v, want %v", x, got, want)
		}
	}
	if got := devExp(float32(math.NaN())); got == got {
		t.Error("exp(NaN) is not NaN")
	}
}

func TestSigmoid(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, x := range samples(-87, 88, count(200000, 2000000), rng) {
		want := 1 / (1 + math.Exp(-float64(x)))
		if u := ulps(devSigmoid(x), want); u > 3 {
			t.Fatalf("sigmoid(%v) = %v, want %v (%.2f ulp)", x, devSigmoid(x), want, u)
		}
	}
}

func TestLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := count(300000, 5000000)
	for i := range n {
		var x float32
		if i%2 == 0 {
			x = math.Float32frombits(rng.Uint32() & 0x7f7fffff) // any finite positive, subnormals too
		} else {
			x = 0.5 + 1.5*rng.Float32() // near 1, where cancellation hurts most
		}
		if x == 0 {
			continue
		}
		want := math.Log(float64(x))
		if want == 0 {
			if devLog(x) != 0 {
				t.Fatalf("log(1) = %v", devLog(x))
			}
			continue
		}
		if u := ulps(devLog(x), want); u > 2 {
			t.Fatalf("log(%v) = %v, want %v (%.2f ulp)", x, devLog(x), want, u)
		}
	}
	inf := float32(math.Inf(1))
	if devLog(0) != -inf || devLog(inf) != inf || devLog(-1) == devLog(-1) || devLog(1) != 0 {
		t.Error("log special cases")
	}
}

// TestNormal checks erf, Φ and the density of gf_normal (exact GELU) against float64:
// absolute error ≤ 2^−22 for erf and Φ, ≤ 3 ulp relative for e^(−x²/2) where it is normal.
func TestNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const absTol = 1.0 / (1 << 22)
	for _, x := range samples(-14, 14, count(200000, 3000000), rng) {
		e, c, d := devNormal(x)
		xd := float64(x)
		we, wc, wd := math.Erf(xd/math.Sqrt2), 0.5*math.Erfc(-xd/math.Sqrt2), math.Exp(-xd*xd/2)
		if math.Abs(float64(e)-we) > absTol || math.Abs(float64(c)-wc) > absTol {
			t.Fatalf("x=%v: erf %v want %v, Φ %v want %v", x, e, we, c, wc)
		}
		if wd > 1e-37 && ulps(d, wd) > 3 {
			t.Fatalf("x=%v: density %v want %v (%.2f ulp)", x, d, wd, ulps(d, wd))
		}
		// GELU = x·Φ(x): relative error in the region where it matters.
		if xd > -5 && x != 0 {
			g, wg := float64(x*c), xd*wc
			if math.Abs(g-wg) > 4e-6*math.Abs(wg)+1e-9 {
				t.Fatalf("gelu(%v) = %v, want %v", x, g, wg)
			}
		}
	}
	if e, c, d := devNormal(float32(math.NaN())); e != -1 || c != 0 || d != 0 {
		t.Errorf("normal(NaN) = %v %v %v", e, c, d)
	}
}

// refBF16 rounds f to the nearest bf16 by float64 distance, ties to even — an independent
// definition of the conversion.
func refBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	lo := uint16(b >> 16) // truncation toward zero
	hi := lo + 1          // next away from zero (carries into the exponent: Inf at the top)
	dl := math.Abs(float64(f) - float64(math.Float32frombits(uint32(lo)<<16)))
	dh := math.Abs(float64(f) - float64(math.Float32frombits(uint32(hi)<<16)))
	switch {
	case dl < dh:
		return lo
	case dh < dl:
		return hi
	case lo&1 == 0:
		return lo
	}
	return hi
}

func TestBF16(t *testing.T) {
	step := uint64(count(997, 13)) // odd strides cover every low-bit pattern
	for u := uint64(0); u < 1<<32; u += step {
		f := math.Float32frombits(uint32(u))
		got := devBF16(f)
		if want := tensors.BF16FromF32(f); got != want {
			t.Fatalf("bits %#08x: %#04x, tensors.BF16FromF32 %#04x", u, got, want)
		}
		if b := uint32(u); b&0x7fffffff < 0x7f800000 && b&0x7fffffff >= 0x7f7f8000 {
			continue // rounds to ±Inf: the float64 distance to "Inf" is not defined
		}
		if want := refBF16(f); got != want {
			t.Fatalf("bits %#08x: %#04x, nearest-even %#04x", u, got, want)
		}
		if f == f && math.Float32frombits(uint32(got)<<16) != tensors.BF16ToF32Scalar(got) {
			t.Fatal("widening")
		}
	}
	if devBF16(float32(math.Inf(1))) != 0x7f80 || devBF16(math.MaxFloat32) != 0x7f80 {
		t.Error("overflow must round to Inf")
	}
}

// TestAdamWTwin runs adamw_f32's formula with AdamWScalars against kernels/optim (the CPU
// backend's AdamW, bit for bit) and the float64 reference.
func TestAdamWTwin(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 4096
	cfg := optim.AdamW{LR: 3e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p {
		p[i] = rng.Float32()*2 - 1
	}
	cp, cm, cv := append([]float32(nil), p...), make([]float32, n), make([]float32, n)
	for step := 1; step <= 5; step++ {
		for i := range g {
			g[i] = float32(rng.NormFloat64()) * 1e-2
		}
		s := AdamWScalars(cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, step)
		decay, b1, c1, b2, c2, stepSize, bc2Sqrt, eps := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
		for i := range p {
			gi := g[i]
			mi := fma32(c1, gi, float32(m[i]*b1))
			vi := fma32(float32(c2*gi), gi, float32(v[i]*b2))
			m[i], v[i] = mi, vi
			den := float32(float32(math.Sqrt(float64(vi)))/bc2Sqrt) + eps
			p[i] = float32(p[i]*decay) + float32(float32(stepSize*mi)/den)
		}
		if err := cfg.Step(cp, g, cm, cv, step); err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range p {
			if p[i] != cp[i] || m[i] != cm[i] || v[i] != cv[i] {
				diff++
			}
		}
		// The CPU's generic path rounds fma in float64 then float32 (a tie can differ by an
		// ulp); its assembly paths use hardware FMA. Allow a handful of such ties.
		if diff > n/1000 {
			t.Fatalf("step %d: %d of %d elements differ from kernels/optim", step, diff, n)
		}
	}
	// Against float64: a few fp32 ulps of the update.
	pd, gd, md, vd := make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1)
	pd[0], gd[0] = 0.5, 0.01
	optim.RefAdamWStep(pd, gd, md, vd, cfg, 1)
	s := AdamWScalars(cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, 1)
	mi := fma32(s[2], 0.01, 0)
	vi := fma32(float32(s[4]*0.01), 0.01, 0)
	den := float32(float32(math.Sqrt(float64(vi)))/s[6]) + s[7]
	got := float32(0.5*s[0]) + float32(float32(s[5]*mi)/den)
	if math.Abs(float64(got)-pd[0]) > 1e-6 {
		t.Errorf("AdamW step 1: %v, float64 %v", got, pd[0])
	}
}
