package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/spf13/cobra"
	"golang.org/x/sys/cpu"
)

// version is set at link time: go build -ldflags "-X main.version=v0.1.0".
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, build and CPU features",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "glmflow %s", version)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						fmt.Fprintf(w, " (revision %s)", s.Value)
					}
				}
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "go %s %s/%s, GOMAXPROCS %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
			fmt.Fprintf(w, "cpu: avx2=%v fma=%v avx512f=%v avx512bf16=%v; gemm kernels: %v\n",
				cpu.X86.HasAVX2, cpu.X86.HasFMA, cpu.X86.HasAVX512F, cpu.X86.HasAVX512BF16, gemm.CurrentPath())
			return nil
		},
	}
}
