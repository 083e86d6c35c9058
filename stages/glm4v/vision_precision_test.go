package glm4v

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// Tolerances of the bf16 mode against fp32 (vision_precision.go).
//
// Rounding both operands of a K-term GEMM to bf16 (unit roundoff u = 2⁻⁸, round to nearest)
// and accumulating in fp32 gives, per output element,
//
//	ĉ − c = Σ_k a_k·b_k·(δ_k + δ'_k + δ_k·δ'_k),  |δ|, |δ'| ≤ u   (fp32 accumulation: ~2⁻²⁴, negligible)
//
// so |ĉ − c| ≤ (2u + u²)·Σ_k |a_k·b_k|. Relative to |c| that worst case is 2u·Σ|ab|/|Σab|,
// which for incoherent (random-sign) data is ≈ 2u·√K: the "2⁻⁸·√K" bound. The rounding
// errors are, however, independent and zero-mean (uniform on [−u, u]·|x|, variance u²/3),
// so the expected error is a random walk: std(ĉ − c) ≈ √(2/3)·u·‖a∘b‖₂ ≈ 0.8·u·rms(c) —
// O(u), independent of K. Through the tower each of the n_G GEMM layers on a path adds such
// an independent relative error (norms and residuals pass it on with gain ≈ 1), so a whole
// tensor's rms relative error is ≈ 0.8·u·√n_G, and the max-norm error max|Δ|/max|ref| we
// test is of the same order (a few standard deviations of the largest elements' errors).
// n_G: the forward path of the tiny config (depth 2) crosses 1 + 4·depth + 4 = 13 GEMM layers
// plus the two bf16 attention products (S, P·V) per block: 17; a weight gradient also carries
// the backward path (≤ 13 input-gradient GEMMs and three attention products per block: 19)
// and its own dW GEMM: n_G ≤ 37. The test bound is 4× the statistical estimate, still far
// below the worst-case 2u·√K (K up to 1176), and far below the O(1) error of a wrong operand:
//
//	output:    4 · 0.8u · √17 ≈ 0.052
//	gradients: 4 · 0.8u · √37 ≈ 0.076
const (
	visU            = 1.0 / 256
	visBF16OutTol   = 4 * 0.8 * visU * 4.12 // √17
	visBF16GradTol  = 4 * 0.8 * visU * 6.08 // √37
	visBF16MinError = 1e-4                  // bf16 must visibly differ from fp32 (≫ fp32 noise 1e-6)
)

// visRMSErr is ‖got − want‖₂ / ‖want‖₂.
func visRMSErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		m += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / m)
}

// visRun runs F, B, W of micro-batch 0 and returns image_embeds and the accumulated
// gradients by name (copies).
func visRun(t *testing.T, s *VisionStage, in stages.Tensors, r *tensors.Tensor) (out []float32, grads map[string][]float32) {
	t.Helper()
	o, err := s.Forward(0, in)
	if err != nil {
		t.Fatal(err)
	}
	out = append([]float32(nil), o["image_embeds"].F32()...)
	if _, err := s.BackwardInput(0, stages.Tensors{"image_embeds": r}); err != nil {
		t.Fatal(err)
	}
	if err := s.BackwardWeight(0); err != nil {
		t.Fatal(err)
	}
	grads = map[string][]float32{}
	for _, p := range s.Params() {
		grads[p.Name] = append([]float32(nil), p.Grad.F32()...)
	}
	return out, grads
}

// visRandGrad is d(image_embeds) ~ N(0, 1) for M rows.
func visRandGrad(M, D int, seed uint64) *tensors.Tensor {
	r := tensors.New(tensors.F32, M, D)
	rng := rand.New(rand.NewPCG(seed, 5))
	for i := range r.F32() {
		r.F32()[i] = float32(rng.NormFloat64())
	}
	return r
}

type visPrecCase struct {
	name string
	p    *Params
	in   stages.Tensors
}

// visPrecCases: the two golden models and the tiny config with a qkv bias, on grids with
// several images and a video.
func visPrecCases(t *testing.T) []visPrecCase {
	var cs []visPrecCase
	for _, name := range visGoldenCases {
		_, p, in := visLoadGolden(t, name, nil)
		cs = append(cs, visPrecCase{"golden_" + name, p, in})
	}
	cfg := visTinyConfig(t, true)
	cs = append(cs, visPrecCase{"tiny_bias", visRandomParams(t, cfg, 21),
		visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 6}, {1, 2, 2}, {2, 6, 2}}, 22)})
	return cs
}

// visNewStage builds a stage whose recycled buffers are NaN-poisoned.
func visNewStage(t *testing.T, p *Params, prec string) *VisionStage {
	t.Helper()
	s, err := NewVisionStage(VisionStageConfig{Backend: cpu.New(), Params: p, Precision: prec})
	if err != nil {
		t.Fatal(err)
	}
	s.pool.poison = true
	return s
}

// TestVisionBF16 compares the bf16 mode with the fp32 mode: within the derived tolerances, and
// visibly different from it.
func TestVisionBF16(t *testing.T) {
	for _, c := range visPrecCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.p.Config.Vision
			r := visRandGrad(c.in["pixel_values"].Dim(0)/4, cfg.OutHiddenSize, 31)
			o32, g32 := visRun(t, visNewStage(t, c.p, PrecisionFP32), c.in, r)
			o16, g16 := visRun(t, visNewStage(t, c.p, PrecisionBF16), c.in, r)
			check := func(what string, got, ref []float32, tol float64) float64 {
				e := visRelErr(got, ref)
				switch {
				case e > tol:
					t.Errorf("%s: bf16 vs fp32 rel err %.3g > %.3g", what, e, tol)
				case e < visBF16MinError:
					t.Errorf("%s: bf16 vs fp32 rel err %.3g: bf16 GEMMs not in use?", what, e)
				}
				return e
			}
			e := check("image_embeds", o16, o32, visBF16OutTol)
			t.Logf("image_embeds: max-norm rel err %.3g (tol %.3g), rms rel err %.3g", e, visBF16OutTol, visRMSErr(o16, o32))
			worst, worstRMS, wn := 0.0, 0.0, ""
			for name, g := range g32 {
				if e := check(name, g16[name], g, visBF16GradTol); e > worst {
					worst, wn = e, name
				}
				worstRMS = math.Max(worstRMS, visRMSErr(g16[name], g))
			}
			t.Logf("%d gradients: worst max-norm rel err %.3g (%s; tol %.3g), worst rms rel err %.3g", len(g32), worst, wn, visBF16GradTol, worstRMS)
		})
	}
}

// TestVisionBF16AttentionOperands: keeping q, k, v as bf16 only (attn16, when the backend
// takes bf16 attention inputs) gives the bits of rounding them inside attention, for every
// case (attention bias, several frames and grids).
func TestVisionBF16AttentionOperands(t *testing.T) {
	for _, c := range visPrecCases(t) {
		cfg := c.p.Config.Vision
		r := visRandGrad(c.in["pixel_values"].Dim(0)/4, cfg.OutHiddenSize, 41)
		on := visNewStage(t, c.p, PrecisionBF16)
		if !on.attn16 {
			t.Fatal("the CPU backend's bf16 attention inputs were not detected")
		}
		off := visNewStage(t, c.p, PrecisionBF16)
		off.attn16 = false
		o1, g1 := visRun(t, on, c.in, r)
		o2, g2 := visRun(t, off, c.in, r)
		if visRelErr(o1, o2) != 0 {
			t.Errorf("%s: image_embeds differ", c.name)
		}
		for name, g := range g2 {
			if visRelErr(g1[name], g) != 0 {
				t.Errorf("%s: %s differs", c.name, name)
			}
		}
	}
}

// TestVisionDeterminism: a second step on the same stage (recycled, NaN-poisoned buffers),
// a fresh stage, recomputation and another GEMM thread count all give bit-identical outputs
// and gradients, in both precisions.
func TestVisionDeterminism(t *testing.T) {
	cfg := visTinyConfig(t, true)
	p := visRandomParams(t, cfg, 41)
	in := visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 6}, {2, 2, 2}}, 42)
	r := visRandGrad(in["pixel_values"].Dim(0)/4, cfg.Vision.OutHiddenSize, 43)
	for _, prec := range []string{PrecisionFP32, PrecisionBF16} {
		t.Run(prec, func(t *testing.T) {
			s := visNewStage(t, p, prec)
			o1, g1 := visRun(t, s, in, r)
			same := func(what string, o []float32, g map[string][]float32, scale float32) {
				t.Helper()
				for i := range o1 {
					if o[i] != o1[i] {
						t.Fatalf("%s: image_embeds[%d] = %g, first run %g", what, i, o[i], o1[i])
					}
				}
				for name, want := range g1 {
					for i, v := range g[name] {
						if v != scale*want[i] {
							t.Fatalf("%s: %s[%d] = %g, want %g", what, name, i, v, scale*want[i])
						}
					}
				}
			}
			// Same stage again, accumulators zeroed (an optimizer step that left the weights).
			for _, sp := range s.Params() {
				if err := s.be.Zero(sp.Grad); err != nil {
					t.Fatal(err)
				}
			}
			o2, g2 := visRun(t, s, in, r)
			same("second step on recycled buffers", o2, g2, 1)
			o3, g3 := visRun(t, visNewStage(t, p, prec), in, r)
			same("fresh stage", o3, g3, 1)
			sr := visNewStage(t, p, prec)
			sr.SetRecompute(true)
			o4, g4 := visRun(t, sr, in, r)
			same("recompute", o4, g4, 1)
			prev := gemm.SetThreads(3)
			o5, g5 := visRun(t, visNewStage(t, p, prec), in, r)
			gemm.SetThreads(prev)
			same("3 GEMM threads", o5, g5, 1)
		})
	}
}

// TestVisionBF16WeightCache: the bf16 weight copies follow in-place weight updates between
// steps (an optimizer step) and InvalidateCaches, while micro-batches in flight keep the
// copies they started with.
func TestVisionBF16WeightCache(t *testing.T) {
	cfg := visTinyConfig(t, false)
	in := visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 4}}, 52)
	r := visRandGrad(in["pixel_values"].Dim(0)/4, cfg.Vision.OutHiddenSize, 53)
	p := visRandomParams(t, cfg, 51)
	s := visNewStage(t, p, PrecisionBF16)
	update := func() { // an "optimizer step" on the GEMM weights
		for _, k := range s.gemmSlots {
			for i, v := range s.params[k].Value.F32() {
				s.params[k].Value.F32()[i] = v * 1.0625
			}
		}
	}
	forward := func(mb int) []float32 {
		t.Helper()
		o, err := s.Forward(mb, in)
		if err != nil {
			t.Fatal(err)
		}
		return o["image_embeds"].F32()
	}
	backward := func(mb int) map[string][]float32 {
		t.Helper()
		for _, sp := range s.Params() {
			if sp.Grad != nil {
				if err := s.be.Zero(sp.Grad); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := s.BackwardInput(mb, stages.Tensors{"image_embeds": r}); err != nil {
			t.Fatal(err)
		}
		if err := s.BackwardWeight(mb); err != nil {
			t.Fatal(err)
		}
		g := map[string][]float32{}
		for _, sp := range s.Params() {
			g[sp.Name] = append([]float32(nil), sp.Grad.F32()...)
		}
		return g
	}
	fresh := func() []float32 { // a new stage on the current weights
		o, _ := visRun(t, visNewStage(t, p, PrecisionBF16), in, r)
		return o
	}
	same := func(what string, a, b []float32, want bool) {
		t.Helper()
		if e := visRelErr(a, b); (e == 0) != want {
			t.Errorf("%s: rel err %.3g, want equality %v", what, e, want)
		}
	}

	o0 := forward(0)
	backward(0)
	update() // between steps: picked up by the next Forward
	o1 := forward(1)
	same("Forward after an update between steps vs a fresh stage", o1, fresh(), true)
	same("Forward after an update between steps vs before", o1, o0, false)

	update() // mb 1 in flight: the next micro-batch of the step keeps the step's copies
	o2 := forward(2)
	same("second micro-batch in flight, no invalidation", o2, o1, true)
	s.InvalidateCaches()
	o3 := forward(3)
	same("Forward after InvalidateCaches vs a fresh stage", o3, fresh(), true)
	g1, g2 := backward(1), backward(2) // both on the first generation of copies
	for name, g := range g1 {
		same("gradient of "+name+" of two micro-batches on the same copies", g2[name], g, true)
	}
	backward(3)
	if s.live != 0 || len(s.saved.Live()) != 0 {
		t.Errorf("%d micro-batches counted in flight, %v saved after their backward", s.live, s.saved.Live())
	}
	if _, err := NewVisionStage(VisionStageConfig{Backend: cpu.New(), Params: p, Precision: "fp16"}); err == nil {
		t.Error("Precision fp16 accepted")
	}
}

// TestVisionPoolClass checks the size classes: never smaller, at most 12.5% larger.
func TestVisionPoolClass(t *testing.T) {
	for n := 1; n < 1<<20; n += 1 + n/7 {
		c := poolClass(n)
		if c < n || (n > 64 && float64(c) > 1.125*float64(n)) {
			t.Fatalf("poolClass(%d) = %d", n, c)
		}
	}
}
