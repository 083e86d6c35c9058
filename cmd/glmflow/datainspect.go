package main

import (
	"fmt"
	"os"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/transforms/tokenizer"
	"github.com/spf13/cobra"
)

// newDataInspectCmd is `glmflow data inspect SHARD`: prints prepared samples readably.
func newDataInspectCmd() *cobra.Command {
	var (
		rows    int
		skip    int64
		tokPath string
		color   string
	)
	cmd := &cobra.Command{
		Use:   "inspect SHARD",
		Short: "Print rows of a prepared-sample shard readably",
		Long: `Prints a shard's rows: source file and row, token and trained-token counts, image grids,
and the decoded text with the trained tokens (those the loss predicts) inside ⟦…⟧, or green
on a terminal, and each <|image|> run shown once as <|image|>×N. Without --tokenizer the
token ids are printed instead of text. Every row is checked as it is read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := shard.InspectOptions{Rows: rows, Skip: skip}
			switch color {
			case "always":
				o.Color = true
			case "never":
			case "auto":
				o.Color = isTerminal(cmd.OutOrStdout()) && os.Getenv("NO_COLOR") == ""
			default:
				return fmt.Errorf("--color %q: want auto, always or never", color)
			}
			if tokPath != "" {
				tok, err := tokenizer.Load(tokPath)
				if err != nil {
					return err
				}
				o.Decoder = tok
			}
			return shard.Inspect(cmd.OutOrStdout(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&rows, "rows", 5, "rows to print")
	f.Int64Var(&skip, "skip", 0, "rows to skip first")
	f.StringVar(&tokPath, "tokenizer", "", "tokenizer.json to decode the ids with (default: print ids)")
	f.StringVar(&color, "color", "auto", "mark trained spans with color: auto (on a terminal), always, never")
	return cmd
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
