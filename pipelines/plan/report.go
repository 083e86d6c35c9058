package plan

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/glmflow/glmflow/pipelines/graph"
	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
)

// RankReport is one pipeline rank of a dry run. Byte counts are per device: the routed
// experts are split over parallel.ep devices.
type RankReport struct {
	Rank   int
	Stages []int  // global stage of each chunk
	Units  string // the rank's units per chunk, e.g. "VEt*5" or "t*2 | t*2L"
	// Tensors and Params count the checkpoint tensors of the rank's stages; Adapters the
	// LoRA/DoRA parameters added; Trainable the parameters with gradients (adapters included).
	Tensors                     int
	Params, Adapters, Trainable int64
	Weights, Grads, Optim       int64   // bytes
	FLOPs                       FLOPs   // per micro-batch, all chunks
	ActPerMB                    int64   // activation bytes of one micro-batch through every chunk
	InFlight                    int     // peak (chunk, micro-batch) pairs in flight (simulated)
	ActPeak                     int64   // activation bytes at that peak
	ChunkAct                    []int64 // per chunk, one micro-batch
}

// Total is the rank's peak memory: weights, gradients, optimizer state and activations at
// the schedule's peak.
func (r RankReport) Total() int64 { return r.Weights + r.Grads + r.Optim + r.ActPeak }

// Report is the dry run of a spec: the plan, per-rank parameters, FLOPs and memory, the
// schedule's simulated bubble and grid, and the DAG.
type Report struct {
	Plan  *Plan
	Ranks []RankReport
	Sum   RankReport // totals (ActPeak, InFlight: maxima are not summed; see Write)
	// Bubble is the simulated idle share with per-stage costs ∝ FLOPs; Makespan in FLOPs.
	Bubble, Makespan float64
	Grid             string // rank × time grid at unit costs (F = B = W = 1)
}

// DryRun plans the spec without loading or allocating the model: it reads config.json only
// (the model may be a directory or a hub id in the local HF cache) and computes per rank the
// exact parameter counts, bytes of weights, gradients and optimizer state, FLOPs per
// micro-batch and activation memory at the simulated schedule's peak.
func DryRun(s *spec.Spec) (*Report, error) {
	p, err := New(s)
	if err != nil {
		return nil, err
	}
	return p.Report()
}

// Report computes the dry-run report of the plan.
func (p *Plan) Report() (*Report, error) {
	res, err := schedule.Simulate(p.Schedule, p.Costs())
	if err != nil {
		return nil, fmt.Errorf("plan: simulate %s: %w", p.Schedule.Name, err)
	}
	grid, err := schedule.Grid(p.Schedule, schedule.Uniform(1, 1, 1), 120)
	if err != nil {
		return nil, err
	}
	unit, err := schedule.Simulate(p.Schedule, schedule.Uniform(1, 1, 1))
	if err != nil {
		return nil, err
	}
	rep := &Report{Plan: p, Bubble: res.Bubble, Makespan: res.Makespan, Grid: grid}
	l := p.Layout
	for r := range l.PP {
		rr := RankReport{Rank: r, Stages: l.RankStages(r)}
		var chunks []string
		var maxAct int64
		for _, j := range rr.Stages {
			u := p.StageUnits(j)
			rr.Tensors += u.Tensors
			rr.Params += u.Params
			rr.Adapters += u.Adapters
			rr.Trainable += u.Trainable
			rr.Weights += u.Weights
			rr.Grads += u.Grads
			rr.Optim += u.Optim
			rr.FLOPs = rr.FLOPs.Add(u.FLOPs)
			rr.ActPerMB += u.Act
			rr.ChunkAct = append(rr.ChunkAct, u.Act)
			maxAct = max(maxAct, u.Act)
			chunks = append(chunks, stageString(l.Stages[j]))
		}
		rr.Units = strings.Join(chunks, " | ")
		// The peak counts (chunk, micro-batch) pairs; with one chunk it is exact, with several
		// it is bounded by the largest chunk (the schedule does not say which chunks are live).
		rr.InFlight = unit.PeakActivations[r]
		rr.ActPeak = int64(rr.InFlight) * maxAct
		rep.Ranks = append(rep.Ranks, rr)
		s := &rep.Sum
		s.Tensors += rr.Tensors
		s.Params += rr.Params
		s.Adapters += rr.Adapters
		s.Trainable += rr.Trainable
		s.Weights += rr.Weights
		s.Grads += rr.Grads
		s.Optim += rr.Optim
		s.FLOPs = s.FLOPs.Add(rr.FLOPs)
		s.ActPerMB += rr.ActPerMB
		s.ActPeak += rr.ActPeak
		s.InFlight = max(s.InFlight, rr.InFlight)
	}
	return rep, nil
}

// stageString is a stage's units in layout syntax ("(empty)" for none).
func stageString(units []layout.Kind) string {
	if len(units) == 0 {
		return "(empty)"
	}
	one := &layout.Layout{PP: 1, VP: 1, Stages: [][]layout.Kind{units}}
	return one.String()
}

// Bytes formats a byte count in binary units with three significant digits.
func Bytes(n int64) string {
	v, unit := float64(n), "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < 1023.5 {
			break
		}
		v, unit = v/1024, u
	}
	switch {
	case unit == "B":
		return fmt.Sprintf("%d B", n)
	case v < 9.995:
		return fmt.Sprintf("%.2f %s", v, unit)
	case v < 99.95:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// Flops formats a FLOP count with an SI prefix (GFLOP, TFLOP, …), three significant digits.
func Flops(n int64) string {
	v, unit := float64(n), ""
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		if v < 999.5 {
			break
		}
		v, unit = v/1000, u
	}
	switch {
	case unit == "":
		return fmt.Sprintf("%d", n)
	case v < 9.995:
		return fmt.Sprintf("%.2f%s", v, unit)
	case v < 99.95:
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.0f%s", v, unit)
}

// Write prints the report: the run's shape, the per-rank table with totals, the per-unit
// formulas' inputs, the schedule (grid at unit costs, bubble at FLOP costs) and the DAG by
// rank. The output is a pure function of the spec and config.json.
func (r *Report) Write(w io.Writer) error {
	var b bytes.Buffer
	p, s := r.Plan, r.Plan.Spec
	tc, vc := &p.Config.Text, &p.Config.Vision
	fmt.Fprintf(&b, "dry run: %s (revision %s)\n", s.Model.Path, s.Model.Revision)
	fmt.Fprintf(&b, "model: %d decoder layers (%d dense, %d MoE: %d routed experts top-%d + %d shared), hidden %d, vocab %d; vision %d blocks × %d\n",
		tc.NumHiddenLayers, min(tc.FirstKDenseReplace, tc.NumHiddenLayers), tc.NumHiddenLayers-min(tc.FirstKDenseReplace, tc.NumHiddenLayers),
		tc.NRoutedExperts, tc.NumExpertsPerTok, tc.NSharedExperts, tc.HiddenSize, tc.VocabSize, vc.Depth, vc.HiddenSize)
	fmt.Fprintf(&b, "parameters: %d in %d tensors (%s)\n", r.Sum.Params, r.Sum.Tensors, graph.Count(r.Sum.Params))
	train := "full fine-tuning"
	if p.Training.Rank > 0 {
		train = fmt.Sprintf("%s rank %d alpha %g on %s; every base weight frozen", s.PEFT.Scheme, s.PEFT.Rank, s.PEFT.Alpha, strings.Join(s.PEFT.TargetModules, ","))
	} else if fr := frozenList(p.Training); fr != "" {
		train += "; frozen: " + fr
	}
	fmt.Fprintf(&b, "training: %s; trainable %d (%s)\n", train, r.Sum.Trainable, graph.Count(r.Sum.Trainable))
	fmt.Fprintf(&b, "precision: %s (weights %d B, grads 4 B, optimizer %d B per trainable parameter, activations %d B); recompute %v\n",
		p.Precision.Name, p.Precision.Weight, p.Precision.optimBytes(), p.Precision.Act, s.Model.Recompute)
	sh := p.Shape
	fmt.Fprintf(&b, "micro-batch: %d × %d tokens, %d image(s) of %d patches, %d loss rows; %d micro-batches per step (global %d / (micro %d × dp %d))\n",
		sh.B, sh.S, sh.Images, sh.ImagePatches, sh.LossRows, p.M, s.Train.GlobalBatchSize, s.Train.MicroBatchSize, s.Parallel.DP)
	how := "given"
	if p.AutoLayout {
		how = "balanced by FLOPs"
	}
	fmt.Fprintf(&b, "parallel: pp %d × vp %d, dp %d, ep %d (per-device bytes split routed experts over ep); layout %s (%s)\n",
		s.Parallel.PP, s.Parallel.VirtualStages, s.Parallel.DP, s.Parallel.EP, p.Layout.String(), how)
	b.WriteString("\n")

	cols := []string{"rank", "units", "tensors", "params", "trainable", "weights", "grads", "optimizer", "act/mb", "in-flight", "act peak", "total", "F/mb", "B/mb", "W/mb"}
	rows := [][]string{}
	row := func(name string, x RankReport, inflight string) []string {
		return []string{name, x.Units, fmt.Sprint(x.Tensors), fmt.Sprint(x.Params), fmt.Sprint(x.Trainable),
			Bytes(x.Weights), Bytes(x.Grads), Bytes(x.Optim), Bytes(x.ActPerMB), inflight, Bytes(x.ActPeak), Bytes(x.Total()),
			Flops(x.FLOPs.F), Flops(x.FLOPs.B), Flops(x.FLOPs.W)}
	}
	for _, x := range r.Ranks {
		rows = append(rows, row(fmt.Sprint(x.Rank), x, fmt.Sprint(x.InFlight)))
	}
	sum := r.Sum
	sum.Units = ""
	rows = append(rows, row("total", sum, ""))
	writeTable(&b, cols, rows)
	b.WriteString("bytes per device of each rank; act peak = in-flight × the rank's largest chunk per micro-batch; FLOPs per micro-batch (matrix products only)\n")
	var maxTotal int64
	for _, x := range r.Ranks {
		maxTotal = max(maxTotal, x.Total())
	}
	fmt.Fprintf(&b, "largest rank: %s\n\n", Bytes(maxTotal))

	fmt.Fprintf(&b, "schedule %s: p=%d m=%d v=%d; bubble %.1f%% with per-stage costs ∝ FLOPs (F, B, W)\n",
		p.Schedule.Name, p.Schedule.P, p.Schedule.M, p.Schedule.V, 100*r.Bubble)
	b.WriteString(r.Grid)
	b.WriteString("\nDAG by rank (→ activations to the next node; ⇄ with a gradient back):\n")
	writeDAG(&b, p.Graph)
	_, err := w.Write(b.Bytes())
	return err
}

func frozenList(tr Training) string {
	var out []string
	if tr.FreezeVision {
		out = append(out, "vision tower")
	}
	if tr.FreezeProjection {
		out = append(out, "vision projection")
	}
	if tr.FreezeLanguage {
		out = append(out, "language model")
	}
	return strings.Join(out, ", ")
}

// writeTable right-aligns every column but the second.
func writeTable(b *bytes.Buffer, cols []string, rows [][]string) {
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = len([]rune(c))
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		b.WriteString("\n")
	}
	line(cols)
	for _, r := range rows {
		line(r)
	}
}

// writeDAG lists each rank's nodes and their outgoing activation edges.
func writeDAG(b *bytes.Buffer, g *graph.Graph) {
	for r := range g.PP {
		fmt.Fprintf(b, "rank %d:\n", r)
		for _, n := range g.RankNodes(r) {
			fmt.Fprintf(b, "  %s [%s]", n.Name, strings.Join(n.Label()[1:], "; "))
			var outs []string
			for _, e := range g.Edges {
				if e.From != n.Name || e.Kind != graph.Activation {
					continue
				}
				arrow := "→"
				if e.Grad {
					arrow = "⇄"
				}
				o := fmt.Sprintf("%s %s %s", e.FromPort, arrow, e.To)
				if e.ToPort != e.FromPort {
					o += "." + e.ToPort
				}
				if to := g.Node(e.To); to.Rank != n.Rank {
					o += fmt.Sprintf(" (rank %d)", to.Rank)
				}
				outs = append(outs, o)
			}
			if len(outs) > 0 {
				fmt.Fprintf(b, ": %s", strings.Join(outs, ", "))
			}
			b.WriteString("\n")
		}
	}
}
