package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/train"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/stages/optim"
	"github.com/glmflow/glmflow/tensors"
)

// Config selects the run's size.
type Config struct {
	Steps int  // timed steps per measurement after one warm-up step (default 3)
	Quick bool // 4 micro-batches of 128 tokens instead of 8 of 256
}

// Row is one comparison.
type Row struct {
	Name     string
	Unit     string
	Value    float64
	Base     float64
	BaseName string
}

// Ratio is Value/Base.
func (r Row) Ratio() float64 { return r.Value / r.Base }

const layers = 6

// modelConfig is the benchmark model's config.json.
func modelConfig() map[string]any {
	text := map[string]any{
		"model_type": "glm4v_moe_text", "vocab_size": 8192, "hidden_size": 256, "num_hidden_layers": layers,
		"num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 688,
		"moe_intermediate_size": 256, "n_routed_experts": 8, "num_experts_per_tok": 2, "n_shared_experts": 1,
		"first_k_dense_replace": 1, "n_group": 1, "topk_group": 1, "norm_topk_prob": true, "routed_scaling_factor": 1.0,
		"partial_rotary_factor": 0.5, "rope_theta": 10000.0, "rope_scaling": map[string]any{"rope_type": "default", "mrope_section": []int{4, 2, 2}},
		"attention_bias": true, "rms_norm_eps": 1e-5, "hidden_act": "silu", "initializer_range": 0.02,
		"max_position_embeddings": 4096, "pad_token_id": 8100, "eos_token_id": []int{8100}, "tie_word_embeddings": false,
		"image_token_id": 8190, "image_start_token_id": 8188, "image_end_token_id": 8189, "use_qk_norm": false,
		"router_aux_loss_coef": 0.0001, "attention_dropout": 0.0, "use_cache": true, "torch_dtype": "float32",
	}
	vision := map[string]any{
		"model_type": "glm4v_moe", "depth": 2, "hidden_size": 32, "num_heads": 2, "out_hidden_size": 256, "intermediate_size": 48,
		"patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2, "image_size": 56, "in_channels": 3,
		"hidden_act": "silu", "rms_norm_eps": 1e-5, "initializer_range": 0.02, "attention_bias": false, "attention_dropout": 0.0,
	}
	return map[string]any{"architectures": []string{"Glm4vMoeForConditionalGeneration"}, "model_type": "glm4v_moe",
		"text_config": text, "vision_config": vision, "image_token_id": 8190, "image_start_token_id": 8188, "image_end_token_id": 8189,
		"video_token_id": 8191, "video_start_token_id": 8186, "video_end_token_id": 8187, "tie_word_embeddings": false, "torch_dtype": "float32"}
}

// writeModel writes the randomly initialised benchmark model into dir.
func writeModel(dir string) error {
	raw, err := json.MarshalIndent(modelConfig(), "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, glm4v.ConfigName)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	cfg, err := glm4v.ParseConfig(path, raw)
	if err != nil {
		return err
	}
	p, err := glm4v.NewParams(cfg)
	if err != nil {
		return err
	}
	return glm4v.WriteInit(dir, p, 1, glm4v.InitOptions{SelectionBiasStd: 0.05}, 1<<40)
}

// batches are m text-only micro-batches of one row of S tokens.
func batches(m, S int) ([]stages.Tensors, int) {
	r := rand.New(rand.NewPCG(9, 9))
	out := make([]stages.Tensors, m)
	loss := 0
	for i := range out {
		ids, mask, labels := tensors.New(tensors.I32, 1, S), tensors.New(tensors.I32, 1, S), tensors.New(tensors.I32, 1, S)
		for j := range S {
			ids.I32()[j] = int32(r.IntN(8000))
			mask.I32()[j] = 1
			labels.I32()[j] = ids.I32()[j]
		}
		loss += S - 1
		out[i] = stages.Tensors{"input_ids": ids, "attention_mask": mask, "labels": labels}
	}
	return out, loss
}

var optCfg = optim.Config{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.033, ClipGrad: 1,
	LR: optim.LRSchedule{MaxLR: 1e-4, MinLR: 1e-5, DecayIters: 100}}

// pipeline is a built in-process pipeline.
type pipeline struct {
	workers []*run.Worker
	trace   *run.Trace
	sched   schedule.Schedule
}

func buildPipeline(dir, layoutStr, sched string, p, m int) (*pipeline, error) {
	s := spec.Defaults()
	s.Model.Path, s.Parallel.PP, s.Parallel.Layout = dir, p, layoutStr
	sc, err := schedule.New(sched, p, m, 1)
	if err != nil {
		return nil, err
	}
	trs, err := transport.NewInProc(p)
	if err != nil {
		return nil, err
	}
	pl := &pipeline{trace: run.NewTrace(time.Now()), sched: sc}
	for r := range p {
		parts, err := train.PlanBuilder(&s, r)
		if err != nil {
			return nil, err
		}
		var ps []*stages.Param
		for _, c := range parts.Chunks {
			ps = append(ps, c.Params()...)
		}
		o, err := optim.New(cpu.New(), ps, optCfg)
		if err != nil {
			return nil, err
		}
		pl.workers = append(pl.workers, &run.Worker{Rank: r, P: p, V: 1, Chunks: parts.Chunks, Actions: sc.Ranks[r], Transport: trs[r], Optimizer: o, Trace: pl.trace})
	}
	return pl, nil
}

// step runs one iteration on every rank and returns its wall time and window.
func (pl *pipeline) step(it int, mbs []stages.Tensors, lossTokens int) (time.Duration, [2]time.Duration, error) {
	t0 := time.Now()
	errs := make([]error, len(pl.workers))
	var wg sync.WaitGroup
	for i, w := range pl.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.Iterate(context.Background(), run.Iteration{Index: it, LossTokens: lossTokens,
				Batch: func(mb int) (stages.Tensors, error) { return mbs[mb], nil }})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, [2]time.Duration{}, err
		}
	}
	return time.Since(t0), [2]time.Duration{t0.Sub(pl.trace.Origin()), time.Since(pl.trace.Origin())}, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Run prints the rows to w.
func Run(w io.Writer, c Config) ([]Row, error) {
	if c.Steps <= 0 {
		c.Steps = 3
	}
	m, S := 8, 256
	if c.Quick {
		m, S = 4, 128
	}
	dir, err := os.MkdirTemp("", "glmflow-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := writeModel(dir); err != nil {
		return nil, fmt.Errorf("bench: model: %w", err)
	}
	mbs, lossTokens := batches(m, S)
	tokens := float64(m * S)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer cpu.SetThreads(cpu.SetThreads(1))
	var rows []Row
	emit := func(r Row) {
		rows = append(rows, r)
		fmt.Fprintf(w, "%-46s %10.1f %-8s %10.1f %-8s  %-20s ×%.2f\n", r.Name, r.Value, r.Unit, r.Base, r.Unit, r.BaseName, r.Ratio())
	}
	fmt.Fprintf(w, "pipeline: GLM-4.5V-shaped text model, %d layers, %d micro-batches × %d tokens per step, median of %d steps\n", layers, m, S, c.Steps)

	// 1. Executor overhead: pp 1 through the executor vs the same stages back to back.
	runtime.GOMAXPROCS(1)
	direct, err := directRate(dir, mbs, lossTokens, c.Steps)
	if err != nil {
		return rows, err
	}
	pl1, err := buildPipeline(dir, fmt.Sprintf("VEt*%dL", layers), "1f1b", 1, m)
	if err != nil {
		return rows, err
	}
	pp1, _, err := pl1.rate(mbs, lossTokens, c.Steps)
	if err != nil {
		return rows, err
	}
	emit(Row{Name: "executor pp 1 (1 core)", Unit: "tok/s", Value: tokens / pp1.Seconds(), Base: tokens / direct.Seconds(), BaseName: "stages back to back"})

	// 2. Two ranks on two cores against one rank on one core. The machine's own parallel
	// capacity, measured the same way on a trivially parallel loop, is the ceiling (virtual
	// CPUs do not always deliver two cores).
	runtime.GOMAXPROCS(2)
	// The simulator gets the cores the machine delivered around each measurement (≥ 1, ≤ 2,
	// rounded to 0.1; the mean of the capacity measured before and after it).
	delivered := func(before float64) (float64, float64) {
		after := parallelCapacity()
		return min(2, max(1, math.Round((before+after)/2*10)/10)), after
	}
	capacity := parallelCapacity()
	emit(Row{Name: "machine: 2 threads vs 1 (independent loops)", Unit: "×", Value: capacity, Base: 1, BaseName: "one thread"})
	var cores float64
	for _, sched := range []string{"1f1b", "zb-h1"} {
		pl2, err := buildPipeline(dir, "VEtttt|ttL", sched, 2, m)
		if err != nil {
			return rows, err
		}
		pp2, windows, err := pl2.rate(mbs, lossTokens, c.Steps)
		if err != nil {
			return rows, err
		}
		cores, capacity = delivered(capacity)
		emit(Row{Name: fmt.Sprintf("pp 2 %s (%.1f cores)", sched, cores), Unit: "tok/s", Value: tokens / pp2.Seconds(), Base: tokens / pp1.Seconds(), BaseName: "pp 1 on 1 core"})
		measured, simulated := train.Bubbles(pl2.trace.Spans(), pl2.sched, windows, cores)
		emit(Row{Name: fmt.Sprintf("bubble p 2 m %d %s (%%)", m, sched), Unit: "%", Value: 100 * measured, Base: 100 * simulated, BaseName: "simulator"})
	}

	// 3. Measured bubble vs the simulator's at p = 4, m = 8. With fewer than 4 cores the ranks
	// share them: busy ranks slow each other down in the steady phase and not in the ramps, so
	// the simulator then takes each action's work (estimated from the trace) and shares the
	// delivered cores among the computing ranks (schedule.SimulateCores).
	runtime.GOMAXPROCS(4)
	for _, sched := range []string{"1f1b", "zb-h1"} {
		pl4, err := buildPipeline(dir, "VEtt|tt|t|tL", sched, 4, m)
		if err != nil {
			return rows, err
		}
		_, windows, err := pl4.rate(mbs, lossTokens, c.Steps)
		if err != nil {
			return rows, err
		}
		cores, capacity = delivered(capacity)
		measured, simulated := train.Bubbles(pl4.trace.Spans(), pl4.sched, windows, cores)
		emit(Row{Name: fmt.Sprintf("bubble p 4 m %d %s (%%, %.1f cores)", m, sched, cores), Unit: "%", Value: 100 * measured, Base: 100 * simulated, BaseName: "simulator"})
	}
	return rows, nil
}

// rate runs a warm-up step and c timed steps; it returns the median step time and the
// timed steps' windows.
func (pl *pipeline) rate(mbs []stages.Tensors, lossTokens, steps int) (time.Duration, [][2]time.Duration, error) {
	if _, _, err := pl.step(0, mbs, lossTokens); err != nil {
		return 0, nil, err
	}
	var ds []time.Duration
	var ws [][2]time.Duration
	for i := 1; i <= steps; i++ {
		d, w, err := pl.step(i, mbs, lossTokens)
		if err != nil {
			return 0, nil, err
		}
		ds, ws = append(ds, d), append(ws, w)
	}
	return median(ds), ws, nil
}

// directRate times the same training step with the stages called back to back (glm4v.Model:
// F, B, W per micro-batch, then the optimizer).
func directRate(dir string, mbs []stages.Tensors, lossTokens, steps int) (time.Duration, error) {
	cfg, err := glm4v.LoadConfig(filepath.Join(dir, glm4v.ConfigName))
	if err != nil {
		return 0, err
	}
	p, err := glm4v.NewParams(cfg)
	if err != nil {
		return 0, err
	}
	if err := glm4v.Load(dir, p, nil); err != nil {
		return 0, err
	}
	be := cpu.New()
	model, err := glm4v.NewModel(p, be, glm4v.ModelOptions{NoLogits: true, LossTokens: lossTokens})
	if err != nil {
		return 0, err
	}
	var ps []*stages.Param
	for _, s := range model.Stages() {
		ps = append(ps, s.Params()...)
	}
	opt, err := optim.New(be, ps, optCfg)
	if err != nil {
		return 0, err
	}
	one := func() error {
		if err := opt.ZeroGrads(); err != nil {
			return err
		}
		for mb, in := range mbs {
			if _, err := model.Step(mb, glm4v.Inputs{InputIDs: in["input_ids"], AttentionMask: in["attention_mask"], Labels: in["labels"]}, true); err != nil {
				return err
			}
		}
		sq, err := opt.SquaredNorm()
		if err != nil {
			return err
		}
		_, err = opt.Step(math.Sqrt(sq))
		return err
	}
	if err := one(); err != nil {
		return 0, err
	}
	var ds []time.Duration
	for range steps {
		t0 := time.Now()
		if err := one(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	return median(ds), nil
}

// parallelCapacity is how many times more work two threads do than one in the same time, on
// independent floating-point loops (2 on two real cores).
func parallelCapacity() float64 {
	spin := func(n int) float64 {
		x := 1.0
		for range n {
			x = x*1.0000001 + 1e-9
		}
		return x
	}
	const n = 100_000_000
	var sink [2]float64
	best := 0.0
	for range 3 {
		t0 := time.Now()
		sink[0] = spin(n)
		one := time.Since(t0)
		t0 = time.Now()
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); sink[i] = spin(n) }()
		}
		wg.Wait()
		best = max(best, 2*one.Seconds()/time.Since(t0).Seconds())
	}
	if sink[0] == 0 {
		return 0
	}
	return best
}
