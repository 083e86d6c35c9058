// Package backendtest is the conformance suite every kernels.Backend runs: each op on small
// random tensors, on the backend's own device, against the float64 references of the kernel
// packages (kernels/<family>.Ref...). It checks a backend's wiring — argument order, shape
// derivation, accumulation versus overwrite, in-place use — while each kernel package's own
// tests check its arithmetic tightly (finite differences, every SIMD path).
//
// A backend's test calls Run; GLMFLOW_BACKENDTEST=Attention,MoE narrows it to some groups.
package backendtest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels"
)

// groups is the suite, in run order.
var groups = []struct {
	name string
	run  func(e *env)
}{
	{"Pointwise", testPointwise},
	{"Matmul", testMatmul},
	{"Norms", testNorms},
	{"Losses", testLosses},
	{"Positional", testPositional},
	{"Attention", testAttention},
	{"MoE", testMoE},
	{"Optimizer", testOptimizer},
	{"Rows", testRows},
	{"Cast", testCast},
	{"BF16Outputs", testBF16Outputs},
}

// Run runs the conformance suite on be, one subtest per op group.
func Run(t *testing.T, be kernels.Backend) {
	only := os.Getenv("GLMFLOW_BACKENDTEST")
	for _, g := range groups {
		if only != "" && !slices.Contains(strings.Split(only, ","), g.name) {
			continue
		}
		t.Run(g.name, func(t *testing.T) { g.run(&env{t: t, be: be}) })
	}
}
