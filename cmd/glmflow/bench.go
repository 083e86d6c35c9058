package main

import (
	"slices"
	"strings"
	"time"

	"github.com/glmflow/glmflow/kernels/bench"
	pbench "github.com/glmflow/glmflow/pipelines/bench"
	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	var (
		c    bench.Config
		only string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark the CPU kernels against OpenBLAS and memory bandwidth, in one run",
		Long: `Times glmflow's CPU kernels and prints each beside a baseline measured in the same run:
fp32 GEMM beside OpenBLAS cblas_sgemm (found at run time; install libopenblas0-pthread),
memory-bound kernels beside a copy loop's bandwidth. Threads follow GOMAXPROCS (use
GOMAXPROCS=1 for the single-thread comparison). Section "pipeline" trains a GLM-4.5V-shaped
model through the pipeline executor: executor vs stages back to back, 2 ranks on 2 cores vs
1 rank on 1 core, and the measured bubble vs the simulator's (it sets its own thread
counts). Sections: ` + strings.Join(append(bench.Sections(), "pipeline"), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pipeline := true
			if only != "" {
				c.Only = strings.Split(only, ",")
				pipeline = slices.Contains(c.Only, "pipeline")
				c.Only = slices.DeleteFunc(c.Only, func(s string) bool { return s == "pipeline" })
			}
			if only == "" || len(c.Only) > 0 {
				if _, err := bench.Run(cmd.OutOrStdout(), c); err != nil {
					return err
				}
			}
			if !pipeline {
				return nil
			}
			_, err := pbench.Run(cmd.OutOrStdout(), pbench.Config{Steps: max(1, c.Reps/2), Quick: c.Quick})
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Reps, "reps", 5, "repetitions per measurement (the median is printed)")
	f.DurationVar(&c.MinTime, "min-time", 100*time.Millisecond, "minimum duration of one repetition")
	f.BoolVar(&c.Quick, "quick", false, "fewer, smaller shapes")
	f.StringVar(&only, "only", "", "comma-separated sections to run")
	return cmd
}
