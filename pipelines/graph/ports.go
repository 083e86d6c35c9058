package graph

import (
	"fmt"

	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/tensors"
)

// The ports of the glm4v stages as pipelines/plan builds them (no logits output, no hf aux
// loss), derived from the config alone so that a graph of the full-size model needs no
// weights. ports_test.go checks them against the stages' own Ports on a loaded model.
//
// Shape symbols: B batch, S sequence, T = B·S tokens, P patch rows, N images, M merged rows.

// BatchPorts are the micro-batch tensors the loader gives a rank.
func BatchPorts(cfg *glm4v.Config) []stages.Port {
	return []stages.Port{
		{Name: "input_ids", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "labels", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "pixel_values", DType: tensors.F32, Shape: []string{"P", fmt.Sprint(cfg.Vision.PatchDim())}},
		{Name: "image_grid_thw", DType: tensors.I32, Shape: []string{"N", "3"}},
	}
}

// VisionPorts are glm4v.vision's ports.
func VisionPorts(cfg *glm4v.Config) (in, out []stages.Port) {
	return []stages.Port{
			{Name: "pixel_values", DType: tensors.F32, Shape: []string{"P", fmt.Sprint(cfg.Vision.PatchDim())}},
			{Name: "image_grid_thw", DType: tensors.I32, Shape: []string{"N", "3"}},
		}, []stages.Port{
			{Name: "image_embeds", DType: tensors.F32, Shape: []string{"M", fmt.Sprint(cfg.Vision.OutHiddenSize)}, Grad: true},
		}
}

// EmbedPorts are glm4v.embed's ports; image_embeds and image_grid_thw are optional.
func EmbedPorts(cfg *glm4v.Config) (in, out []stages.Port) {
	D := fmt.Sprint(cfg.Text.HiddenSize)
	in = []stages.Port{
		{Name: "input_ids", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
		{Name: "image_embeds", DType: tensors.F32, Shape: []string{"N", D}, Grad: true},
		{Name: "image_grid_thw", DType: tensors.I32, Shape: []string{"I", "3"}},
	}
	return in, DecoderPorts(cfg)
}

// DecoderPorts are glm4v.decoder's ports, the same in and out.
func DecoderPorts(cfg *glm4v.Config) []stages.Port {
	return []stages.Port{
		{Name: "hidden", DType: tensors.F32, Shape: []string{"T", fmt.Sprint(cfg.Text.HiddenSize)}, Grad: true},
		{Name: "position_ids", DType: tensors.I32, Shape: []string{"3", "T"}},
		{Name: "attention_mask", DType: tensors.I32, Shape: []string{"B", "S"}},
	}
}

// HeadPorts are glm4v.head's ports without the logits output.
func HeadPorts(cfg *glm4v.Config) (in, out []stages.Port) {
	return []stages.Port{
			{Name: "hidden", DType: tensors.F32, Shape: []string{"T", fmt.Sprint(cfg.Text.HiddenSize)}, Grad: true},
			{Name: "labels", DType: tensors.I32, Shape: []string{"B", "S"}},
		}, []stages.Port{
			{Name: "loss", DType: tensors.F32, Shape: []string{}, Grad: true},
		}
}
