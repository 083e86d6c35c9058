package main

import "github.com/spf13/cobra"

// newRootCmd builds the command tree. Each command lives in its own file and is added here only
// once it works end to end, so --help never lists a command that does not.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "glmflow",
		Short: "Fine-tune GLM-4.5V-class vision-language MoE models",
		Long: `glmflow trains GLM-4.5V-class vision-language mixture-of-experts models as a DAG of
typed stages cut into pipeline ranks. One static binary; CPU kernels in Go assembly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newVersionCmd(),
		newBenchCmd(),
		newInitModelCmd(),
		newForwardCmd(),
		newImageCmd(),
		newTokenizeCmd(),
		newDataCmd(newDataPrepareCmd(), newDataInspectCmd()),
		newRunCmd(),
		newScheduleCmd(),
		newGraphCmd(),
		newGpuCmd(),
	)
	return root
}
