package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/glmflow/glmflow/pipelines/launch"
	"github.com/glmflow/glmflow/pipelines/plan"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/train"
	"github.com/spf13/cobra"
)

// newRunCmd is `glmflow run PIPELINE.yaml [key=value ...]`.
func newRunCmd() *cobra.Command {
	var (
		rank, world int
		master      string
		dryRun      bool
	)
	cmd := &cobra.Command{
		Use:   "run PIPELINE.yaml [key=value ...]",
		Short: "Train as a pipeline spec says",
		Long: `Runs a pipeline spec: the stages of the model cut into pipeline ranks by parallel.layout,
the micro-batch schedule parallel.schedule, AdamW with the spec's learning-rate schedule.
key=value arguments override the file (dotted paths, e.g. train.iterations=5).

With parallel.transport inproc every rank is a goroutine of this process. With tcp, and
parallel.launcher local, glmflow starts one process per rank on this machine; with launcher
manual start each rank yourself:

  glmflow run spec.yaml --rank R --world N --master HOST:PORT

Prints a line per logging.log_every steps (and a progress line on a terminal), appends JSON
lines to logging.metrics_jsonl, writes the Chrome/Perfetto trace to logging.trace, saves
checkpoints to checkpoint.dir, and ends with the measured and simulated pipeline bubble.

--dry-run plans the run without loading or allocating the model: per rank the parameters,
FLOPs per micro-batch and memory (weights, gradients, optimizer state, activations at the
schedule's peak), then the DAG and the schedule. The model may be a directory or a hub id
found in the local Hugging Face cache (only config.json is read).`,
		Example: `  glmflow run pipelines/glm45v_tiny.yaml
  glmflow run pipelines/glm45v_tiny.yaml parallel.pp=1 parallel.layout=VEtttL train.iterations=5
  glmflow run pipelines/glm45v_tiny.yaml parallel.transport=tcp
  glmflow run pipelines/glm45v_lora.yaml --dry-run model.path=testdata/glm45v`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, overrides := args[0], args[1:]
			for _, o := range overrides {
				if !strings.Contains(o, "=") {
					return fmt.Errorf("argument %q: want key=value", o)
				}
			}
			s, err := spec.Load(path, overrides...)
			if err != nil {
				return err
			}
			if dryRun {
				r, err := plan.DryRun(s)
				if err != nil {
					return err
				}
				return r.Write(cmd.OutOrStdout())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum := sha256.Sum256(s.Canonical())
			token := hex.EncodeToString(sum[:8])
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if s.Parallel.Transport == spec.TransportTCP && world == 0 {
				if s.Parallel.Launcher != spec.LauncherLocal {
					return fmt.Errorf("parallel.launcher is %q: start each rank with --rank, --world and --master", s.Parallel.Launcher)
				}
				addr := s.Parallel.MasterAddr
				if strings.HasSuffix(addr, ":0") {
					addr = ""
				}
				return launch.Run(ctx, launch.Options{World: s.Parallel.World(), Master: addr, Stdout: out, Stderr: errw,
					Env: []string{"GOMAXPROCS=" + strconv.Itoa(max(1, s.Parallel.ThreadsPerRank))},
					Args: func(r int, m string) []string {
						return append(append([]string{"run", path}, overrides...), "--rank", strconv.Itoa(r), "--world", strconv.Itoa(s.Parallel.World()), "--master", m)
					}})
			}
			if world > 0 && master == "" {
				return fmt.Errorf("--world needs --master HOST:PORT (rank 0 listens there)")
			}
			o := train.Options{Spec: s, Rank: rank, World: world, Master: master, Token: token, Log: out}
			switch s.Logging.Progress {
			case spec.ProgressAlways:
				o.Progress = errw
			case spec.ProgressAuto:
				if isTerminal(errw) && world == 0 {
					o.Progress = errw
				}
			}
			_, err = train.Run(ctx, o)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&rank, "rank", 0, "this process's rank (one process per rank, transport tcp)")
	f.IntVar(&world, "world", 0, "number of ranks when started by hand (0: this process runs every rank)")
	f.StringVar(&master, "master", "", "rank 0's rendezvous address HOST:PORT")
	f.BoolVar(&dryRun, "dry-run", false, "plan the run (parameters, FLOPs, memory per rank, DAG, schedule) without allocating the model")
	return cmd
}
