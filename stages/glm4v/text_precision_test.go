package glm4v

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
)

// Tolerances of the text stages' bf16 mode against fp32 (text_precision.go).
//
// The error model is the vision stage's (vision_precision_test.go): a GEMM with both operands
// rounded to bf16 (u = 2⁻⁸) and fp32 accumulation has an expected relative error of
// ≈ 0.8·u·rms(c), independent of K, and each GEMM layer on a path adds such an independent
// error, so a tensor's relative error is ≈ 0.8·u·√n_G, with max-norm errors a few standard
// deviations of that. The text path crosses per decoder layer 2 bf16 GEMM layers in the
// attention (q/k/v, o) and 2 in the MLP or the experts (gate/up, down), plus lm_head:
// n_G = 4L + 1 forward (13 for the 3-layer golden case1), and a weight gradient adds the
// backward path and its dW GEMM: n_G ≤ 2·(4L + 1) + 1 = 27. Logits and loss carry the
// forward path; with 4× margin:
//
//	logits:    4 · 0.8u · √13 ≈ 0.045
//	gradients: 4 · 0.8u · √27 ≈ 0.065
//
// The router's top-k choice is discontinuous: a token whose two best experts are closer than
// the bf16 noise may switch experts, an O(1) change of that token's routed output. The tests
// compare only runs in which bf16 made the same choices as fp32 (checked; the golden inputs
// have no near-ties at this noise level) — a flipped choice is reported, not tolerated.
const (
	txBF16LogitsTol = 4 * 0.8 * visU * 3.61 // √13
	txBF16GradTol   = 4 * 0.8 * visU * 5.2  // √27
	txBF16MinError  = 1e-4                  // bf16 must visibly differ from fp32 (≫ fp32 noise 1e-6)
)

func txRMSErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		m += float64(want[i]) * float64(want[i])
	}
	if m == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / m)
}

// TestTextBF16 compares the text stages' bf16 mode with fp32 on the golden cases (text side,
// image features given): loss, logits and every gradient within the derived tolerances, and
// visibly different (the bf16 GEMMs are in use).
func TestTextBF16(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	for _, c := range []string{"case1", "case2"} {
		t.Run(c, func(t *testing.T) {
			g := loadGolden(t, c)
			o32 := runModel(t, newTestModel(t, g.p, ModelOptions{TextOnly: true}), g.inputs(false), true)
			o16 := runModel(t, newTestModel(t, g.p, ModelOptions{TextOnly: true, Precision: PrecisionBF16}), g.inputs(false), true)
			for l, r := range o32.Router {
				if !sameI32(r.I32(), o16.Router[l].I32()) {
					t.Fatalf("layer %d: bf16 routed some token to other experts than fp32 (a near-tie; see the tolerance comment)", l)
				}
			}
			check := func(what string, got, want []float32, tol float64) float64 {
				e := relErr(got, want, nil)
				zero := true // an expert no token chose: a zero gradient either way
				for _, v := range want {
					zero = zero && v == 0
				}
				switch {
				case zero && e != 0:
					t.Errorf("%s: fp32 gradient 0, bf16 max |g| %.3g", what, e)
				case zero:
				case e > tol:
					t.Errorf("%s: bf16 vs fp32 rel err %.3g > %.3g", what, e, tol)
				case e < txBF16MinError:
					t.Errorf("%s: bf16 vs fp32 rel err %.3g: bf16 GEMMs not in use?", what, e)
				}
				return e
			}
			if e := math.Abs(float64(o16.Loss-o32.Loss)) / math.Abs(float64(o32.Loss)); e > txBF16LogitsTol {
				t.Errorf("loss: bf16 %v, fp32 %v (rel %.3g > %.3g)", o16.Loss, o32.Loss, e, txBF16LogitsTol)
			} else {
				t.Logf("loss: bf16 %v, fp32 %v (rel %.3g)", o16.Loss, o32.Loss, e)
			}
			e := check("logits", o16.Logits.F32(), o32.Logits.F32(), txBF16LogitsTol)
			t.Logf("logits: max-norm rel err %.3g (tol %.3g), rms rel err %.3g", e, txBF16LogitsTol, txRMSErr(o16.Logits.F32(), o32.Logits.F32()))
			if len(o16.Grads) != len(o32.Grads) {
				t.Fatalf("%d bf16 gradients, %d fp32", len(o16.Grads), len(o32.Grads))
			}
			worst, wn, worstRMS := 0.0, "", 0.0
			for _, n := range GradNames(o32.Grads) {
				g16, g32 := o16.Grads[n].F32(), o32.Grads[n].F32()
				if e := check(n, g16, g32, txBF16GradTol); e > worst {
					worst, wn = e, n
				}
				worstRMS = math.Max(worstRMS, txRMSErr(g16, g32))
			}
			t.Logf("%d gradients: worst max-norm rel err %.3g (%s; tol %.3g), worst rms rel err %.3g", len(o32.Grads), worst, wn, txBF16GradTol, worstRMS)
			if e := relErr(o16.ImageEmbedsGrad.F32(), o32.ImageEmbedsGrad.F32(), nil); e > txBF16GradTol {
				t.Errorf("image_embeds gradient: rel err %.3g > %.3g", e, txBF16GradTol)
			}
		})
	}
}

func sameI32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTextBF16Deterministic: the bf16 mode gives the same bits on a rerun (the weight cache
// re-cast in place, arena buffers reused, after a forward-only run), on a fresh model, at any GOMAXPROCS, and split into stages.
func TestTextBF16Deterministic(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	g := loadGolden(t, "case1")
	o := ModelOptions{TextOnly: true, Precision: PrecisionBF16}
	m := newTestModel(t, g.p, o)
	first := runModel(t, m, g.inputs(false), true)
	runModel(t, m, g.inputs(false), false) // forward-only: releases its weight copies
	sameOutputs(t, "rerun", runModel(t, m, g.inputs(false), true), first, 0)
	if c := m.Decoders[0].prec; c.live != 0 {
		t.Errorf("%d micro-batches still hold bf16 weights after the runs", c.live)
	}
	sameOutputs(t, "fresh model", runModel(t, newTestModel(t, g.p, o), g.inputs(false), true), first, 0)
	prev := runtime.GOMAXPROCS(1)
	one := runModel(t, newTestModel(t, g.p, o), g.inputs(false), true)
	runtime.GOMAXPROCS(prev)
	sameOutputs(t, "GOMAXPROCS 1", one, first, 0)
	o.Splits = []int{1, 2}
	sameOutputs(t, "split", runModel(t, newTestModel(t, g.p, o), g.inputs(false), true), first, 0)
}

// TestTextBF16CacheRefresh: after an in-place weight update between steps the next step uses
// the new weights (the cache re-casts by itself), matching a model built on the new weights;
// with a micro-batch in flight, InvalidateCaches makes later micro-batches use the new weights
// while the in-flight one keeps its copies.
func TestTextBF16CacheRefresh(t *testing.T) {
	g := loadGolden(t, "case1")
	o := ModelOptions{TextOnly: true, Precision: PrecisionBF16}
	m := newTestModel(t, g.p, o)
	before := runModel(t, m, g.inputs(false), true)
	scale := func() {
		for _, s := range m.Stages() {
			for _, p := range s.Params() {
				if p.Trainable && p.Value.Rank() == 2 {
					for i, v := range p.Value.F32() {
						p.Value.F32()[i] = v * 1.25
					}
				}
			}
		}
	}
	scale()
	after := runModel(t, m, g.inputs(false), true)
	if after.Loss == before.Loss {
		t.Fatalf("loss %v unchanged after scaling the weights: stale bf16 cache", after.Loss)
	}
	sameOutputs(t, "after update vs fresh model", after, runModel(t, newTestModel(t, g.p, o), g.inputs(false), true), 0)

	// In flight: a held generation keeps its copies; InvalidateCaches gives later
	// micro-batches a fresh one; with nothing in flight the cache is re-cast in place.
	c := m.Decoders[0].prec
	w := c.params[0]
	g1, err := c.acquire()
	if err != nil {
		t.Fatal(err)
	}
	old := g1.low[w].Clone()
	scale()
	g2, err := c.acquire() // g1 in flight, not invalidated: the same copies
	if err != nil {
		t.Fatal(err)
	}
	if g2 != g1 {
		t.Errorf("a new generation without InvalidateCaches while one is in flight")
	}
	m.InvalidateCaches()
	g3, err := c.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if g3 == g1 || !sameBits(g1.low[w], old) {
		t.Errorf("InvalidateCaches in flight: want a fresh generation and the held one unchanged")
	}
	want := tensors.New(tensors.BF16, w.Value.Shape()...)
	tensors.F32ToBF16(want.BF16(), w.Value.F32())
	if !sameBits(g3.low[w], want) {
		t.Errorf("the fresh generation is not the cast of the updated weights")
	}
	c.release(g1)
	c.release(g2)
	c.release(g3)
	scale()
	g4, err := c.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer c.release(g4)
	tensors.F32ToBF16(want.BF16(), w.Value.F32())
	if g4 != g3 || !sameBits(g4.low[w], want) {
		t.Errorf("nothing in flight: want the current generation re-cast in place")
	}
}

func sameBits(a, b *tensors.Tensor) bool {
	x, y := a.Bytes(), b.Bytes()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// TestTextPrecisionConfig: fp32 is the default ("" and "fp32" give the same bits), and an
// unknown precision is an error naming the stage.
func TestTextPrecisionConfig(t *testing.T) {
	g := loadGolden(t, "case2")
	a := runModel(t, newTestModel(t, g.p, ModelOptions{TextOnly: true}), g.inputs(false), true)
	b := runModel(t, newTestModel(t, g.p, ModelOptions{TextOnly: true, Precision: PrecisionFP32}), g.inputs(false), true)
	sameOutputs(t, "fp32 vs default", b, a, 0)
	for _, kind := range []string{KindEmbed, KindDecoder, KindHead} {
		sc := StageConfig{Params: g.p, Backend: cpu.New(), Precision: "fp16"}
		var err error
		switch kind {
		case KindEmbed:
			_, err = NewEmbed(EmbedConfig{sc})
		case KindDecoder:
			_, err = NewDecoder(DecoderConfig{StageConfig: sc, From: 0, To: 1})
		case KindHead:
			_, err = NewHead(HeadConfig{StageConfig: sc})
		}
		if err == nil || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), "fp16") {
			t.Errorf("%s with precision fp16: err %v", kind, err)
		}
	}
}
