package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/glmflow/glmflow/pipelines/plan"
	"github.com/glmflow/glmflow/pipelines/schedule"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/spf13/cobra"
)

func newScheduleCmd() *cobra.Command {
	var (
		costs string
		color bool
		width int
	)
	cmd := &cobra.Command{
		Use:   "schedule PIPELINE.yaml [key=value ...] [--costs F,B,W] [--color]",
		Short: "Print a pipeline's rank × time schedule grid, its bubble and peak memory",
		Long: `Builds the spec's schedule (parallel.schedule over parallel.pp ranks, virtual_stages chunks,
global_batch_size / (micro_batch_size × dp) micro-batches), simulates it with the given costs
of a forward (F), input-gradient (B) and weight-gradient (W) step, and prints the rank × time
grid (F3 = forward of micro-batch 3; a chunk letter follows with virtual stages), the bubble
and the peak number of micro-batches in flight per rank. When the model resolves offline (a
directory, or a hub id in the local HF cache) it also prints the bubble with per-stage costs
proportional to the model's FLOPs and the peak memory per rank (weights, gradients, optimizer
state and activations at the peak), as glmflow run --dry-run computes them.`,
		Example: `  glmflow schedule pipelines/glm45v_tiny.yaml parallel.schedule=zb-h1 --costs 1,1,1
  glmflow schedule pipelines/glm45v_lora.yaml model.path=testdata/glm45v --color`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := spec.Load(args[0], args[1:]...)
			if err != nil {
				return err
			}
			c, err := parseCosts(costs)
			if err != nil {
				return err
			}
			sc, err := schedule.New(s.Parallel.Schedule, s.Parallel.PP, s.NumMicroBatches(), s.Parallel.VirtualStages)
			if err != nil {
				return err
			}
			grid := schedule.Grid
			if color {
				grid = schedule.GridColor
			}
			g, err := grid(sc, c, width)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprint(out, g)
			p, err := plan.New(s)
			if err != nil {
				fmt.Fprintf(out, "\nmemory: not planned: %v\n", err)
				return nil
			}
			rep, err := p.Report()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nwith per-stage costs ∝ FLOPs (layout %s): bubble %.1f%%\n", p.Layout.String(), 100*rep.Bubble)
			fmt.Fprintf(out, "peak memory per device (%s):\n", s.Model.Precision)
			for _, r := range rep.Ranks {
				fmt.Fprintf(out, "  r%-2d %-12s weights+grads+optimizer %9s  activations %d × %9s = %9s  total %9s\n",
					r.Rank, r.Units, plan.Bytes(r.Weights+r.Grads+r.Optim), r.InFlight, plan.Bytes(maxInt(r.ChunkAct)),
					plan.Bytes(r.ActPeak), plan.Bytes(r.Total()))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&costs, "costs", "1,1,1", "durations F,B,W of one micro-batch through one stage")
	f.BoolVar(&color, "color", false, "colour the grid with ANSI escapes")
	f.IntVar(&width, "width", 120, "wrap the grid at this many columns (0: no wrapping)")
	return cmd
}

// parseCosts reads "F,B,W" (finite, ≥ 0).
func parseCosts(s string) (schedule.Costs, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return schedule.Costs{}, fmt.Errorf("--costs %q: want F,B,W such as 1,1,1", s)
	}
	var v [3]float64
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || x < 0 || x != x || x > 1e300 {
			return schedule.Costs{}, fmt.Errorf("--costs %q: %q is not a finite number ≥ 0", s, p)
		}
		v[i] = x
	}
	return schedule.Uniform(v[0], v[1], v[2]), nil
}

func maxInt(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
