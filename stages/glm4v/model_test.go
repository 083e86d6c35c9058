package glm4v

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

func newTestModel(t testing.TB, p *Params, o ModelOptions) *Model {
	t.Helper()
	m, err := NewModel(p, cpu.New(), o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runModel(t testing.TB, m *Model, in Inputs, grads bool) *Outputs {
	t.Helper()
	out, err := m.Run(in, grads)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameOutputs requires loss, logits and every gradient to agree within rel (0: bitwise).
func sameOutputs(t *testing.T, what string, a, b *Outputs, rel float64) {
	t.Helper()
	if e := math.Abs(float64(a.Loss - b.Loss)); !(e <= rel*math.Abs(float64(b.Loss))) {
		t.Errorf("%s: loss %v vs %v", what, a.Loss, b.Loss)
	}
	if a.Logits != nil && b.Logits != nil {
		if e := relErr(a.Logits.F32(), b.Logits.F32(), nil); e > rel {
			t.Errorf("%s: logits differ, rel %.3g", what, e)
		}
	}
	if len(a.Grads) != len(b.Grads) {
		t.Errorf("%s: %d vs %d gradients", what, len(a.Grads), len(b.Grads))
	}
	for n, g := range b.Grads {
		x := a.Grads[n]
		if x == nil {
			t.Errorf("%s: no gradient %s", what, n)
			continue
		}
		if e := relErr(x.F32(), g.F32(), nil); e > rel {
			t.Errorf("%s: grad %s differs, rel %.3g", what, n, e)
		}
	}
}

// TestSplitEqualsUnsplit: [vision | embed | 0..1 | 1..3 | head] and one decoder stage per
// layer give the numbers of [vision | embed | 0..3 | head], bit for bit.
func TestSplitEqualsUnsplit(t *testing.T) {
	g := loadGolden(t, "case1")
	in := g.inputs(true)
	for _, aux := range []AuxLoss{{}, {Type: "hf", Coeff: 0.5}} {
		want := runModel(t, newTestModel(t, g.p, ModelOptions{Aux: aux}), in, true)
		if aux.Type != "" && !(want.AuxLoss > 0) {
			t.Errorf("aux %q: aux loss %v", aux.Type, want.AuxLoss)
		}
		for _, splits := range [][]int{{1}, {1, 2}, {2}} {
			got := runModel(t, newTestModel(t, g.p, ModelOptions{Splits: splits, Aux: aux}), in, true)
			what := "aux " + aux.Type + " splits " + strings.Trim(strings.Join(strings.Fields(fmtInts(splits)), ","), "[]")
			sameOutputs(t, what, got, want, 0)
			if got.AuxLoss != want.AuxLoss {
				t.Errorf("%s: aux loss %v, want %v", what, got.AuxLoss, want.AuxLoss)
			}
		}
	}
}

func fmtInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmtInt(x)
	}
	return strings.Join(s, " ")
}

// rows slices rows [a, b) of a [B, ...] tensor (a copy).
func rows(t testing.TB, x *tensors.Tensor, a, b int) *tensors.Tensor {
	t.Helper()
	y, err := x.Slice(0, a, b)
	if err != nil {
		t.Fatal(err)
	}
	return y.Clone()
}

// TestMicroBatchAccumulation: the batch of case1 as two micro-batches of one sequence each,
// with the loss normalised by the global loss-token count, accumulates the gradients of the
// whole batch run at once; so does the same schedule with interleaved F/B/W (F0 F1 B1 B0 W0 W1).
func TestMicroBatchAccumulation(t *testing.T) {
	g := loadGolden(t, "case1")
	full := g.inputs(true)
	want := runModel(t, newTestModel(t, g.p, ModelOptions{}), full, true)
	// Row 0 holds images 0, 1 (24 + 4 patches), row 1 image 2 (8 patches).
	mbs := []Inputs{
		{InputIDs: rows(t, full.InputIDs, 0, 1), AttentionMask: rows(t, full.AttentionMask, 0, 1), Labels: rows(t, full.Labels, 0, 1),
			PixelValues: rows(t, full.PixelValues, 0, 28), ImageGridTHW: rows(t, full.ImageGridTHW, 0, 2)},
		{InputIDs: rows(t, full.InputIDs, 1, 2), AttentionMask: rows(t, full.AttentionMask, 1, 2), Labels: rows(t, full.Labels, 1, 2),
			PixelValues: rows(t, full.PixelValues, 28, 36), ImageGridTHW: rows(t, full.ImageGridTHW, 2, 3)},
	}
	labels := i64s(full.Labels)
	S := full.Labels.Dim(1)
	n := 0
	for i, l := range labels {
		if i%S > 0 && l != IgnoreIndex {
			n++
		}
	}
	m := newTestModel(t, g.p, ModelOptions{LossTokens: n, Splits: []int{1}})
	if err := m.ZeroGrads(); err != nil {
		t.Fatal(err)
	}
	var loss float32
	for mb, in := range mbs {
		out, err := m.Step(mb, in, true)
		if err != nil {
			t.Fatal(err)
		}
		loss += out.Loss
	}
	grads, err := m.Grads()
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "2 micro-batches", &Outputs{Loss: loss, Grads: grads}, &Outputs{Loss: want.Loss, Grads: want.Grads}, 2e-6)
}

// TestBackwardSplitInterleaved runs two micro-batches through the text stages in a
// zero-bubble-like order (F0 F1 B1 B0 W1 W0) and checks the gradients equal F0 B0 W0 F1 B1 W1.
func TestBackwardSplitInterleaved(t *testing.T) {
	g := loadGolden(t, "case2")
	in := g.inputs(false)
	build := func() []stages.Stage {
		sc := StageConfig{Params: g.p, Backend: cpu.New()}
		e, err := NewEmbed(EmbedConfig{sc})
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDecoder(DecoderConfig{StageConfig: sc, From: 0, To: 2})
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHead(HeadConfig{StageConfig: sc})
		if err != nil {
			t.Fatal(err)
		}
		return []stages.Stage{e, d, h}
	}
	m := newTestModel(t, g.p, ModelOptions{TextOnly: true})
	ids, _ := m.ids("input_ids", in.InputIDs, 2)
	mask, _ := m.ids("attention_mask", in.AttentionMask, 2)
	labels, _ := m.ids("labels", in.Labels, 2)
	grid, _ := m.ids("image_grid_thw", in.ImageGridTHW, 2)
	embIn := stages.Tensors{"input_ids": ids, "attention_mask": mask, "image_embeds": in.ImageEmbeds, "image_grid_thw": grid}
	run := func(order string) map[string][]float32 {
		ss := build()
		for _, a := range strings.Fields(order) {
			mb := int(a[1] - '0')
			var err error
			switch a[0] {
			case 'F':
				x, err1 := ss[0].Forward(mb, embIn)
				if err1 != nil {
					t.Fatal(err1)
				}
				if x, err = ss[1].Forward(mb, x); err == nil {
					_, err = ss[2].Forward(mb, stages.Tensors{"hidden": x["hidden"], "labels": labels})
				}
			case 'B':
				var d stages.Tensors
				if d, err = ss[2].BackwardInput(mb, stages.Tensors{}); err == nil {
					if d, err = ss[1].BackwardInput(mb, d); err == nil {
						_, err = ss[0].BackwardInput(mb, d)
					}
				}
			case 'W':
				for _, s := range ss {
					if err == nil {
						err = s.BackwardWeight(mb)
					}
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		}
		out := map[string][]float32{}
		for _, s := range ss {
			for _, p := range s.Params() {
				if p.Grad != nil {
					out[p.Name] = slices.Clone(p.Grad.F32())
				}
			}
		}
		return out
	}
	a, b := run("F0 B0 W0 F1 B1 W1"), run("F0 F1 B1 B0 W1 W0")
	for n, x := range a {
		if !slices.Equal(x, b[n]) {
			t.Errorf("grad %s differs between schedules (rel %.3g)", n, relErr(b[n], x, nil))
		}
	}
	if len(a) == 0 {
		t.Fatal("no gradients")
	}
}

// TestPaddingAndImageRowsGetNoGradient: embed_tokens rows pad_token_id and image_token_id
// (padding_idx; overwritten by the image features) get exactly zero gradient although both
// tokens occur at attended positions.
func TestPaddingAndImageRowsGetNoGradient(t *testing.T) {
	g := loadGolden(t, "case1")
	out := runModel(t, newTestModel(t, g.p, ModelOptions{}), g.inputs(true), true)
	gr := out.Grads[EmbedPrefix+"weight"]
	D := gr.Dim(1)
	for _, id := range []int{g.p.Config.Text.PadTokenID, g.p.Config.ImageTokenID} {
		for _, v := range gr.F32()[id*D : (id+1)*D] {
			if v != 0 {
				t.Fatalf("embed_tokens row %d has gradient %v", id, gr.F32()[id*D:(id+1)*D])
			}
		}
	}
}

// fdCheck compares Outputs.Grads with central differences of objective(Run) for the
// largest-|g| element and one other element of every parameter (all kinds), in float32.
func fdCheck(t *testing.T, g golden, o ModelOptions, objective func(*Outputs) float64) {
	m := newTestModel(t, g.p, o)
	in := g.inputs(!o.TextOnly)
	base := runModel(t, m, in, true)
	const eps = 2e-3
	checked := 0
	for _, name := range GradNames(base.Grads) {
		gr := base.Grads[name].F32()
		slot, ok := g.p.Param(name)
		if !ok { // a per-expert hub name: the fused slots are checked below
			continue
		}
		best := 0
		for i, v := range gr {
			if math.Abs(float64(v)) > math.Abs(float64(gr[best])) {
				best = i
			}
		}
		for _, i := range []int{best, (len(gr) * 7 / 13) % len(gr)} {
			x := slot.T.F32()
			orig := x[i]
			x[i] = orig + eps
			lp := objective(runModel(t, m, in, false))
			x[i] = orig - eps
			lm := objective(runModel(t, m, in, false))
			x[i] = orig
			fd := (lp - lm) / (2 * eps)
			an := float64(gr[i])
			if math.Abs(fd-an) > 2e-3+3e-2*math.Abs(an) {
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", name, i, an, fd)
			}
			checked++
		}
	}
	// Fused experts: perturb a few elements of the fused slots directly.
	for _, l := range g.p.Language.Layers {
		if l.MoE == nil {
			continue
		}
		for _, slot := range []*Param{&l.MoE.Experts.GateUp, &l.MoE.Experts.Down} {
			names := slot.HubNames()
			blk := int(slot.Numel()) / len(names)
			// The expert-row with the largest gradient.
			bi, bj, bv := 0, 0, 0.0
			for k, n := range names {
				for j, v := range base.Grads[n].F32() {
					if math.Abs(float64(v)) > bv {
						bi, bj, bv = k, j, math.Abs(float64(v))
					}
				}
			}
			i := bi*blk + bj
			x := slot.T.F32()
			orig := x[i]
			x[i] = orig + eps
			lp := objective(runModel(t, m, in, false))
			x[i] = orig - eps
			lm := objective(runModel(t, m, in, false))
			x[i] = orig
			fd, an := (lp-lm)/(2*eps), float64(base.Grads[names[bi]].F32()[bj])
			if math.Abs(fd-an) > 2e-3+3e-2*math.Abs(an) {
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", names[bi], bj, an, fd)
			}
			checked++
		}
	}
	// The image-feature input gradient (text-side runs).
	if o.TextOnly {
		x := in.ImageEmbeds.F32()
		gi := base.ImageEmbedsGrad.F32()
		for _, i := range []int{0, len(x) / 2, len(x) - 1} {
			orig := x[i]
			x[i] = orig + eps
			lp := objective(runModel(t, m, in, false))
			x[i] = orig - eps
			lm := objective(runModel(t, m, in, false))
			x[i] = orig
			fd, an := (lp-lm)/(2*eps), float64(gi[i])
			if math.Abs(fd-an) > 2e-3+3e-2*math.Abs(an) {
				t.Errorf("image_embeds[%d]: analytic %.6g, finite difference %.6g", i, an, fd)
			}
			checked++
		}
	}
	t.Logf("%d elements checked", checked)
}

// TestFiniteDifferences checks whole-model gradients (vision included) by central
// differences on every parameter kind.
func TestFiniteDifferences(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	g := loadGolden(t, "case2")
	fdCheck(t, g, ModelOptions{}, func(o *Outputs) float64 { return float64(o.Loss) })
}

// TestFiniteDifferencesTextWithAux checks the text stages with the seq aux loss on (loss +
// aux), including the gradient of the image features.
func TestFiniteDifferencesTextWithAux(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	g := loadGolden(t, "case1")
	fdCheck(t, g, ModelOptions{TextOnly: true, Aux: AuxLoss{Type: "seq", Coeff: 0.5}},
		func(o *Outputs) float64 { return float64(o.Loss) + o.AuxLoss })
}

// TestFiniteDifferencesTextWithHFAux checks the text stages with HF's pooled aux loss on
// (coefficient 0.5 so its gradient is visible next to the CE's), split over two decoder
// stages, by central differences of loss + aux.
func TestFiniteDifferencesTextWithHFAux(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	g := loadGolden(t, "case1")
	fdCheck(t, g, ModelOptions{TextOnly: true, Splits: []int{2}, Aux: AuxLoss{Type: "hf", Coeff: 0.5}},
		func(o *Outputs) float64 { return float64(o.Loss) + o.AuxLoss })
}

// TestHFAuxOnlyGradient: with the CE gradient scaled away (dOut["loss"] = 0) the router
// weights' gradients are the aux loss's alone; they match central differences of the aux
// value, which is smooth in the router weights while no routing choice flips.
func TestHFAuxOnlyGradient(t *testing.T) {
	g := loadGolden(t, "case2")
	in := g.inputs(false)
	for _, splits := range [][]int{nil, {1}} {
		m := newTestModel(t, g.p, ModelOptions{TextOnly: true, Splits: splits, Aux: AuxLoss{Type: "hf", Coeff: 1, GradScale: 2}})
		base := runModel(t, m, in, true) // CE + 2·aux gradients
		m0 := newTestModel(t, g.p, ModelOptions{TextOnly: true, Splits: splits})
		ce := runModel(t, m0, in, true)
		for _, l := range g.p.Language.Layers {
			if l.MoE == nil {
				continue
			}
			slot := &l.MoE.Gate.Weight
			x := slot.T.F32()
			ga, gc := base.Grads[slot.Name].F32(), ce.Grads[slot.Name].F32()
			for _, i := range []int{0, len(x) / 3, len(x) - 1} {
				const eps = 1e-3
				orig := x[i]
				x[i] = orig + eps
				ap := runModel(t, m, in, false).AuxLoss
				x[i] = orig - eps
				am := runModel(t, m, in, false).AuxLoss
				x[i] = orig
				fd := 2 * (ap - am) / (2 * eps)
				an := float64(ga[i] - gc[i])
				if math.Abs(fd-an) > 1e-4+1e-2*math.Abs(an) {
					t.Errorf("splits %v: %s[%d]: aux gradient %.6g, finite difference %.6g", splits, slot.Name, i, an, fd)
				}
			}
		}
	}
}

// TestTinyModelRuns loads the embedded bf16 tiny model and runs an image batch end to end.
func TestTinyModelRuns(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "tiny")
	cfg, err := LoadConfig(filepath.Join(dir, ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Load(dir, p, nil); err != nil {
		t.Fatal(err)
	}
	// [gMASK] <sop> <|user|> \n <boi> <|image|>×4 <eoi> text… ; image grid (1, 4, 4).
	img, boi, eoi := int64(cfg.ImageTokenID), int64(cfg.ImageStartTokenID), int64(cfg.ImageEndTokenID)
	ids := []int64{1, 2, 3, 4, boi, img, img, img, img, eoi, 5, 6, 7, 8, 9, 10}
	S := len(ids)
	labels := make([]int64, S)
	for i := range labels {
		labels[i] = IgnoreIndex
		if i >= 10 {
			labels[i] = ids[i]
		}
	}
	in := Inputs{InputIDs: i64Tensor(ids, 1, S), Labels: i64Tensor(labels, 1, S),
		PixelValues: tensors.New(tensors.F32, 16, cfg.Vision.PatchDim()), ImageGridTHW: i64Tensor([]int64{1, 4, 4}, 1, 3)}
	for i := range in.PixelValues.F32() {
		in.PixelValues.F32()[i] = float32(math.Sin(float64(i)))
	}
	out := runModel(t, newTestModel(t, p, ModelOptions{}), in, true)
	if l := float64(out.Loss); math.IsNaN(l) || math.Abs(l-math.Log(float64(cfg.Text.VocabSize))) > 0.5 {
		t.Errorf("loss %v, want ≈ ln(V) = %.3f for a fresh model", l, math.Log(float64(cfg.Text.VocabSize)))
	}
	if got, want := len(out.Grads), len(p.Specs())-cfg.Text.NumHiddenLayers+cfg.Text.FirstKDenseReplace; got != want {
		t.Errorf("%d gradients, want %d (every hub tensor but the selection biases)", got, want)
	}
	if out.Logits.Dim(0) != 1 || out.Logits.Dim(1) != S || out.Logits.Dim(2) != cfg.Text.VocabSize {
		t.Errorf("logits %v", out.Logits)
	}
}

func i64Tensor(v []int64, shape ...int) *tensors.Tensor {
	t := tensors.New(tensors.I64, shape...)
	copy(t.I64(), v)
	return t
}

// TestInputErrors: bad inputs fail with errors that name the input and the problem.
func TestInputErrors(t *testing.T) {
	g := loadGolden(t, "case1")
	m := newTestModel(t, g.p, ModelOptions{})
	base := g.inputs(true)
	for _, tc := range []struct {
		name string
		mod  func(in *Inputs)
		want string
	}{
		{"no ids", func(in *Inputs) { in.InputIDs = nil }, "input_ids is missing"},
		{"mask shape", func(in *Inputs) { in.AttentionMask = rows(t, in.AttentionMask, 0, 1) }, "attention_mask"},
		{"labels dtype", func(in *Inputs) { in.Labels = tensors.New(tensors.F32, 2, 27) }, "labels"},
		{"bad label", func(in *Inputs) {
			in.Labels = in.Labels.Clone()
			in.Labels.I64()[20] = 1000
		}, "labels[0][20] = 1000"},
		{"bad id", func(in *Inputs) {
			in.InputIDs = in.InputIDs.Clone()
			in.InputIDs.I64()[3] = -5
		}, "input_ids[0][3] = -5"},
		{"grid count", func(in *Inputs) {
			in.ImageGridTHW = rows(t, in.ImageGridTHW, 0, 2)
			in.PixelValues = rows(t, in.PixelValues, 0, 28)
		}, "do not match"},
		{"no pixels", func(in *Inputs) { in.PixelValues = nil }, "pixel_values is missing"},
		{"bad mask value", func(in *Inputs) {
			in.AttentionMask = in.AttentionMask.Clone()
			in.AttentionMask.I64()[1] = -1
		}, "attention_mask[0][1] = -1"},
	} {
		in := base
		tc.mod(&in)
		_, err := m.Run(in, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// The model still works after the failures (no state left behind).
	runModel(t, m, base, true)
}

// TestRopeIndexWorkedExample is glm45v.md §4.3's example.
func TestRopeIndexWorkedExample(t *testing.T) {
	cfg := Config{ImageTokenID: 12, VideoTokenID: 13, VideoStartTokenID: 8, VideoEndTokenID: 9}
	cfg.Vision.SpatialMergeSize = 2
	ids := []int32{2, 3, 4, 6, 10, 12, 12, 12, 12, 12, 12, 11, 7, 0}
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}
	pos, deltas, err := RopeIndex(&cfg, ids, mask, 1, len(ids), [][3]int32{{1, 4, 6}})
	if err != nil {
		t.Fatal(err)
	}
	T := len(ids)
	want := [3][]int32{
		{0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 8, 9, PadPositionID},
		{0, 1, 2, 3, 4, 5, 5, 5, 6, 6, 6, 8, 9, PadPositionID},
		{0, 1, 2, 3, 4, 5, 6, 7, 5, 6, 7, 8, 9, PadPositionID},
	}
	for c := range 3 {
		if !slices.Equal(pos[c*T:(c+1)*T], want[c]) {
			t.Errorf("stream %d: %v, want %v", c, pos[c*T:(c+1)*T], want[c])
		}
	}
	if deltas[0] != 10-13 {
		t.Errorf("delta %d, want %d", deltas[0], 10-13)
	}
	// Text only: cumsum(mask) − 1, pads PadPositionID, delta max + 1 − S.
	pos, deltas, err = RopeIndex(&cfg, []int32{0, 0, 1, 2}, []int32{0, 0, 1, 1}, 1, 4, nil)
	if err != nil || !slices.Equal(pos[:4], []int32{1, 1, 0, 1}) || deltas[0] != 2-4 {
		t.Errorf("text-only: %v %v %v", pos, deltas, err)
	}
	if _, _, err := RopeIndex(&cfg, []int32{12, 12, 12}, []int32{1, 1, 1}, 1, 3, [][3]int32{{1, 2, 2}}); err == nil || !strings.Contains(err.Error(), "directly") {
		t.Errorf("over-long image run: %v", err)
	}
	if _, _, err := RopeIndex(&cfg, []int32{13}, []int32{1}, 1, 1, [][3]int32{{1, 2, 2}}); err == nil || !strings.Contains(err.Error(), "video") {
		t.Errorf("video token: %v", err)
	}
}

// TestNoLogitsSkipsRowsWithoutLoss: without a logits output the head runs lm_head only on the
// rows with a target; loss and gradients equal the full-logits run (case1 has prompt, image
// and padding rows with label −100), also when the arena buffers are reused.
func TestNoLogitsSkipsRowsWithoutLoss(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	for _, c := range []string{"case1", "case2"} {
		g := loadGolden(t, c)
		in := g.inputs(false)
		want := runModel(t, newTestModel(t, g.p, ModelOptions{TextOnly: true}), in, true)
		m := newTestModel(t, g.p, ModelOptions{TextOnly: true, NoLogits: true})
		for range 2 {
			got := runModel(t, m, in, true)
			if got.Logits != nil {
				t.Fatal("NoLogits run returned logits")
			}
			sameOutputs(t, c+" NoLogits", got, want, 2e-6)
		}
	}
}
