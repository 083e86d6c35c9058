// Command glmflow fine-tunes GLM-4.5V-class vision-language MoE models. This package only parses
// flags, wires packages together and prints; the logic lives in pipelines/, stages/, kernels/,
// tensors/, datasets/ and transforms/.
package main

import (
	"fmt"
	"os"

	"github.com/glmflow/glmflow/datasets/prepare"
)

func main() {
	// A remote Beam runner starts this binary as its worker (`glmflow --worker=true --id=...`):
	// hand such an invocation to Beam's harness before cobra sees it.
	if prepare.IsWorker(os.Args[1:]) {
		prepare.RunWorker(os.Args[1:])
		return
	}
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "glmflow:", err)
		os.Exit(1)
	}
}
