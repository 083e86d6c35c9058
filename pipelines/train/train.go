package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/glmflow/glmflow/datasets/loader"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/checkpoint"
	"github.com/glmflow/glmflow/pipelines/plan"
	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/optim"
	"github.com/glmflow/glmflow/tensors"
)

// RankParts is what a Builder makes for one pipeline rank.
type RankParts struct {
	Chunks []*run.Chunk // [virtual stages] chunk c is pipeline stage c·PP + rank
	PadID  int32        // input_ids value of padding (the model's pad_token_id)
}

// Builder builds pipeline rank r of the spec: its stages with their parameters loaded.
type Builder func(s *spec.Spec, rank int) (*RankParts, error)

// Options configure Run.
type Options struct {
	Spec  *spec.Spec
	Build Builder // nil: PlanBuilder
	// Rank, World, Master select the one-process-per-rank mode (tcp): this process runs rank
	// Rank of World. World 0: every rank in this process (inproc).
	Rank, World int
	Master      string
	Token       string // job token for the tcp rendezvous
	// Log receives log lines; Progress (nil: none) a progress line redrawn with \r.
	Log      io.Writer
	Progress io.Writer
}

// Summary is what a finished run reports.
type Summary struct {
	Steps           int
	Losses          []float64
	TokensPerSecond float64 // over the steps after the first
	MeasuredBubble  float64 // NaN without a measurement (pp 1 or one step)
	SimulatedBubble float64
	Skipped         int // steps skipped for non-finite gradients
}

// rank is one rank of this process.
type rank struct {
	worker *run.Worker
	parts  *RankParts
}

// Run trains as the spec says.
func Run(ctx context.Context, o Options) (*Summary, error) {
	s := o.Spec
	if s == nil {
		return nil, fmt.Errorf("train: no pipeline spec")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if s.Parallel.DP != 1 {
		return nil, fmt.Errorf("train: parallel.dp = %d: data parallelism is not supported yet; use dp 1", s.Parallel.DP)
	}
	if s.Parallel.Devices != spec.DevicesCPU {
		return nil, fmt.Errorf("train: parallel.devices = %q: only cpu is available in this build", s.Parallel.Devices)
	}
	if s.PEFT.Scheme != spec.PEFTNone {
		return nil, fmt.Errorf("train: peft.scheme = %q: LoRA/DoRA adapters are not available yet; use peft.scheme=none (freeze_* flags work)", s.PEFT.Scheme)
	}
	if o.Build == nil { // plan once for all the ranks of this process
		p, err := plan.New(s)
		if err != nil {
			return nil, err
		}
		o.Build = planBuilder(p)
	}
	P, V := s.Parallel.PP, max(1, s.Parallel.VirtualStages)
	m := s.NumMicroBatches()
	sc, err := schedule.New(s.Parallel.Schedule, P, m, V)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	// Which ranks live here, and their transports.
	var mine []int
	var trs []transport.Transport
	if o.World > 0 {
		if o.World != P {
			return nil, fmt.Errorf("train: --world %d but the spec has %d pipeline ranks", o.World, P)
		}
		mine = []int{o.Rank}
		tr, err := transport.DialTCP(ctx, transport.TCPConfig{Rank: o.Rank, World: o.World, Master: o.Master, Token: o.Token})
		if err != nil {
			return nil, err
		}
		trs = []transport.Transport{tr}
	} else {
		for r := range P {
			mine = append(mine, r)
		}
		if trs, err = transport.NewInProc(P); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, t := range trs {
			t.Close()
		}
	}()
	threads := s.Parallel.ThreadsPerRank
	if threads == 0 {
		threads = max(1, runtime.NumCPU()/len(mine))
	}
	prev := cpu.SetThreads(threads)
	defer cpu.SetThreads(prev)

	ocfg := plan.OptimConfig(s)
	trace := run.NewTrace(time.Now())
	ranks := make([]*rank, len(mine))
	var padID int32
	for i, r := range mine {
		parts, err := o.Build(s, r)
		if err != nil {
			return nil, fmt.Errorf("train: building rank %d: %w", r, err)
		}
		if len(parts.Chunks) != V {
			return nil, fmt.Errorf("train: rank %d has %d chunks, want %d", r, len(parts.Chunks), V)
		}
		var ps []*stages.Param
		for _, c := range parts.Chunks {
			ps = append(ps, c.Params()...)
		}
		opt, err := optim.New(cpu.New(), ps, ocfg)
		if err != nil {
			return nil, fmt.Errorf("train: rank %d: %w", r, err)
		}
		ranks[i] = &rank{parts: parts, worker: &run.Worker{Rank: r, P: P, V: V, Chunks: parts.Chunks,
			Actions: sc.Ranks[r], Transport: trs[i], Optimizer: opt, Trace: trace}}
		padID = parts.PadID
	}
	dataDir := s.Data.Path
	if filepath.Base(dataDir) == "manifest.json" {
		dataDir = filepath.Dir(dataDir)
	}
	ld, err := loader.New(loader.Options{Dir: dataDir, Seed: uint64(s.Data.Seed), Sequential: !s.Data.Shuffle,
		GlobalBatch: s.Train.GlobalBatchSize, MicroBatch: s.Train.MicroBatchSize, DPRank: 0, DPSize: 1,
		MaxSeqLen: s.Data.SeqLength, Pack: s.Data.Packing, PadMultiple: s.Data.PadMultiple, PadID: padID}, nil)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer ld.Close()

	lead := mine[0] == 0 // this process reports
	var metrics *os.File
	if lead && s.Logging.MetricsJSONL != "" {
		if err := os.MkdirAll(filepath.Dir(s.Logging.MetricsJSONL), 0o755); err != nil {
			return nil, err
		}
		if metrics, err = os.Create(s.Logging.MetricsJSONL); err != nil {
			return nil, fmt.Errorf("train: metrics: %w", err)
		}
		defer metrics.Close()
	}
	if lead {
		fmt.Fprintf(o.Log, "glmflow run: %d steps × %d micro-batches of %d, pp %d × %d chunks, schedule %s, %d samples (%d steps per epoch)\n",
			s.Train.Iterations, m, s.Train.MicroBatchSize, P, V, s.Parallel.Schedule, ld.NumSamples(), ld.StepsPerEpoch())
	}
	sum := &Summary{MeasuredBubble: math.NaN(), SimulatedBubble: math.NaN()}
	var steady struct {
		tokens int64
		dur    time.Duration
	}
	var stepWindows [][2]time.Duration
	start := time.Now()
	for it := 0; it < s.Train.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		batches := make([]*loader.Batch, m)
		var lossTokens, tokens int
		for mb := range batches {
			b, err := ld.Next(ctx)
			if err != nil {
				return sum, fmt.Errorf("train: step %d micro-batch %d: %w", it, mb, err)
			}
			batches[mb] = b
			lossTokens += countLossTokens(b.Tensors["labels"])
			tokens += countTokens(b.Tensors["attention_mask"])
		}
		t0 := time.Now()
		res, err := iterate(ctx, ranks, run.Iteration{Index: it, LossTokens: lossTokens,
			Batch: func(mb int) (stages.Tensors, error) { return stageInputs(batches[mb]), nil }})
		if err != nil {
			return sum, err
		}
		dt := time.Since(t0)
		stepWindows = append(stepWindows, [2]time.Duration{t0.Sub(trace.Origin()), time.Since(trace.Origin())})
		if it > 0 {
			steady.tokens += int64(tokens)
			steady.dur += dt
		}
		sum.Steps++
		sum.Losses = append(sum.Losses, res.Loss)
		if res.Step.Skipped {
			sum.Skipped++
		}
		if lead {
			rec := stepRecord(it, res, tokens, lossTokens, dt, time.Since(start), s.Train.Iterations)
			if res.Step.Skipped {
				fmt.Fprintf(o.Log, "step %d skipped: non-finite gradients on rank(s) %v (%s); no rank updated\n",
					it+1, res.NonFinite, stageNames(ranks, res.NonFinite, P))
			}
			if metrics != nil {
				b, _ := json.Marshal(rec)
				metrics.Write(append(b, '\n'))
			}
			if s.Logging.LogEvery > 0 && ((it+1)%s.Logging.LogEvery == 0 || it+1 == s.Train.Iterations) {
				fmt.Fprintln(o.Log, rec.line())
			}
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "\r%s\x1b[K", rec.bar())
			}
		}
		if s.Checkpoint.Dir != "" && s.Checkpoint.SaveEvery > 0 && ((it+1)%s.Checkpoint.SaveEvery == 0 || it+1 == s.Train.Iterations) {
			if err := save(ctx, s, ranks, it+1, batches[m-1].Cursor); err != nil {
				return sum, err
			}
			if lead {
				fmt.Fprintf(o.Log, "saved checkpoint step %d to %s\n", it+1, filepath.Join(s.Checkpoint.Dir, checkpoint.StepDir(it+1)))
			}
		}
	}
	if o.Progress != nil && lead {
		fmt.Fprintln(o.Progress)
	}
	if steady.dur > 0 {
		sum.TokensPerSecond = float64(steady.tokens) / steady.dur.Seconds()
	}
	spans, err := gatherSpans(ctx, trace, trs[0], o.World > 0)
	if err != nil {
		return sum, err
	}
	if lead {
		if P > 1 && len(stepWindows) > 1 && o.World == 0 {
			cores := float64(P) // kernels on several threads per rank: no sharing to model
			if threads == 1 {
				cores = float64(min(P, runtime.GOMAXPROCS(0), runtime.NumCPU()))
			}
			sum.MeasuredBubble, sum.SimulatedBubble = Bubbles(spans, sc, stepWindows[1:], cores)
		}
		if s.Logging.Trace != "" {
			if err := writeTrace(s.Logging.Trace, spans); err != nil {
				return sum, err
			}
		}
		fmt.Fprintf(o.Log, "done: %d steps, final loss %.4f, %.0f tokens/s", sum.Steps, last(sum.Losses), sum.TokensPerSecond)
		if !math.IsNaN(sum.MeasuredBubble) {
			fmt.Fprintf(o.Log, ", bubble %.1f%% measured, %.1f%% simulated", 100*sum.MeasuredBubble, 100*sum.SimulatedBubble)
		}
		fmt.Fprintln(o.Log)
	}
	return sum, nil
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return v[len(v)-1]
}

// iterate runs one step on every rank of this process.
func iterate(ctx context.Context, ranks []*rank, it run.Iteration) (run.Result, error) {
	res := make([]run.Result, len(ranks))
	errs := make([]error, len(ranks))
	var wg sync.WaitGroup
	for i, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = r.worker.Iterate(ctx, it)
		}()
	}
	wg.Wait()
	// Report the error where the failure started, not its echoes: an echo is a rank's error
	// that names another rank as the origin.
	var echo error
	for i, err := range errs {
		var re *transport.RankError
		switch {
		case err == nil:
		case errors.As(err, &re) && re.Rank != ranks[i].worker.Rank:
			echo = err
		default:
			return run.Result{}, err
		}
	}
	if echo != nil {
		return run.Result{}, echo
	}
	return res[0], nil
}

// stageInputs are a loader batch's tensors under the stages' port names.
func stageInputs(b *loader.Batch) stages.Tensors {
	in := stages.Tensors{}
	for _, n := range []string{loader.InputIDs, loader.AttentionMask, loader.Labels, loader.PixelValues, loader.ImageGridTHW} {
		if t := b.Tensors[n]; t != nil {
			in[n] = t
		}
	}
	return in
}

// countLossTokens counts the labels the head trains on: HF labels [B, S] unshifted, so
// position s ≥ 1 of each row.
func countLossTokens(l *tensors.Tensor) int {
	if l == nil {
		return 0
	}
	S := l.Dim(1)
	n := 0
	for i, v := range l.I32() {
		if i%S > 0 && v != -100 {
			n++
		}
	}
	return n
}

func countTokens(mask *tensors.Tensor) int {
	if mask == nil {
		return 0
	}
	n := 0
	for _, v := range mask.I32() {
		if v != 0 {
			n++
		}
	}
	return n
}

// stageNames names the stages of the given ranks (in-process ranks only; others by number).
func stageNames(ranks []*rank, which []int, P int) string {
	var out []string
	for _, r := range which {
		name := fmt.Sprintf("rank %d", r)
		for _, x := range ranks {
			if x.worker.Rank != r {
				continue
			}
			var kinds []string
			for _, c := range x.parts.Chunks {
				for _, s := range c.Stages {
					kinds = append(kinds, fmt.Sprintf("%s@stage%d", s.Kind(), c.Stage))
				}
			}
			name += ": " + strings.Join(kinds, ", ")
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
