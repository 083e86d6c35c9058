// Package optim holds the optimizer kernels: the AdamW update with torch.optim.AdamW semantics,
// the global L2 norm of many gradient tensors, and clip-by-global-norm with
// torch.nn.utils.clip_grad_norm_ semantics.
//
// AdamW (decoupled weight decay, Loshchilov & Hutter; PyTorch's single-tensor path exactly):
//
//	p ← p·(1 − lr·wd)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + eps)
//
// with the scalar factors computed in float64 and rounded to float32 once, as PyTorch does, and
// the step count t ≥ 1 supplied by the caller (it is part of the checkpointed state).
// Parameters and both moments are fp32. testdata/adamw_golden.json (from gen_golden.py, torch
// 1.13) pins the behaviour: the update matches torch bit for bit (m and v updates use one
// fused multiply-add each, as ATen's vectorised add/addcmul kernels do).
//
// GlobalNorm sums squares in float64 over fixed 4096-element blocks, blocks in tensor order:
// the result is deterministic and independent of the thread count. (PyTorch takes the norm of
// per-tensor fp32 norms; the float64 sum is at least as accurate, so the two agree to fp32
// rounding.)
//
// Non-goals: other optimizers, amsgrad, bf16 parameter storage with fp32 master weights,
// parameter groups (callers loop over tensors with their own hyperparameters).
package optim
