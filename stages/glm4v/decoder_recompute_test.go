package glm4v

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// TestRecomputeBitIdentical: ModelOptions.Recompute gives the loss, aux loss, expert choices
// and every gradient of the kept-activation path bit for bit, in fp32 and bf16, without and
// with the seq and hf aux losses, unsplit and split (NaN-poisoned buffers, so a recomputed
// activation read before it is written, or a kept buffer handed out again, shows).
func TestRecomputeBitIdentical(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	g := loadGolden(t, "case1")
	for _, prec := range []string{PrecisionFP32, PrecisionBF16} {
		for _, aux := range []AuxLoss{{}, {Type: "seq", Coeff: 0.5}, {Type: "hf", Coeff: 0.5}} {
			for _, splits := range [][]int{nil, {1}} {
				vision := prec == PrecisionFP32 && aux.Type == "" // the vision stage's own recompute too
				o := ModelOptions{Precision: prec, Aux: aux, Splits: splits, TextOnly: !vision}
				want := runModel(t, newTestModel(t, g.p, o), g.inputs(vision), true)
				o.Recompute = true
				m := newTestModel(t, g.p, o)
				got := runModel(t, m, g.inputs(vision), true)
				what := fmt.Sprintf("%s aux %q splits %v", prec, aux.Type, splits)
				sameOutputs(t, what, got, want, 0)
				if got.AuxLoss != want.AuxLoss {
					t.Errorf("%s: aux loss %v, want %v", what, got.AuxLoss, want.AuxLoss)
				}
				if aux.Type != "" && !(want.AuxLoss > 0) {
					t.Errorf("%s: aux loss %v", what, want.AuxLoss)
				}
				if len(got.Router) == 0 || len(got.Router) != len(want.Router) {
					t.Errorf("%s: router choices of %d vs %d layers", what, len(got.Router), len(want.Router))
				}
				for l, c := range want.Router {
					if x := got.Router[l]; x == nil || !slices.Equal(x.I32(), c.I32()) {
						t.Errorf("%s: layer %d chose other experts", what, l)
					}
				}
				// A second step on the same model (arena buffers reused) gives the same bits.
				sameOutputs(t, what+" rerun", runModel(t, m, g.inputs(vision), true), want, 0)
			}
		}
	}
}

// textPipe is embed → decoders → head built directly from the stages (no Model), for running
// micro-batches in an arbitrary schedule.
type textPipe struct {
	emb  *Embed
	decs []*Decoder
	head *Head
}

func newTextPipe(t *testing.T, g golden, sc StageConfig, aux AuxLoss, splits []int, recompute bool) *textPipe {
	t.Helper()
	p := &textPipe{}
	var err error
	if p.emb, err = NewEmbed(EmbedConfig{sc}); err != nil {
		t.Fatal(err)
	}
	bounds := append(append([]int{0}, splits...), g.p.Config.Text.NumHiddenLayers)
	for i := 0; i+1 < len(bounds); i++ {
		d, err := NewDecoder(DecoderConfig{StageConfig: sc, From: bounds[i], To: bounds[i+1], Aux: aux})
		if err != nil {
			t.Fatal(err)
		}
		d.SetRecompute(recompute)
		p.decs = append(p.decs, d)
	}
	if p.head, err = NewHead(HeadConfig{StageConfig: sc, Aux: aux}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *textPipe) stages() []stages.Stage {
	ss := []stages.Stage{p.emb}
	for _, d := range p.decs {
		ss = append(ss, d)
	}
	return append(ss, p.head)
}

// run runs a schedule like "F0 F1 B1 B0 W1 W0" and returns the gradients by name, and the
// decoders' KeptBytes summed after every F and B call (by call).
func (p *textPipe) run(t *testing.T, order string, embIn stages.Tensors, labels *tensors.Tensor) (map[string][]float32, map[string]int64) {
	t.Helper()
	kept := map[string]int64{}
	for _, a := range strings.Fields(order) {
		mb := int(a[1] - '0')
		var err error
		switch a[0] {
		case 'F':
			x, err := p.emb.Forward(mb, embIn)
			for _, d := range p.decs {
				if err == nil {
					x, err = d.Forward(mb, x)
				}
			}
			if err == nil {
				hin := stages.Tensors{"hidden": x["hidden"], "labels": labels}
				for _, n := range []string{"router_counts", "router_probs"} {
					if x[n] != nil {
						hin[n] = x[n]
					}
				}
				_, err = p.head.Forward(mb, hin)
			}
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		case 'B':
			d, err := p.head.BackwardInput(mb, stages.Tensors{})
			for i := len(p.decs) - 1; i >= 0 && err == nil; i-- {
				d, err = p.decs[i].BackwardInput(mb, d)
			}
			if err == nil {
				_, err = p.emb.BackwardInput(mb, d)
			}
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		case 'W':
			for _, s := range p.stages() {
				if err == nil {
					err = s.BackwardWeight(mb)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			continue
		}
		for _, d := range p.decs {
			n, err := d.KeptBytes(mb)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			kept[a] += n
		}
	}
	out := map[string][]float32{}
	for _, s := range p.stages() {
		for _, q := range s.Params() {
			if q.Grad != nil {
				out[q.Name] = slices.Clone(q.Grad.F32())
			}
		}
	}
	return out, kept
}

// TestRecomputeInterleaved: two micro-batches in a zero-bubble-like order (F0 F1 B1 B0 W1 W0)
// with recompute give the gradients of F0 B0 W0 F1 B1 W1 without it bit for bit (fp32 and
// bf16, aux seq and hf, unsplit and split), and the memory a micro-batch keeps drops: after
// Forward to the layer inputs (well under a third of the kept activations), after
// BackwardInput to at most what the kept-activation path holds.
func TestRecomputeInterleaved(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	g := loadGolden(t, "case2")
	in := g.inputs(false)
	m := newTestModel(t, g.p, ModelOptions{TextOnly: true})
	ids, _ := m.ids("input_ids", in.InputIDs, 2)
	mask, _ := m.ids("attention_mask", in.AttentionMask, 2)
	labels, _ := m.ids("labels", in.Labels, 2)
	grid, _ := m.ids("image_grid_thw", in.ImageGridTHW, 2)
	embIn := stages.Tensors{"input_ids": ids, "attention_mask": mask, "image_embeds": in.ImageEmbeds, "image_grid_thw": grid}
	for _, prec := range []string{PrecisionFP32, PrecisionBF16} {
		for _, aux := range []AuxLoss{{Type: "seq", Coeff: 0.5}, {Type: "hf", Coeff: 0.5}} {
			for _, splits := range [][]int{nil, {1}} {
				what := fmt.Sprintf("%s aux %q splits %v", prec, aux.Type, splits)
				sc := StageConfig{Params: g.p, Backend: cpu.New(), Precision: prec}
				want, keptWant := newTextPipe(t, g, sc, aux, splits, false).run(t, "F0 B0 W0 F1 B1 W1", embIn, labels)
				got, kept := newTextPipe(t, g, sc, aux, splits, true).run(t, "F0 F1 B1 B0 W1 W0", embIn, labels)
				if len(want) == 0 || len(got) != len(want) {
					t.Fatalf("%s: %d vs %d gradients", what, len(got), len(want))
				}
				for n, x := range want {
					if !slices.Equal(got[n], x) {
						t.Errorf("%s: grad %s differs (rel %.3g)", what, n, relErr(got[n], x, nil))
					}
				}
				t.Logf("%s: kept bytes after F %d → %d, after B %d → %d", what, keptWant["F0"], kept["F0"], keptWant["B0"], kept["B0"])
				if !(kept["F0"] > 0 && 3*kept["F0"] < keptWant["F0"]) || kept["F1"] != kept["F0"] {
					t.Errorf("%s: after Forward a micro-batch keeps %d bytes with recompute, %d without", what, kept["F0"], keptWant["F0"])
				}
				if !(kept["B0"] > 0 && kept["B0"] <= keptWant["B0"]) {
					t.Errorf("%s: after BackwardInput a micro-batch keeps %d bytes with recompute, %d without", what, kept["B0"], keptWant["B0"])
				}
			}
		}
	}
}

// TestRecomputeSetAndState: SetRecompute applies to later Forward calls (a micro-batch in
// flight finishes in its own mode) and KeptBytes needs a live micro-batch.
func TestRecomputeSetAndState(t *testing.T) {
	g := loadGolden(t, "case2")
	in := g.inputs(false)
	m := newTestModel(t, g.p, ModelOptions{TextOnly: true})
	want := runModel(t, m, in, true)
	d := m.Decoders[0]
	var r stages.Recomputer = d
	r.SetRecompute(true)
	if !d.recompute.Load() {
		t.Fatal("SetRecompute(true) did not turn recompute on")
	}
	sameOutputs(t, "after SetRecompute", runModel(t, m, in, true), want, 0)
	if _, err := d.KeptBytes(7); err == nil {
		t.Error("KeptBytes of a micro-batch that is not live: want an error")
	}
	if live := d.saved.Live(); len(live) != 0 {
		t.Errorf("micro-batches %v still live", live)
	}
}

// TestHeadRecompute: the head's recompute gives the same bits, and a micro-batch keeps no
// activation buffers between Forward and BackwardInput.
func TestHeadRecompute(t *testing.T) {
	g := loadGolden(t, "case1")
	in := g.inputs(false)
	m := newTestModel(t, g.p, ModelOptions{TextOnly: true})
	want := runModel(t, m, in, true)
	var r stages.Recomputer = m.Head
	r.SetRecompute(true)
	sameOutputs(t, "head recompute", runModel(t, m, in, true), want, 0)
	if live := m.Head.saved.Live(); len(live) != 0 {
		t.Fatalf("micro-batches %v still live", live)
	}

	// Direct Forward on the head: only the inputs are kept.
	const B, S = 2, 5
	D := g.p.Config.Text.HiddenSize
	hidden := tensors.New(tensors.F32, B*S, D)
	for i, v := 0, hidden.F32(); i < len(v); i++ {
		v[i] = float32(i%7)*0.1 - 0.3
	}
	labels := tensors.New(tensors.I32, B, S)
	for i, v := 0, labels.I32(); i < len(v); i++ {
		v[i] = int32(i % 3)
	}
	for _, on := range []bool{false, true} {
		m.Head.SetRecompute(on)
		if _, err := m.Head.Forward(9, stages.Tensors{"hidden": hidden, "labels": labels}); err != nil {
			t.Fatal(err)
		}
		st, err := m.Head.saved.Get(KindHead, 9)
		if err != nil {
			t.Fatal(err)
		}
		if kept := len(st.bufs); on != (kept == 0) {
			t.Errorf("recompute %v: %d activation buffers kept after Forward", on, kept)
		}
		if _, err := m.Head.BackwardInput(9, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Head.BackwardWeight(9); err != nil {
			t.Fatal(err)
		}
	}
}
