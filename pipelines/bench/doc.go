// Package bench measures the pipeline engine against baselines in the same run: the executor
// against the same stages called back to back, two pipeline ranks on two cores against one
// rank on one core, and the bubble measured in the trace against the simulator's for the
// measured stage costs. `glmflow bench --only pipeline` prints it.
//
// The model is performance.md's text model as a GLM-4.5V: vocabulary 8192, hidden 256, 8
// heads / 2 KV heads of 32, layer 0 dense (688), then MoE (8 experts top-2 of width 256 plus
// a shared expert), randomly initialised in a temporary directory; micro-batches are
// text-only rows of 256 tokens.
package bench
