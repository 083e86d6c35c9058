package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glmflow/glmflow/pipelines/plan"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/spf13/cobra"
)

func newGraphCmd() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "graph PIPELINE.yaml [key=value ...] --format dot|svg -o FILE",
		Short: "Draw a pipeline's training DAG grouped by rank (DOT or SVG)",
		Long: `Plans the spec (the model's config.json only: a directory, or a hub id in the local HF cache)
and writes its training DAG: the batch each rank reads, the vision tower, embedding, decoder
layer ranges and head as typed nodes with their stage and parameter counts, one optimizer per
rank, one cluster per rank. Edges carry activations forward; those with arrows at both ends
carry a gradient back; red edges cross ranks. SVG is rendered in-process by Graphviz compiled
to WebAssembly: no external program. -o - writes to standard output.`,
		Example: `  glmflow graph pipelines/glm45v_tiny.yaml --format svg -o tiny.svg
  glmflow graph pipelines/glm45v_lora.yaml model.path=testdata/glm45v --format dot -o lora.dot`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = strings.TrimPrefix(filepath.Ext(out), ".")
			}
			if format != "dot" && format != "svg" {
				return fmt.Errorf("--format %q: want dot or svg", format)
			}
			s, err := spec.Load(args[0], args[1:]...)
			if err != nil {
				return err
			}
			p, err := plan.New(s)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if format == "svg" {
				err = p.Graph.SVG(context.Background(), &b)
			} else {
				err = p.Graph.DOT(&b)
			}
			if err != nil {
				return err
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d nodes, %d edges, %d rank(s)\n", out, len(p.Graph.Nodes), len(p.Graph.Edges), p.Graph.PP)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "dot or svg (default: from the -o extension)")
	f.StringVarP(&out, "out", "o", "", "output file, - for standard output (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
