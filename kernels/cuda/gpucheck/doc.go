// Package gpucheck is the body of `glmflow gpu check` (run by `make gpu-check` on a GPU
// machine): it writes a Markdown report, section by section, flushing after each so that a
// report exists even when a later section fails or the run is killed.
//
// Sections here (kernels level): device info; the backend conformance suite
// (kernels/backendtest) on the CUDA backend; every op on fresh random inputs, CUDA against the
// CPU backend, outputs NaN-poisoned, every element compared at a dtype-scaled tolerance; and
// the bf16 GEMM at 8192³ against the card's peak. Model-level sections (the tiny GLM-4.5V
// training step, the real-size MoE decoder layer) live above kernels/ and are passed in as
// Sections by the caller, keeping kernels/ free of stages/ imports.
//
// Non-goals: tuning, multi-GPU.
package gpucheck
