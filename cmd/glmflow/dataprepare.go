package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glmflow/glmflow/datasets/makers"
	"github.com/glmflow/glmflow/datasets/prepare"
	"github.com/glmflow/glmflow/pipelines/hfhub"
	"github.com/glmflow/glmflow/transforms/chat"
	"github.com/glmflow/glmflow/transforms/imageproc"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultTokenizer is looked up in the local HF cache (or downloaded, unless HF_HUB_OFFLINE=1)
// when --tokenizer is not given.
const defaultTokenizer = "zai-org/GLM-4.5V"

// newDataPrepareCmd is `glmflow data prepare`: the Beam preprocessing job.
func newDataPrepareCmd() *cobra.Command {
	var (
		o          prepare.Options
		tokArg     string
		convention string
		runnerOpts []string
	)
	img := imageproc.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "prepare --maker NAME --input DIR --split SPLIT --out DIR",
		Short: "Turn a Hugging Face dataset into prepared-sample shards (Apache Beam job)",
		Long: `Runs the preprocessing job, an Apache Beam pipeline: reads the split's Parquet files in the
Hugging Face hub layout from --input (a dataset folder, or Parquet files; repeatable), runs the
maker (` + strings.Join(makers.Names(), ", ") + `), processes the images like HF's Glm4vImageProcessor,
renders the GLM-4.5V chat with the tokenizer and writes to --out:

  <split>-NNNNN-of-NNNNN.parquet  the samples, --rows-per-shard per shard, in input order
  dead_letters.jsonl              every row that did not become a sample: {file, row, stage, reason}
  manifest.json                   counts, schema, tokenizer hash, processor and chat settings

Every input row ends as exactly one sample or one dead letter. The same inputs and flags give
byte-identical output on any runner.

Runners (--runner):
  prism      Beam's portable runner inside this process (default; no network needed)
  direct     the Go SDK's legacy in-process runner
  universal, flink, spark
             submit to the job service at --endpoint (--job_endpoint is an alias); workers run
             --worker_binary (a linux/amd64 glmflow built with CGO_ENABLED=0) in the container
             or process --environment_type/--environment_config name
  dataflow   Google Cloud Dataflow: --project, --region, --temp_location, --staging_location,
             usually --worker_binary and --sdk_container_image; --num_workers, ...
Beam's options keep Beam's names (underscores); --runner-option name=value sets any other Beam
option. With a remote runner, --input, --out and --tokenizer must be paths every worker can
open (shared storage mounted at the same place). Only prism and direct are tested here.

Example (the shipped testdata/prepared/cord-v2):
  glmflow data prepare --maker cord_v2 --input testdata/datasets/cord-v2 --split train \
    --out testdata/prepared/cord-v2 --tokenizer testdata/tiny/tokenizer.json \
    --seq-length 512 --max-pixels 100352 --rows-per-shard 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range []struct {
				name string
				v    int
			}{{"seq-length", o.SeqLength}, {"rows-per-shard", o.RowsPerShard}, {"unit-rows", o.UnitRows}} {
				if n.v < 1 {
					return fmt.Errorf("--%s %d: want ≥ 1", n.name, n.v)
				}
			}
			c, err := chatOptions(convention)
			if err != nil {
				return err
			}
			o.Chat, o.Image = c, img
			for _, kv := range runnerOpts {
				if err := prepare.SetRunnerOption(kv); err != nil {
					return err
				}
			}
			if o.Tokenizer, err = resolveTokenizer(cmd.Context(), tokArg); err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := prepare.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if res.Manifest == nil {
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d samples, %d dead letters, %d shards in %s\n", res.Samples, res.DeadLetters, res.Shards, res.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Maker, "maker", "", "dataset maker: "+strings.Join(makers.Names(), ", "))
	f.StringArrayVar(&o.Inputs, "input", nil, "hub-layout dataset folder or Parquet file (repeatable, read in order)")
	f.StringVar(&o.Split, "split", "train", "split to read from the folders")
	f.StringVar(&o.Out, "out", "", "output folder (new or empty, or an earlier job's with --overwrite)")
	f.BoolVar(&o.Overwrite, "overwrite", false, "replace an earlier job's shards, manifest and dead letters in --out")
	f.StringVar(&tokArg, "tokenizer", defaultTokenizer, "tokenizer.json, a folder holding it, or a hub model id (HF cache)")
	f.IntVar(&o.SeqLength, "seq-length", prepare.DefaultSeqLength, "longest sample in tokens; longer rows go to the dead letters")
	f.IntVar(&img.MinPixels, "min-pixels", img.MinPixels, "image processor size.shortest_edge (pixels, HF semantics)")
	f.IntVar(&img.MaxPixels, "max-pixels", img.MaxPixels, "image processor size.longest_edge (pixels, temporal factor 2 included: ≤ max/2 per image)")
	f.IntVar(&img.MaxDecodePixels, "max-decode-pixels", img.MaxDecodePixels, "refuse images with more pixels than this before decoding")
	f.StringVar(&convention, "convention", chat.MegatronBridge.String(), "loss mask convention: megatron-bridge or llama-factory")
	f.StringVar(&o.MakerOptions.Prompt, "prompt", "", "user prompt for makers with a fixed one (default: Megatron-Bridge's)")
	f.IntVar(&o.RowsPerShard, "rows-per-shard", prepare.DefaultRowsPerShard, "samples per output shard")
	f.IntVar(&o.UnitRows, "unit-rows", prepare.DefaultUnitRows, "input rows per work unit (the unit of parallelism and retry)")
	f.StringVar(&o.Runner, "runner", prepare.DefaultRunner, "Beam runner: "+strings.Join(prepare.Runners, ", "))
	f.StringVar(&o.LogLevel, "log-level", "warn", "Beam's log level: debug, info, warn, error")
	f.DurationVar(&o.ProgressEvery, "progress-every", prepare.DefaultProgressEvery, "progress line period (in-process runners)")
	f.StringArrayVar(&runnerOpts, "runner-option", nil, "any other Beam option as name=value (repeatable)")
	for _, gf := range prepare.RunnerFlags() {
		f.AddGoFlag(gf)
	}
	if ep := f.Lookup("endpoint"); ep != nil {
		f.AddFlag(&pflag.Flag{Name: "job_endpoint", Usage: "alias of --endpoint (Beam Python's name)", Value: ep.Value, DefValue: ep.DefValue})
	}
	return cmd
}

// chatOptions are GLM-4.5V's chat options with the given convention.
func chatOptions(convention string) (chat.Options, error) {
	c := chat.DefaultOptions()
	conv, err := chat.ParseConvention(convention)
	if err != nil {
		return c, fmt.Errorf("--convention: %w", err)
	}
	c.Convention = conv
	return c, nil
}

// resolveTokenizer turns --tokenizer into a tokenizer.json path: a file as is, a folder's
// tokenizer.json, or a hub model id's tokenizer.json from the HF cache (downloaded when allowed).
func resolveTokenizer(ctx context.Context, arg string) (string, error) {
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		return filepath.Join(arg, "tokenizer.json"), nil
	case err == nil:
		return arg, nil
	case !errors.Is(err, fs.ErrNotExist) || !hfhub.IsRepoID(arg):
		return "", fmt.Errorf("--tokenizer %s: %w", arg, err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := hfhub.FromEnv()
	if err != nil {
		return "", fmt.Errorf("--tokenizer %s: %w", arg, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	dir, err := hfhub.ResolveModel(ctx, c, arg, "main", "tokenizer.json")
	if err != nil {
		return "", fmt.Errorf("--tokenizer %s (not a file, looked up as a hub model): %w", arg, err)
	}
	return filepath.Join(dir, "tokenizer.json"), nil
}
