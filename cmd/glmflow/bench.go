package main

import (
	"strings"
	"time"

	"github.com/glmflow/glmflow/kernels/bench"
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
GOMAXPROCS=1 for the single-thread comparison). Sections: ` + strings.Join(bench.Sections(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if only != "" {
				c.Only = strings.Split(only, ",")
			}
			_, err := bench.Run(cmd.OutOrStdout(), c)
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
