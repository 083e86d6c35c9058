package run

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/stages/optim"
	"github.com/glmflow/glmflow/tensors"
)

var tinyDir = filepath.Join("..", "..", "testdata", "tiny")

// buildChunk builds the stages of one pipeline stage from units: "V" vision, "E" embed, "t"
// the next decoder layer (from *layer), "L" head; each rank loads only its own tensors.
func buildChunk(t testing.TB, stage int, units string, layer *int, lossTokens int) *Chunk {
	t.Helper()
	cfg, err := glm4v.LoadConfig(filepath.Join(tinyDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := glm4v.NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New()
	var sels []glm4v.Selector
	from := *layer
	for _, u := range units {
		switch u {
		case 'V':
			sels = append(sels, glm4v.SelectVision())
		case 'E':
			sels = append(sels, glm4v.SelectEmbed())
		case 't':
			*layer++
		case 'L':
			sels = append(sels, glm4v.SelectHead())
		}
	}
	if *layer > from {
		sels = append(sels, glm4v.SelectLayers(from, *layer))
	}
	if err := glm4v.Load(tinyDir, p, glm4v.Any(sels...)); err != nil {
		t.Fatal(err)
	}
	sc := glm4v.StageConfig{Params: p, Backend: be}
	c := &Chunk{Stage: stage}
	add := func(s stages.Stage, err error) {
		if err != nil {
			t.Fatal(err)
		}
		c.Stages = append(c.Stages, s)
	}
	decAdded := false
	for _, u := range units {
		switch u {
		case 'V':
			add(glm4v.NewVisionStage(glm4v.VisionStageConfig{Backend: be, Params: p}))
		case 'E':
			add(glm4v.NewEmbed(glm4v.EmbedConfig{StageConfig: sc}))
		case 't':
			if !decAdded {
				add(glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: sc, From: from, To: *layer}))
				decAdded = true
			}
		case 'L':
			add(glm4v.NewHead(glm4v.HeadConfig{StageConfig: sc, LossTokens: lossTokens}))
		}
	}
	return c
}

// tinyBatch is one micro-batch for testdata/tiny: one row of S tokens with one image of a
// 4×4 patch grid (4 <|image|> tokens), or text only (ids of testdata/tiny/README.md).
func tinyBatch(seed uint64, withImage bool) (stages.Tensors, int) {
	r := rand.New(rand.NewPCG(seed, 77))
	const S = 24
	ids, mask, labels := tensors.New(tensors.I32, 1, S), tensors.New(tensors.I32, 1, S), tensors.New(tensors.I32, 1, S)
	loss := 0
	for i := range S {
		ids.I32()[i] = int32(r.IntN(476)) // ordinary ids below the special ones
		mask.I32()[i] = 1
		labels.I32()[i] = ids.I32()[i]
		if i > 12 {
			loss++
		} else {
			labels.I32()[i] = glm4v.IgnoreIndex
		}
	}
	b := stages.Tensors{"input_ids": ids, "attention_mask": mask, "labels": labels}
	if withImage {
		ids.I32()[2] = 486 // <|begin_of_image|>
		for i := 3; i < 7; i++ {
			ids.I32()[i] = 510 // <|image|>
		}
		ids.I32()[7] = 487
		px := tensors.New(tensors.F32, 16, 1176)
		for i := range px.F32() {
			px.F32()[i] = float32(r.NormFloat64())
		}
		grid := tensors.New(tensors.I32, 1, 3)
		copy(grid.I32(), []int32{1, 4, 4})
		b["pixel_values"], b["image_grid_thw"] = px, grid
	}
	return b, loss
}

type setup struct {
	name   string
	sched  string
	layout []string // units per pipeline stage
	p, v   int
}

var optCfg = optim.Config{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, ClipGrad: 1.0,
	LR: optim.LRSchedule{MaxLR: 1e-3, MinLR: 1e-4, Warmup: 1, DecayIters: 4}}

// train runs iters steps of m micro-batches in process and returns the losses and the final
// parameters by name.
func train(t *testing.T, s setup, m, iters int, tcp bool) ([]float64, map[string][]float32) {
	t.Helper()
	sc, err := schedule.New(s.sched, s.p, m, s.v)
	if err != nil {
		t.Fatal(err)
	}
	batches := make([]stages.Tensors, iters*m)
	lossTokens := make([]int, iters)
	for i := range batches {
		var n int
		batches[i], n = tinyBatch(uint64(i%m), i%m != 2) // the same global batch every step
		lossTokens[i/m] += n
	}
	var trs []transport.Transport
	if tcp {
		trs = dialTCP(t, s.p)
	} else {
		trs, _ = transport.NewInProc(s.p)
	}
	layer := 0
	chunks := make([]*Chunk, len(s.layout))
	for st, units := range s.layout {
		chunks[st] = buildChunk(t, st, units, &layer, lossTokens[0])
	}
	workers := make([]*Worker, s.p)
	for r := range s.p {
		w := &Worker{Rank: r, P: s.p, V: s.v, Actions: sc.Ranks[r], Transport: trs[r]}
		var ps []*stages.Param
		for c := range s.v {
			ch := chunks[c*s.p+r]
			w.Chunks = append(w.Chunks, ch)
			ps = append(ps, ch.Params()...)
		}
		if w.Optimizer, err = optim.New(cpu.New(), ps, optCfg); err != nil {
			t.Fatal(err)
		}
		workers[r] = w
	}
	var losses []float64
	for it := range iters {
		res := make([]Result, s.p)
		errs := make([]error, s.p)
		var wg sync.WaitGroup
		for r, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[r], errs[r] = w.Iterate(context.Background(), Iteration{Index: it, LossTokens: lossTokens[it],
					Batch: func(mb int) (stages.Tensors, error) { return batches[it*m+mb], nil }})
			}()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%s: rank %d: %v", s.name, r, err)
			}
			if fmt.Sprint(res[r]) != fmt.Sprint(res[0]) {
				t.Fatalf("%s: rank %d result %+v, rank 0 %+v", s.name, r, res[r], res[0])
			}
		}
		losses = append(losses, res[0].Loss)
	}
	for _, tr := range trs {
		tr.Close()
	}
	params := map[string][]float32{}
	for _, c := range chunks {
		for _, p := range c.Params() {
			params[p.Name] = append([]float32(nil), p.Value.F32()...)
		}
	}
	return losses, params
}

func dialTCP(t *testing.T, W int) []transport.Transport {
	t.Helper()
	master := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(20000))
	trs := make([]transport.Transport, W)
	errs := make([]error, W)
	var wg sync.WaitGroup
	for r := range W {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trs[r], errs[r] = transport.DialTCP(context.Background(), transport.TCPConfig{Rank: r, World: W, Master: master, Token: t.Name(), Timeout: 10 * time.Second})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return trs
}

// TestPipelinesAgree: losses and weights after 3 steps of 4 micro-batches agree across
// pp = 1, 2, 4, every schedule, in process and over TCP (rel ≤ 1e-6).
func TestPipelinesAgree(t *testing.T) {
	const m, iters = 4, 3
	ref := setup{"pp1", "1f1b", []string{"VEtttL"}, 1, 1}
	wantLoss, wantParams := train(t, ref, m, iters, false)
	t.Logf("pp1 losses %v", wantLoss)
	if !(wantLoss[iters-1] < wantLoss[0]) {
		t.Fatalf("reference losses do not decrease: %v", wantLoss)
	}
	layer := 0
	init := buildChunk(t, 0, "VEtttL", &layer, 1)
	var still []string
	for _, p := range init.Params() {
		if !p.Trainable {
			continue
		}
		w := wantParams[p.Name]
		same := true
		for j, x := range p.Value.F32() {
			same = same && x == w[j]
		}
		if same {
			still = append(still, p.Name)
		}
	}
	if len(still) > 0 {
		t.Fatalf("trainable parameters unchanged by training: %v", still)
	}
	setups := []setup{
		{"pp2 gpipe", "gpipe", []string{"VEt", "ttL"}, 2, 1},
		{"pp2 1f1b", "1f1b", []string{"VEt", "ttL"}, 2, 1},
		{"pp2 zb-h1", "zb-h1", []string{"VEt", "ttL"}, 2, 1},
		{"pp4 1f1b", "1f1b", []string{"V", "Et", "t", "tL"}, 4, 1},
		{"pp4 zb-h1", "zb-h1", []string{"VE", "t", "t", "tL"}, 4, 1},
		{"pp4 gpipe", "gpipe", []string{"VEt", "t", "t", "L"}, 4, 1},
		{"pp2 v2 interleaved", "interleaved-1f1b", []string{"VE", "t", "t", "tL"}, 2, 2},
	}
	for _, s := range setups {
		for _, tcp := range []bool{false, true} {
			if tcp && testing.Short() && s.p != 2 {
				continue
			}
			name := s.name
			if tcp {
				name += " tcp"
			}
			s.name = name
			loss, params := train(t, s, m, iters, tcp)
			for i := range loss {
				if d := math.Abs(loss[i] - wantLoss[i]); d > 1e-6*math.Abs(wantLoss[i]) {
					t.Errorf("%s: loss[%d] = %v, pp1 %v", name, i, loss[i], wantLoss[i])
				}
			}
			worst := 0.0
			for n, w := range wantParams {
				g := params[n]
				if len(g) != len(w) {
					t.Fatalf("%s: parameter %s missing", name, n)
				}
				for j := range w {
					d := math.Abs(float64(g[j]) - float64(w[j]))
					worst = max(worst, d/math.Max(1e-3, math.Abs(float64(w[j]))))
				}
			}
			if worst > 1e-6 {
				t.Errorf("%s: weights differ from pp1 by rel %.3g", name, worst)
			}
		}
	}
}

// failingStage fails its Forward on micro-batch 2.
type failingStage struct{ stages.Stage }

func (f failingStage) Forward(mb int, in stages.Tensors) (stages.Tensors, error) {
	if mb == 2 {
		return nil, errors.New("injected failure")
	}
	return f.Stage.Forward(mb, in)
}

// TestFirstErrorStopsAllRanks: a failing stage on rank 1 of 3 stops every rank with an error
// naming rank 1, no hang.
func TestFirstErrorStopsAllRanks(t *testing.T) {
	const p, m = 3, 4
	sc, _ := schedule.New("1f1b", p, m, 1)
	trs, _ := transport.NewInProc(p)
	layer := 0
	layout := []string{"VEt", "t", "tL"}
	workers := make([]*Worker, p)
	for r := range p {
		ch := buildChunk(t, r, layout[r], &layer, 40)
		if r == 1 {
			ch.Stages[0] = failingStage{ch.Stages[0]}
		}
		o, _ := optim.New(cpu.New(), ch.Params(), optCfg)
		workers[r] = &Worker{Rank: r, P: p, V: 1, Chunks: []*Chunk{ch}, Actions: sc.Ranks[r], Transport: trs[r], Optimizer: o}
	}
	errs := make([]error, p)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for r, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[r] = w.Iterate(ctx, Iteration{Batch: func(mb int) (stages.Tensors, error) { b, _ := tinyBatch(uint64(mb), true); return b, nil }})
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rank 1") {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if ctx.Err() != nil {
		t.Error("ranks only stopped at the timeout")
	}
}

// poisonStage writes a NaN into its first gradient in BackwardWeight.
type poisonStage struct{ stages.Stage }

func (p poisonStage) BackwardWeight(mb int) error {
	if err := p.Stage.BackwardWeight(mb); err != nil {
		return err
	}
	p.Params()[0].Grad.F32()[0] = float32(math.NaN())
	return nil
}

// TestNonFiniteSkipsEveryRank: a NaN gradient on rank 1 of 2 skips the update on both ranks,
// and both report rank 1.
func TestNonFiniteSkipsEveryRank(t *testing.T) {
	const p, m = 2, 2
	sc, _ := schedule.New("1f1b", p, m, 1)
	trs, _ := transport.NewInProc(p)
	layer := 0
	layout := []string{"VEt", "ttL"}
	workers := make([]*Worker, p)
	before := map[string][]float32{}
	for r := range p {
		ch := buildChunk(t, r, layout[r], &layer, 20)
		if r == 1 {
			ch.Stages[0] = poisonStage{ch.Stages[0]}
		}
		for _, q := range ch.Params() {
			before[q.Name] = append([]float32(nil), q.Value.F32()...)
		}
		o, _ := optim.New(cpu.New(), ch.Params(), optCfg)
		workers[r] = &Worker{Rank: r, P: p, V: 1, Chunks: []*Chunk{ch}, Actions: sc.Ranks[r], Transport: trs[r], Optimizer: o}
	}
	res := make([]Result, p)
	var wg sync.WaitGroup
	for r, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			res[r], err = w.Iterate(context.Background(), Iteration{Index: 3, Batch: func(mb int) (stages.Tensors, error) { b, _ := tinyBatch(uint64(mb), true); return b, nil }})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for r := range p {
		if !res[r].Step.Skipped || fmt.Sprint(res[r].NonFinite) != "[1]" {
			t.Errorf("rank %d: %+v", r, res[r])
		}
		for _, q := range workers[r].Chunks[0].Params() {
			for j, x := range q.Value.F32() {
				if x != before[q.Name][j] {
					t.Fatalf("rank %d: %s changed on a skipped step", r, q.Name)
				}
			}
		}
	}
}
