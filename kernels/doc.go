// Package kernels defines Backend, the op set glmflow's model code calls, and hosts one
// package per op family with the CPU implementation (Go + Go assembly, runtime CPU-feature
// dispatch, pure-Go fallback) and its float64 reference:
//
//	gemm         fp32 GEMM C = αAB + βC (NN/NT/TN, batched/strided, bf16 weights, grouped)
//	vec          SIMD primitives: exp, dot, axpy, reductions
//	elementwise  add, mul, scale, SiLU, GELU (erf), SwiGLU
//	norm         RMSNorm, LayerNorm (fp32 statistics)
//	softmax      softmax; cross-entropy fused with log-softmax, chunked over the vocabulary
//	rotary       half-split rotary from per-token angle tables (MRoPE, 2-D vision rotary)
//	attention    flash-style attention fwd/bwd: GQA, causal, cu_seqlens segments, key padding
//	embedding    gather and deterministic scatter-add backward with padding_idx
//	moe          sigmoid router with selection bias, top-k, permute, grouped GEMM, un-permute
//	gridsample   bicubic grid_sample (PyTorch semantics) for position-embedding interpolation
//	optim        AdamW, global L2 norm, gradient clipping
//	cpu          the CPU Backend: shape/dtype checks on Tensors, then the packages above
//	backendtest  the conformance suite every Backend runs against the float64 references
//	bench        the benchmark suite behind `glmflow bench`
//	openblas     OpenBLAS loaded at run time, the GEMM baseline of the benchmarks
//	internal/    simd (the one SIMD path decision), parallel (deterministic parallel loops),
//	             kerneltest (tolerances, float64 comparison, finite differences)
//
// Conventions shared by every op: outputs are preallocated by the caller; input-gradient
// outputs are overwritten, weight-gradient outputs are accumulated (dW += ...) so gradients
// add up over micro-batches; forward returns the statistics its backward needs (rstd, lse)
// into caller tensors; fp32 storage and accumulation; results do not depend on the thread
// count (work is split over independent outputs, reductions run in a fixed order).
//
// Shape vocabulary: B batch, T tokens, D hidden, H heads, K kv heads, Dh head dim, E experts,
// k top-k, F expert/MLP width, P patches, V vocab, R rotary dims.
package kernels
