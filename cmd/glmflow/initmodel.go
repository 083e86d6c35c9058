package main

import (
	"fmt"

	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/spf13/cobra"
)

func newInitModelCmd() *cobra.Command {
	var (
		cfgPath, out, dtype string
		seed                uint64
		biasStd             float64
	)
	cmd := &cobra.Command{
		Use:   "init-model --config CONFIG.json --out DIR [--seed S] [--dtype f32|bf16] [--bias-std X]",
		Short: "Write a randomly initialised GLM-4.5V checkpoint in the Hugging Face layout",
		Long: `Reads an HF config.json (4.5x or transformers-v5 spelling), initialises every parameter as
Hugging Face's _init_weights does (normal(0, initializer_range) for linear, conv and embedding
weights with the padding row zeroed, zero biases, unit norm weights, zero
e_score_correction_bias) from the seed, and writes DIR/config.json (normalised, 4.5x spelling)
plus the weights with the hub's tensor names: model.safetensors, or 2 GB shards with
model.safetensors.index.json. Tensors are generated while written, so memory stays small.
The same config, seed and flags always give byte-identical files.`,
		Example: `  glmflow init-model --config testdata/tiny/config.json --out testdata/tiny --seed 0 --bias-std 0.05`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := glm4v.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			switch dtype {
			case "":
			case "f32":
				cfg.DType = "float32"
			case "bf16":
				cfg.DType = "bfloat16"
			default:
				return fmt.Errorf("--dtype %q: want f32 or bf16", dtype)
			}
			if biasStd < 0 {
				return fmt.Errorf("--bias-std %v: want ≥ 0", biasStd)
			}
			p, err := glm4v.NewParams(cfg)
			if err != nil {
				return err
			}
			opt := glm4v.InitOptions{SelectionBiasStd: biasStd}
			if err := glm4v.WriteInit(out, p, seed, opt, glm4v.DefaultMaxShardBytes); err != nil {
				return err
			}
			specs := p.Specs()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d tensors, %d parameters, %s, seed %d\n",
				out, len(specs), p.NumParams(nil), cfg.DType, seed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "HF config.json of the model (required)")
	f.StringVar(&out, "out", "", "output directory, created if missing (required)")
	f.Uint64Var(&seed, "seed", 0, "random seed")
	f.StringVar(&dtype, "dtype", "", "stored dtype, f32 or bf16 (default: the config's torch_dtype)")
	f.Float64Var(&biasStd, "bias-std", 0, "draw e_score_correction_bias from N(0, std²) instead of HF's zeros")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
