// Package optim is the optimizer stage's logic: AdamW over a stage's trainable parameters,
// Megatron's learning-rate schedule (linear warmup, then cosine, linear or constant decay to
// a minimum), gradient clipping by a global norm that the caller may reduce across pipeline
// ranks, and a non-finite guard that skips the update everywhere.
//
// One Optimizer per rank owns the moment tensors (exp_avg, exp_avg_sq; F32, on the stage's
// backend) of the parameters it is given. A step on p ranks is:
//
//	sq_r  := o_r.SquaredNorm()           // Σ g² over rank r's gradients, float64
//	total := Σ_r sq_r in rank order       // all-reduce by the caller (pipelines/)
//	info  := o_r.Step(math.Sqrt(total))   // the same norm on every rank → the same decision
//
// so clipping and the NaN/Inf skip agree across ranks, and one rank gives the same update as
// p ranks up to the float64 rounding of the norm's partial sums.
//
// Numerics follow torch.optim.AdamW (kernels.Backend.AdamW) and torch's clip_grad_norm_:
// the clip coefficient max_norm/(norm + 1e-6) is applied, rounded to fp32, when it is < 1
// (Megatron's rule). Weight decay is not applied to biases and 1-D parameters (norm weights),
// Megatron's default no_weight_decay_cond.
//
// Non-goals: distributed optimizer sharding, fp16 loss scaling, other optimizers.
package optim
