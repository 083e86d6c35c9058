package glm4v

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

// goldenDir is the independent PyTorch reference's output (testdata/reference/README.md).
func goldenDir(c string) string {
	return filepath.Join("..", "..", "testdata", "reference", "golden", c)
}

type golden struct {
	p        *Params
	in, want map[string]*tensors.Tensor
}

func readST(t testing.TB, path string) map[string]*tensors.Tensor {
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

func loadGolden(t testing.TB, c string) golden {
	t.Helper()
	dir := goldenDir(c)
	p := goldenParams(t, dir)
	if err := Load(dir, p, nil); err != nil {
		t.Fatal(err)
	}
	return golden{p: p, in: readST(t, filepath.Join(dir, "inputs.safetensors")), want: readST(t, filepath.Join(dir, "outputs.safetensors"))}
}

// goldenParams builds the parameter tree of a golden case. case2's config (5×5 position
// table, merge 2) fails Config.Validate's "spatial_merge_size divides the position grid"
// check, which HF does not have (the table is resampled to each image's grid); such a config
// is parsed and built without that validation.
func goldenParams(t testing.TB, dir string) *Params {
	t.Helper()
	path := filepath.Join(dir, ConfigName)
	cfg, err := LoadConfig(path)
	if err == nil {
		p, err := NewParams(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if !strings.Contains(err.Error(), "position grid") {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &cfgReader{file: path}
	cfg = r.parse(raw)
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	b := builder{dt: tensors.F32}
	p := &Params{Config: cfg}
	p.Visual = b.vision(&cfg.Vision)
	p.Language = b.language(&cfg.Text)
	p.LMHead = &Linear{Weight: b.normal(cfg.Text.InitializerRange, cfg.Text.VocabSize, cfg.Text.HiddenSize)}
	if err := p.bind(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (g golden) inputs(withVision bool) Inputs {
	in := Inputs{InputIDs: g.in["input_ids"], AttentionMask: g.in["attention_mask"], Labels: g.in["labels"],
		ImageGridTHW: g.in["image_grid_thw"]}
	if withVision {
		in.PixelValues = g.in["pixel_values"]
	} else {
		in.ImageEmbeds = g.want["image_embeds"]
	}
	return in
}

// relErr is max|got − want| / max|want| over the elements keep accepts (nil: all).
func relErr(got, want []float32, keep func(i int) bool) float64 {
	var d, m float64
	for i := range want {
		if keep != nil && !keep(i) {
			continue
		}
		if g := float64(got[i]); math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1) // NaN would slip through every "e > tol" check
		}
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func i64s(t *tensors.Tensor) []int64 {
	if t.DType() == tensors.I64 {
		return t.I64()
	}
	out := make([]int64, t.Numel())
	for i, v := range t.I32() {
		out[i] = int64(v)
	}
	return out
}

// checkGolden compares a Model run with the golden outputs; vision says whether the vision
// tower ran (else its gradients are not compared).
func checkGolden(t *testing.T, g golden, out *Outputs, vision bool) {
	t.Helper()
	mask := i64s(g.in["attention_mask"])
	B, S := g.in["input_ids"].Dim(0), g.in["input_ids"].Dim(1)
	V := g.p.Config.Text.VocabSize
	wantLoss := g.want["loss"].F32()[0]
	if e := math.Abs(float64(out.Loss-wantLoss)) / math.Abs(float64(wantLoss)); e > 1e-5 {
		t.Errorf("loss %v, want %v (rel %.2g)", out.Loss, wantLoss, e)
	}
	if e := relErr(out.Logits.F32(), g.want["logits"].F32(), func(i int) bool { return mask[i/V] == 1 }); e > 1e-5 {
		t.Errorf("logits rel err %.3g > 1e-5", e)
	} else {
		t.Logf("loss %v (want %v), logits rel err %.3g", out.Loss, wantLoss, e)
	}
	if !slices.Equal(i64s(out.PositionIDs), i64s(g.want["position_ids"])) {
		t.Errorf("position_ids %v, want %v", out.PositionIDs.I32(), g.want["position_ids"].I64())
	}
	for l, got := range out.Router {
		want := g.want["router."+itoa(l)+".topk_indices"]
		if want == nil {
			t.Errorf("golden lacks router.%d", l)
			continue
		}
		k := got.Dim(1)
		gi, wi := got.I32(), want.I64()
		for r := range B * S {
			if mask[r] != 1 {
				continue
			}
			row := slices.Clone(gi[r*k : (r+1)*k])
			slices.Sort(row)
			for j := range k {
				if int64(row[j]) != wi[r*k+j] {
					t.Errorf("layer %d token %d: experts %v, want %v", l, r, row, wi[r*k:(r+1)*k])
					break
				}
			}
		}
	}
	if len(out.Router) == 0 {
		t.Error("no router choices recorded")
	}
	if out.Grads == nil {
		return
	}
	worst, worstName, n := 0.0, "", 0
	for name, w := range g.want {
		pname, ok := strings.CutPrefix(name, "grad.")
		if !ok {
			continue
		}
		if strings.HasPrefix(pname, VisionPrefix) && !vision {
			continue
		}
		got := out.Grads[pname]
		if got == nil {
			t.Errorf("no gradient for %s", pname)
			continue
		}
		if !slices.Equal(got.Shape(), w.Shape()) {
			t.Errorf("grad %s is %v, want %v", pname, got.Shape(), w.Shape())
			continue
		}
		n++
		e := relErr(got.F32(), w.F32(), nil)
		if e > 1e-4 {
			t.Errorf("grad %s rel err %.3g > 1e-4", pname, e)
		}
		if e > worst {
			worst, worstName = e, pname
		}
	}
	for name := range out.Grads {
		if g.want["grad."+name] == nil {
			t.Errorf("gradient %s is not in the golden file", name)
		}
	}
	t.Logf("%d gradients compared, worst rel err %.3g (%s)", n, worst, worstName)
}

func itoa(i int) string { return strconv.Itoa(i) }

func fmtInt(i int) string { return strconv.Itoa(i) }

// TestGoldenTextSide runs embed + decoder + head on the golden image features (the vision
// tower's output) and checks loss, logits, position ids, router choices and every text
// gradient, including the image-feature gradient against a finite-difference-free identity:
// image rows of embed_tokens get none.
func TestGoldenTextSide(t *testing.T) {
	for _, c := range []string{"case1", "case2"} {
		t.Run(c, func(t *testing.T) {
			g := loadGolden(t, c)
			m, err := NewModel(g.p, cpu.New(), ModelOptions{TextOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Run(g.inputs(false), true)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, g, out, false)
		})
	}
}

// TestGoldenFull runs the whole model, vision tower included, once vision.go provides it.
func TestGoldenFull(t *testing.T) {
	for _, c := range []string{"case1", "case2"} {
		t.Run(c, func(t *testing.T) {
			g := loadGolden(t, c)
			m, err := NewModel(g.p, cpu.New(), ModelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Run(g.inputs(true), true)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, g, out, true)
			if e := relErr(out.ImageEmbeds.F32(), g.want["image_embeds"].F32(), nil); e > 1e-5 {
				t.Errorf("image_embeds rel err %.3g", e)
			}
		})
	}
}

// TestGoldenHFAuxLoss: HF's pooled load-balancing loss (AuxLoss "hf") equals the reference's
// aux_loss (stored raw, without router_aux_loss_coef) on both goldens, for one decoder stage
// and one per layer; the reported CE loss stays the reference's loss without aux.
func TestGoldenHFAuxLoss(t *testing.T) {
	for _, c := range []string{"case1", "case2"} {
		t.Run(c, func(t *testing.T) {
			g := loadGolden(t, c)
			want := float64(g.want["aux_loss"].F32()[0])
			coef := g.p.Config.Text.RouterAuxLossCoef
			L := g.p.Config.Text.NumHiddenLayers
			var perLayer []int
			for i := 1; i < L; i++ {
				perLayer = append(perLayer, i)
			}
			for _, splits := range [][]int{nil, perLayer} {
				m := newTestModel(t, g.p, ModelOptions{TextOnly: true, Splits: splits, Aux: AuxLoss{Type: "hf"}})
				out := runModel(t, m, g.inputs(false), true)
				got := out.AuxLoss / coef
				if e := math.Abs(got-want) / math.Abs(want); e > 2e-6 {
					t.Errorf("splits %v: aux_loss %v, want %v (rel %.2g)", splits, got, want, e)
				} else {
					t.Logf("splits %v: aux_loss %.8g, want %.8g (rel %.2g)", splits, got, want, e)
				}
				if wl := g.want["loss"].F32()[0]; math.Abs(float64(out.Loss-wl)) > 1e-5*math.Abs(float64(wl)) {
					t.Errorf("loss %v, want %v (the aux loss is reported apart)", out.Loss, wl)
				}
			}
		})
	}
}

// TestArenaReuse runs each golden case three times on one model (the second and third runs
// draw every buffer from the stages' arenas) with every arena buffer NaN-poisoned when
// handed out: an op that reads an output before writing it, or a buffer returned while
// still in use, breaks the golden comparison or the run-to-run equality.
func TestArenaReuse(t *testing.T) {
	txPoison = true
	defer func() { txPoison = false }()
	for _, c := range []string{"case1", "case2"} {
		for _, aux := range []AuxLoss{{}, {Type: "hf"}} {
			t.Run(c+" aux "+aux.Type, func(t *testing.T) {
				g := loadGolden(t, c)
				m, err := NewModel(g.p, cpu.New(), ModelOptions{TextOnly: true, Splits: []int{1}, Aux: aux})
				if err != nil {
					t.Fatal(err)
				}
				var first *Outputs
				for i := range 3 {
					out, err := m.Run(g.inputs(false), i != 1) // the middle run is forward-only
					if err != nil {
						t.Fatal(err)
					}
					if i == 1 {
						continue
					}
					if aux.Type == "" { // the golden gradients are without aux
						checkGolden(t, g, out, false)
					}
					if first == nil {
						first = out
					} else {
						sameOutputs(t, "rerun", out, first, 0)
						if out.AuxLoss != first.AuxLoss {
							t.Errorf("rerun: aux loss %v, first %v", out.AuxLoss, first.AuxLoss)
						}
					}
				}
			})
		}
	}
}
