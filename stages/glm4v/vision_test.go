package glm4v

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

var visGoldenCases = []string{"case1", "case2"}

func visGoldenDir(name string) string {
	return filepath.Join("..", "..", "testdata", "reference", "golden", name)
}

// visReadST reads every tensor of a safetensors file into host copies.
func visReadST(t *testing.T, path string) map[string]*tensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*tensors.Tensor{}
	for _, n := range f.Names() {
		x, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = x.Clone()
	}
	return out
}

// visI64ToI32 converts an I64 host tensor.
func visI64ToI32(t *testing.T, x *tensors.Tensor) *tensors.Tensor {
	t.Helper()
	out := tensors.New(tensors.I32, x.Shape()...)
	for i, v := range x.I64() {
		out.I32()[i] = int32(v)
	}
	return out
}

// visRelErr is max|got − want| / max|want| (the references's norm-wise comparison).
func visRelErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// visGoldenParams is LoadConfig + NewParams on a golden model directory.
func visGoldenParams(t *testing.T, dir string) *Params {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(dir, ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// visLoadGolden builds the vision stage on a golden case's model.
func visLoadGolden(t *testing.T, name string, opt func(*VisionStageConfig)) (*VisionStage, *Params, stages.Tensors) {
	t.Helper()
	dir := visGoldenDir(name)
	p := visGoldenParams(t, dir)
	if err := Load(dir, p, SelectVision()); err != nil {
		t.Fatal(err)
	}
	sc := VisionStageConfig{Backend: cpu.New(), Params: p}
	if opt != nil {
		opt(&sc)
	}
	st, err := stages.Build(VisionKind, sc)
	if err != nil {
		t.Fatal(err)
	}
	in := visReadST(t, filepath.Join(dir, "inputs.safetensors"))
	return st.(*VisionStage), p, stages.Tensors{
		"pixel_values":   in["pixel_values"],
		"image_grid_thw": visI64ToI32(t, in["image_grid_thw"]),
	}
}

func TestVisionGoldenForward(t *testing.T) {
	for _, name := range visGoldenCases {
		t.Run(name, func(t *testing.T) {
			s, _, in := visLoadGolden(t, name, nil)
			want := visReadST(t, filepath.Join(visGoldenDir(name), "outputs.safetensors"))
			out, err := s.Forward(0, in)
			if err != nil {
				t.Fatal(err)
			}
			got, ref := out["image_embeds"], want["image_embeds"]
			if !tensors.SameShape(got, ref) {
				t.Fatalf("image_embeds is %v, want %v", got, ref)
			}
			if e := visRelErr(got.F32(), ref.F32()); e > 1e-5 {
				t.Errorf("image_embeds: max|Δ|/max|ref| = %.3g > 1e-5", e)
			} else {
				t.Logf("image_embeds %v: rel err %.3g", got.Shape(), e)
			}

			// The interpolated position table, per patch row.
			thw := in["image_grid_thw"].I32()
			lay, err := newVisLayout(thw, in["pixel_values"].Dim(0), s.cfg.SpatialMergeSize)
			if err != nil {
				t.Fatal(err)
			}
			mb := &visMB{lay: lay}
			o := &visOps{be: s.be}
			s.tables(o, mb)
			pos := s.posEmbed(o, mb)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if e := visRelErr(pos.F32(), want["vision_pos_embed"].F32()); e > 1e-5 {
				t.Errorf("vision_pos_embed: rel err %.3g > 1e-5", e)
			} else {
				t.Logf("vision_pos_embed %v: rel err %.3g", pos.Shape(), e)
			}
			if err := s.BackwardWeight(0); err == nil {
				t.Error("BackwardWeight before BackwardInput succeeded")
			}
		})
	}
}

// visRandomParams builds the vision tree of cfg with well-scaled random values (as the golden
// generator does: N(0, 1/fan_in) weights, N(0, 1) position table, U(0.6, 1.4) norm weights,
// N(0, 0.2²) biases), so that every parameter visibly moves the output.
func visRandomParams(t testing.TB, cfg Config, seed uint64) *Params {
	t.Helper()
	p := &Params{Config: cfg}
	p.Visual = builder{dt: tensors.F32}.vision(&cfg.Vision)
	if err := p.bind(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, s := range p.Select(SelectVision()) {
		d := s.Alloc().F32()
		name := s.Name
		switch {
		case strings.HasSuffix(name, "norm1.weight"), strings.HasSuffix(name, "norm2.weight"),
			strings.HasSuffix(name, "layernorm.weight"), strings.HasSuffix(name, "post_projection_norm.weight"):
			for i := range d {
				d[i] = float32(0.6 + 0.8*rng.Float64())
			}
		case strings.HasSuffix(name, "bias"):
			for i := range d {
				d[i] = float32(0.2 * rng.NormFloat64())
			}
		case strings.Contains(name, "position_embedding"):
			for i := range d {
				d[i] = float32(rng.NormFloat64())
			}
		default:
			fanIn := 1
			for _, n := range s.Shape[1:] {
				fanIn *= n
			}
			std := 1 / math.Sqrt(float64(fanIn))
			for i := range d {
				d[i] = float32(std * rng.NormFloat64())
			}
		}
	}
	return p
}

// visTinyConfig is glm45v.md §8.4's vision config (case1's), optionally with a qkv bias.
func visTinyConfig(t testing.TB, bias bool) Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(visGoldenDir("case1"), ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Vision.AttentionBias = bias
	return cfg
}

// visRandomInputs makes pixel rows ~ N(0, 1) for the given grids.
func visRandomInputs(cfg *VisionConfig, grids [][3]int, seed uint64) stages.Tensors {
	P := 0
	for _, g := range grids {
		P += g[0] * g[1] * g[2]
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	pix := tensors.New(tensors.F32, P, cfg.PatchDim())
	for i := range pix.F32() {
		pix.F32()[i] = float32(rng.NormFloat64())
	}
	thw := tensors.New(tensors.I32, len(grids), 3)
	for i, g := range grids {
		for j := range 3 {
			thw.I32()[3*i+j] = int32(g[j])
		}
	}
	return stages.Tensors{"pixel_values": pix, "image_grid_thw": thw}
}

// visLoss is L = Σ out ⊙ R accumulated in float64.
func visLoss(out, r *tensors.Tensor) float64 {
	var l float64
	for i, v := range out.F32() {
		l += float64(v) * float64(r.F32()[i])
	}
	return l
}

// visGrads runs F, B, W for one micro-batch with d(image_embeds) = r and returns the
// gradients by name (copies).
func visGrads(t *testing.T, s *VisionStage, mb int, in stages.Tensors, r *tensors.Tensor) map[string][]float32 {
	t.Helper()
	if _, err := s.Forward(mb, in); err != nil {
		t.Fatal(err)
	}
	dIn, err := s.BackwardInput(mb, stages.Tensors{"image_embeds": r})
	if err != nil {
		t.Fatal(err)
	}
	if len(dIn) != 0 {
		t.Fatalf("BackwardInput returned %v, want no input gradients", dIn.Names())
	}
	for _, p := range s.Params() {
		if p.Grad != nil {
			// Only BackwardWeight may touch the accumulators.
			for _, v := range p.Grad.F32() {
				if v != 0 {
					t.Fatalf("%s: gradient written before BackwardWeight", p.Name)
				}
			}
		}
	}
	if err := s.BackwardWeight(mb); err != nil {
		t.Fatal(err)
	}
	g := map[string][]float32{}
	for _, p := range s.Params() {
		if p.Grad == nil {
			t.Fatalf("%s: no gradient after BackwardWeight", p.Name)
		}
		g[p.Name] = append([]float32(nil), p.Grad.F32()...)
	}
	return g
}

// TestVisionGradFiniteDifference checks dL/dθ of L = Σ image_embeds ⊙ R against central
// differences of the fp32 forward, for three elements (the largest |g| and two random) of
// every vision parameter, with and without a qkv bias, on grids that exercise the position
// interpolation (non-square, smaller and larger than the 4×4 table) and several attention
// segments (a two-frame video included).
func TestVisionGradFiniteDifference(t *testing.T) {
	for _, bias := range []bool{false, true} {
		t.Run(fmt.Sprintf("qkv_bias=%v", bias), func(t *testing.T) {
			cfg := visTinyConfig(t, bias)
			p := visRandomParams(t, cfg, 1)
			be := cpu.New()
			s, err := NewVisionStage(VisionStageConfig{Backend: be, Params: p})
			if err != nil {
				t.Fatal(err)
			}
			probe, err := NewVisionStage(VisionStageConfig{Backend: be, Params: p, Frozen: true})
			if err != nil {
				t.Fatal(err)
			}
			in := visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 6}, {1, 2, 2}, {2, 6, 2}}, 2)
			M := in["pixel_values"].Dim(0) / 4
			r := tensors.New(tensors.F32, M, cfg.Vision.OutHiddenSize)
			rng := rand.New(rand.NewPCG(3, 3))
			for i := range r.F32() {
				r.F32()[i] = float32(rng.NormFloat64())
			}
			grads := visGrads(t, s, 0, in, r)
			loss := func() float64 {
				out, err := probe.Forward(0, in)
				if err != nil {
					t.Fatal(err)
				}
				return visLoss(out["image_embeds"], r)
			}
			worst, checked := 0.0, 0
			for _, sp := range s.Params() {
				g := grads[sp.Name]
				gmax, imax := 0.0, 0
				for i, v := range g {
					if a := math.Abs(float64(v)); a > gmax {
						gmax, imax = a, i
					}
				}
				if gmax == 0 {
					t.Errorf("%s: gradient is all zero", sp.Name)
					continue
				}
				val := sp.Value.F32()
				for _, i := range []int{imax, rng.IntN(len(g)), rng.IntN(len(g))} {
					// Fourth-order central difference: truncation O(h⁴), so h can be large
					// enough that fp32 rounding of the forward stays small against it.
					x := val[i]
					h := float32(4e-2 * math.Max(1, math.Abs(float64(x))))
					at := func(k float32) float64 {
						val[i] = x + k*h
						defer func() { val[i] = x }()
						return loss()
					}
					fd := (8*(at(1)-at(-1)) - (at(2) - at(-2))) / (12 * float64(h))
					e := math.Abs(fd-float64(g[i])) / (math.Abs(float64(g[i])) + 1e-2*gmax)
					worst = math.Max(worst, e)
					checked++
					if e > 1e-2 {
						t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g (rel err %.3g)", sp.Name, i, g[i], fd, e)
					}
				}
			}
			t.Logf("%d elements of %d parameters checked; worst rel err %.3g", checked, len(s.Params()), worst)
		})
	}
}

// TestVisionMicroBatches interleaves two micro-batches (F0 F1 B1 W1 B0 W0) and checks that
// the accumulated gradients are the sum of each micro-batch's own, that recompute gives
// bit-identical gradients, and that the per-micro-batch state is released.
func TestVisionMicroBatches(t *testing.T) {
	cfg := visTinyConfig(t, true)
	p := visRandomParams(t, cfg, 5)
	be := cpu.New()
	in0 := visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 6}, {1, 2, 2}}, 6)
	in1 := visRandomInputs(&cfg.Vision, [][3]int{{1, 6, 4}}, 7)
	rnd := func(M int, seed uint64) *tensors.Tensor {
		r := tensors.New(tensors.F32, M, cfg.Vision.OutHiddenSize)
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := range r.F32() {
			r.F32()[i] = float32(rng.NormFloat64())
		}
		return r
	}
	r0, r1 := rnd(7, 8), rnd(6, 9)
	single := func(in stages.Tensors, r *tensors.Tensor, recompute bool) map[string][]float32 {
		s, err := NewVisionStage(VisionStageConfig{Backend: be, Params: p, Recompute: recompute})
		if err != nil {
			t.Fatal(err)
		}
		return visGrads(t, s, 3, in, r)
	}
	g0, g1 := single(in0, r0, false), single(in1, r1, false)
	g0r := single(in0, r0, true)
	for name, g := range g0 {
		for i := range g {
			if g[i] != g0r[name][i] {
				t.Fatalf("%s[%d]: recompute gives %g, stored activations %g", name, i, g0r[name][i], g[i])
			}
		}
	}

	s, err := NewVisionStage(VisionStageConfig{Backend: be, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRecompute(true) // mb 0 recomputes, mb 1 keeps its activations
	out0, err := s.Forward(0, in0)
	if err != nil {
		t.Fatal(err)
	}
	s.SetRecompute(false)
	if _, err := s.Forward(1, in1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forward(1, in1); err == nil {
		t.Error("a second Forward of a live micro-batch succeeded")
	}
	if got := s.saved.Live(); len(got) != 2 {
		t.Errorf("live micro-batches %v, want [0 1]", got)
	}
	if _, err := s.BackwardInput(0, stages.Tensors{"image_embeds": r1}); err == nil {
		t.Error("BackwardInput with a gradient of the wrong shape succeeded")
	}
	for _, step := range []struct {
		mb int
		r  *tensors.Tensor
	}{{1, r1}, {0, r0}} {
		if _, err := s.BackwardInput(step.mb, stages.Tensors{"image_embeds": step.r}); err != nil {
			t.Fatal(err)
		}
		if err := s.BackwardWeight(step.mb); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.saved.Live(); len(got) != 0 {
		t.Errorf("live micro-batches %v after the backward, want none", got)
	}
	worst := 0.0
	for _, sp := range s.Params() {
		want := make([]float32, len(g0[sp.Name]))
		for i := range want {
			want[i] = g0[sp.Name][i] + g1[sp.Name][i]
		}
		worst = math.Max(worst, visRelErr(sp.Grad.F32(), want))
	}
	if worst > 1e-6 {
		t.Errorf("accumulated gradients differ from the sum of per-micro-batch ones: rel err %.3g", worst)
	}
	if out0["image_embeds"].Dim(0) != 7 {
		t.Errorf("image_embeds %v, want 7 rows", out0["image_embeds"])
	}
}

// TestVisionDownsampleLayout checks the 2×2 downsample against HF's Conv2d written out:
// y[j, o] = b[o] + Σ_{c, kh, kw} W[o, c, kh, kw]·z[4j + kh·2 + kw, c].
func TestVisionDownsampleLayout(t *testing.T) {
	cfg := visTinyConfig(t, false)
	p := visRandomParams(t, cfg, 11)
	s, err := NewVisionStage(VisionStageConfig{Backend: cpu.New(), Params: p})
	if err != nil {
		t.Fatal(err)
	}
	Dv, Do, M := cfg.Vision.HiddenSize, cfg.Vision.OutHiddenSize, 5
	rng := rand.New(rand.NewPCG(12, 0))
	z := tensors.New(tensors.F32, 4*M, Dv)
	for i := range z.F32() {
		z.F32()[i] = float32(rng.NormFloat64())
	}
	o := &visOps{be: s.be}
	zc, y, back := o.f32(M, 4*Dv), o.f32(M, Do), o.f32(4*M, Dv)
	s.mergeT(o, zc, z, false)
	o.linear(y, zc, s.w.downW, s.w.downB)
	s.mergeT(o, back, zc, true)
	if o.err != nil {
		t.Fatal(o.err)
	}
	for i, v := range back.F32() {
		if v != z.F32()[i] {
			t.Fatalf("inverse block transpose: element %d is %g, want %g", i, v, z.F32()[i])
		}
	}
	W, b := p.Visual.Downsample.Weight.T.F32(), p.Visual.Downsample.Bias.T.F32() // [Do, Dv, 2, 2]
	want := make([]float32, M*Do)
	for j := range M {
		for oc := range Do {
			acc := float64(b[oc])
			for c := range Dv {
				for kh := range 2 {
					for kw := range 2 {
						acc += float64(W[((oc*Dv+c)*2+kh)*2+kw]) * float64(z.F32()[(4*j+kh*2+kw)*Dv+c])
					}
				}
			}
			want[j*Do+oc] = float32(acc)
		}
	}
	if e := visRelErr(y.F32(), want); e > 1e-6 {
		t.Errorf("downsample differs from the Conv2d formula: rel err %.3g", e)
	}
}

// TestVisionLayout checks the patch coordinates (merge-block order, frames repeated) and the
// attention segments against glm45v.md §2.3's construction.
func TestVisionLayout(t *testing.T) {
	l, err := newVisLayout([]int32{1, 4, 6, 2, 2, 2}, 24+8, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Image 0 (4×6): h, w grids [4, 6] → [2, 2, 3, 2] → swap → [2, 3, 2, 2] → flatten.
	i := 0
	for bh := range 2 {
		for bw := range 3 {
			for mh := range 2 {
				for mw := range 2 {
					if int(l.hpos[i]) != bh*2+mh || int(l.wpos[i]) != bw*2+mw {
						t.Fatalf("row %d is (%d, %d), want (%d, %d)", i, l.hpos[i], l.wpos[i], bh*2+mh, bw*2+mw)
					}
					i++
				}
			}
		}
	}
	for f := range 2 { // the 2×2 video repeats its coordinates per frame
		for k := range 4 {
			if int(l.hpos[i]) != k/2 || int(l.wpos[i]) != k%2 {
				t.Fatalf("frame %d row %d is (%d, %d)", f, k, l.hpos[i], l.wpos[i])
			}
			i++
		}
	}
	if fmt.Sprint(l.cu) != "[0 24 28 32]" || l.M != 8 {
		t.Errorf("cu_seqlens %v, M %d; want [0 24 28 32], 8", l.cu, l.M)
	}
	for _, bad := range []struct {
		thw []int32
		P   int
	}{
		{[]int32{1, 4, 6}, 25}, {[]int32{1, 3, 4}, 12}, {[]int32{0, 4, 4}, 0}, {[]int32{1, 4, -4}, 16},
		{[]int32{1, 1 << 30, 1 << 30, 1, 2, 2}, 4},
	} {
		if _, err := newVisLayout(bad.thw, bad.P, 2); err == nil {
			t.Errorf("grid_thw %v with %d rows accepted", bad.thw, bad.P)
		}
	}
}

// TestVisionFrozenAndPorts: a frozen stage keeps nothing, has no gradients, computes the same
// output; ports and parameter names are as documented.
func TestVisionFrozenAndPorts(t *testing.T) {
	cfg := visTinyConfig(t, false)
	p := visRandomParams(t, cfg, 13)
	be := cpu.New()
	in := visRandomInputs(&cfg.Vision, [][3]int{{1, 2, 4}}, 14)
	var outs []*tensors.Tensor
	for _, frozen := range []bool{false, true} {
		s, err := NewVisionStage(VisionStageConfig{Backend: be, Params: p, Frozen: frozen})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Forward(0, in)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out["image_embeds"])
		if frozen {
			if len(s.saved.Live()) != 0 {
				t.Error("frozen stage kept state")
			}
			if _, err := s.BackwardInput(0, stages.Tensors{}); err != nil {
				t.Error(err)
			}
			if err := s.BackwardWeight(0); err != nil {
				t.Error(err)
			}
			for _, sp := range s.Params() {
				if sp.Trainable || sp.Grad != nil {
					t.Errorf("frozen %s: trainable %v, grad %v", sp.Name, sp.Trainable, sp.Grad)
				}
			}
		}
		if len(s.Params()) != len(p.Select(SelectVision())) {
			t.Errorf("%d params, want %d", len(s.Params()), len(p.Select(SelectVision())))
		}
		in, out2 := s.Ports()
		if fmt.Sprint(in, out2) != "[pixel_values F32[P 1176] image_grid_thw I32[N 3]] [image_embeds F32[M 64]]" {
			t.Errorf("ports %v %v", in, out2)
		}
	}
	if visRelErr(outs[0].F32(), outs[1].F32()) != 0 {
		t.Error("frozen stage computes a different output")
	}
	s, _ := NewVisionStage(VisionStageConfig{Backend: be, Params: p})
	bad := visRandomInputs(&cfg.Vision, [][3]int{{1, 2, 4}}, 14)
	bad["image_grid_thw"].I32()[2] = 6
	if _, err := s.Forward(0, bad); err == nil {
		t.Error("grid_thw not matching the rows accepted")
	}
	if _, err := stages.Build(VisionKind, "nope"); err == nil {
		t.Error("Build with a wrong config type succeeded")
	}
}

// visBenchConfig is docs/performance.md's vision peer shape: 224² images (16×16 patches of
// 14, temporal patch 2), width 384, 6 blocks of 6 heads, SwiGLU 1024 (= out_hidden_size in
// GLM-4.5V), 2×2 merge; the merger (which the peer lacks: it has one Linear(1536→256)) gets
// width 1024 as well.
func visBenchConfig(t testing.TB) Config {
	cfg := visTinyConfig(t, false)
	v := &cfg.Vision
	v.Depth, v.HiddenSize, v.NumHeads, v.OutHiddenSize, v.IntermediateSize = 6, 384, 6, 1024, 1024
	v.ImageSize = 224
	cfg.Text.HiddenSize = v.OutHiddenSize
	return cfg
}

// BenchmarkVisionFwdBwd is one training step of the tower (Forward, BackwardInput,
// BackwardWeight) on 8 images, per precision; run with GOMAXPROCS=1 for the single-thread
// peer comparison:
//
//	GOMAXPROCS=1 go test -run '^$' -bench VisionFwdBwd ./stages/glm4v
//	OMP_NUM_THREADS=1 /usr/bin/python3 /work/shared/peer/torch_cpu_peer.py --threads 1 --which vit
func BenchmarkVisionFwdBwd(b *testing.B) {
	for _, prec := range []string{PrecisionFP32, PrecisionBF16} {
		b.Run(prec, func(b *testing.B) { benchVisionFwdBwd(b, prec) })
	}
}

func benchVisionFwdBwd(b *testing.B, prec string) {
	cfg := visBenchConfig(b)
	p := visRandomParams(b, cfg, 1)
	s, err := NewVisionStage(VisionStageConfig{Backend: cpu.New(), Params: p, Precision: prec})
	if err != nil {
		b.Fatal(err)
	}
	const images = 8
	grids := make([][3]int, images)
	for i := range grids {
		grids[i] = [3]int{1, 16, 16}
	}
	in := visRandomInputs(&cfg.Vision, grids, 2)
	M := in["pixel_values"].Dim(0) / 4
	r := tensors.New(tensors.F32, M, cfg.Vision.OutHiddenSize)
	for i := range r.F32() {
		r.F32()[i] = 1e-3
	}
	step := func() {
		if _, err := s.Forward(0, in); err != nil {
			b.Fatal(err)
		}
		if _, err := s.BackwardInput(0, stages.Tensors{"image_embeds": r}); err != nil {
			b.Fatal(err)
		}
		if err := s.BackwardWeight(0); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	steps := make([]float64, b.N)
	for i := range b.N {
		t0 := time.Now()
		step()
		steps[i] = time.Since(t0).Seconds()
	}
	b.ReportMetric(float64(images*b.N)/b.Elapsed().Seconds(), "images/s")
	// The peer reports the median step (torch_cpu_peer.py: images_per_s_median); so does this.
	slices.Sort(steps)
	b.ReportMetric(images/steps[len(steps)/2], "images/s-median")
	if c := cpuSeconds() - cpu0; c > 0 {
		// CPU time is steadier than wall time on a shared machine (GOMAXPROCS=1: one thread).
		b.ReportMetric(float64(images*b.N)/c, "images/cpu-s")
	}
}
