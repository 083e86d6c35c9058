package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
	"github.com/glmflow/glmflow/transforms/imageproc"
	"github.com/spf13/cobra"
)

func newImageCmd() *cobra.Command {
	var (
		in, out              string
		minPixels, maxPixels int
		alphaWhite, exif     bool
	)
	def := imageproc.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "image --in IMG --out OUT.safetensors [--min-pixels N] [--max-pixels N]",
		Short: "Preprocess one image as HF's Glm4vImageProcessor does",
		Long: `Decodes IMG (JPEG, PNG, GIF, BMP or WebP), converts it to RGB as PIL's convert("RGB"),
resizes it to smart_resize's size with PIL's bicubic filter, rescales and normalises it with
the OpenAI CLIP mean/std and cuts it into patches in merge-block order. Writes pixel_values
F32 [P, 1176] and image_grid_thw I64 [1, 3] under Hugging Face's names, for comparison with
the output of transformers' Glm4vImageProcessor (PIL backend).`,
		Example: `  glmflow image --in cat.jpg --out cat.safetensors --max-pixels 1003520`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := imageproc.DefaultOptions()
			o.MinPixels, o.MaxPixels = minPixels, maxPixels
			o.AlphaOverWhite, o.ExifTranspose = alphaWhite, exif
			if err := o.Validate(); err != nil {
				return err
			}
			data, err := os.ReadFile(in)
			if err != nil {
				return err
			}
			img, err := imageproc.Process(data, o)
			if err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			p := img.Grid[0] * img.Grid[1] * img.Grid[2]
			pv := make([]float32, p*o.RowLen())
			if err := imageproc.Normalize(pv, img, o); err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			grid := tensors.New(tensors.I64, 1, 3)
			for i, v := range img.Grid {
				grid.I64()[i] = int64(v)
			}
			entries := []safetensors.Entry{
				{Name: "pixel_values", DType: tensors.F32, Shape: []int{p, o.RowLen()}, Data: func(w io.Writer) error {
					buf := make([]byte, 4*o.RowLen())
					for r := range p {
						for i, v := range pv[r*o.RowLen() : (r+1)*o.RowLen()] {
							binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
						}
						if _, err := w.Write(buf); err != nil {
							return err
						}
					}
					return nil
				}},
				safetensors.TensorEntry("image_grid_thw", grid),
			}
			meta := map[string]string{"source": in, "imageproc_options_sha256": o.Hash()}
			if err := safetensors.WriteEntries(out, entries, meta); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: pixel_values [%d, %d], image_grid_thw %v\n", out, p, o.RowLen(), img.Grid)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "image file (required)")
	f.StringVar(&out, "out", "", "output .safetensors file (required)")
	f.IntVar(&minPixels, "min-pixels", def.MinPixels, "HF size.shortest_edge: minimum pixel budget (temporal factor 2 included)")
	f.IntVar(&maxPixels, "max-pixels", def.MaxPixels, "HF size.longest_edge: maximum pixel budget (temporal factor 2 included)")
	f.BoolVar(&alphaWhite, "alpha-over-white", false, "composite transparent images over white (HF's Glm4v processor does not)")
	f.BoolVar(&exif, "exif-transpose", false, "apply the JPEG EXIF orientation (HF datasets ≥ 2.19 does; PIL and HF processors do not)")
	_ = cmd.MarkFlagRequired("in")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
