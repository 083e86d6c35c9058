// Command glmflow fine-tunes GLM-4.5V-class vision-language MoE models. This package only parses
// flags, wires packages together and prints; the logic lives in pipelines/, stages/, kernels/,
// tensors/, datasets/ and transforms/.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "glmflow:", err)
		os.Exit(1)
	}
}
