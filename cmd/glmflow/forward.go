package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
	"github.com/spf13/cobra"
)

func newForwardCmd() *cobra.Command {
	var modelDir, inPath, outPath string
	var grads bool
	cmd := &cobra.Command{
		Use:   "forward --model DIR --inputs IN.safetensors --out OUT.safetensors [--grads]",
		Short: "Run one batch through the model and write loss, logits and (optionally) gradients",
		Long: `Runs the whole GLM-4.5V model (vision tower, embedding with image splicing and MRoPE
positions, decoder layers, head) on one batch, on the CPU in float32, for numerical comparison
with other implementations.

DIR is a Hugging Face model directory (config.json plus model.safetensors or shards with
model.safetensors.index.json; any float dtype, converted to float32).

IN.safetensors holds the batch under Hugging Face's names:
  input_ids       I64 or I32 [B, S]        required
  attention_mask  I64 or I32 [B, S]        1 = token, 0 = padding (default: all ones)
  labels          I64 or I32 [B, S]        unshifted, -100 = no loss (default: no loss)
  pixel_values    F32 [patches, 1176]      patch rows in merge-block order, with image_grid_thw
  image_grid_thw  I64 or I32 [images, 3]   (t, h, w) per image, in <|image|> order

OUT.safetensors gets:
  loss                    F32 []         mean cross-entropy over the loss tokens (labels shifted
                                         by one, as HF), no MoE aux loss
  logits                  F32 [B, S, V]
  grad.<HF parameter>     F32            with --grads: d loss / d parameter for every trainable
                                         parameter, per-expert hub names`,
		Example: `  glmflow forward --model testdata/reference/golden/case1 \
    --inputs testdata/reference/golden/case1/inputs.safetensors --out /tmp/out.safetensors --grads`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := glm4v.LoadConfig(filepath.Join(modelDir, glm4v.ConfigName))
			if err != nil {
				return err
			}
			in, err := readForwardInputs(inPath, &cfg)
			if err != nil {
				return err
			}
			p, err := glm4v.NewParams(cfg)
			if err != nil {
				return err
			}
			if err := glm4v.Load(modelDir, p, nil); err != nil {
				return err
			}
			m, err := glm4v.NewModel(p, cpu.New(), glm4v.ModelOptions{Frozen: !grads})
			if err != nil {
				return err
			}
			out, err := m.Run(in, grads)
			if err != nil {
				return err
			}
			loss := tensors.New(tensors.F32)
			loss.F32()[0] = out.Loss
			ts := map[string]*tensors.Tensor{"loss": loss, "logits": out.Logits}
			for n, g := range out.Grads {
				ts["grad."+n] = g
			}
			if err := safetensors.Write(outPath, ts, map[string]string{"format": "pt"}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loss %.7g, logits %v, %d gradients → %s\n", out.Loss, out.Logits.Shape(), len(out.Grads), outPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "Hugging Face model directory (required)")
	f.StringVar(&inPath, "inputs", "", "safetensors file with the batch (required)")
	f.StringVar(&outPath, "out", "", "safetensors file to write (required)")
	f.BoolVar(&grads, "grads", false, "also run the backward and write every parameter gradient")
	for _, n := range []string{"model", "inputs", "out"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// readForwardInputs reads and checks the batch file: names, dtypes and shapes, with errors
// that name the input.
func readForwardInputs(path string, cfg *glm4v.Config) (glm4v.Inputs, error) {
	var in glm4v.Inputs
	f, err := safetensors.Open(path)
	if err != nil {
		return in, err
	}
	defer f.Close()
	known := []string{"input_ids", "attention_mask", "labels", "pixel_values", "image_grid_thw"}
	got := map[string]*tensors.Tensor{}
	for _, n := range f.Names() {
		ok := false
		for _, k := range known {
			ok = ok || n == k
		}
		if !ok {
			return in, fmt.Errorf("%s: unexpected input %q (known: %s)", path, n, strings.Join(known, ", "))
		}
		t, err := f.Tensor(n)
		if err != nil {
			return in, err
		}
		got[n] = t.Clone() // own, aligned storage; the file is closed on return
	}
	bad := func(name string, t *tensors.Tensor, want string) error {
		return fmt.Errorf("%s: input %s is %v, want %s", path, name, t, want)
	}
	isInt := func(t *tensors.Tensor) bool { return t.DType() == tensors.I64 || t.DType() == tensors.I32 }
	ids := got["input_ids"]
	if ids == nil {
		return in, fmt.Errorf("%s: input input_ids is missing", path)
	}
	if !isInt(ids) || ids.Rank() != 2 {
		return in, bad("input_ids", ids, "I64 or I32 [batch, seq]")
	}
	for _, n := range []string{"attention_mask", "labels"} {
		t := got[n]
		if t != nil && (!isInt(t) || !tensors.SameShape(t, ids)) {
			return in, bad(n, t, fmt.Sprintf("I64 or I32 %v like input_ids", ids.Shape()))
		}
	}
	pv, grid := got["pixel_values"], got["image_grid_thw"]
	if (pv == nil) != (grid == nil) {
		return in, fmt.Errorf("%s: pixel_values and image_grid_thw must be given together", path)
	}
	if pv != nil {
		if pv.DType() != tensors.F32 || pv.Rank() != 2 || pv.Dim(1) != cfg.Vision.PatchDim() {
			return in, bad("pixel_values", pv, fmt.Sprintf("F32 [patches, %d]", cfg.Vision.PatchDim()))
		}
		if !isInt(grid) || grid.Rank() != 2 || grid.Dim(1) != 3 {
			return in, bad("image_grid_thw", grid, "I64 or I32 [images, 3]")
		}
		n := int64(0)
		for i := range grid.Dim(0) {
			thw := [3]int64{}
			for j := range 3 {
				if grid.DType() == tensors.I64 {
					thw[j] = grid.I64()[i*3+j]
				} else {
					thw[j] = int64(grid.I32()[i*3+j])
				}
				if thw[j] <= 0 {
					return in, fmt.Errorf("%s: input image_grid_thw[%d] = %v: want positive sizes", path, i, thw)
				}
			}
			n += thw[0] * thw[1] * thw[2]
		}
		if n != int64(pv.Dim(0)) {
			return in, fmt.Errorf("%s: image_grid_thw covers %d patches but pixel_values has %d rows", path, n, pv.Dim(0))
		}
	}
	in = glm4v.Inputs{InputIDs: ids, AttentionMask: got["attention_mask"], Labels: got["labels"], PixelValues: pv, ImageGridTHW: grid}
	return in, nil
}
