package main

import "github.com/spf13/cobra"

// newDataCmd groups the data-preparation commands.
func newDataCmd(sub ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Prepare and inspect training data",
		Long: `Dataset commands: turn Hugging Face dataset files into prepared-sample shards and look at
the result.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(sub...)
	return cmd
}
