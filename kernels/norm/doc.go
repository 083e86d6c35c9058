// Package norm holds RMSNorm and LayerNorm over the last dimension of [T, D] rows, forward and
// backward, with fp32 statistics.
//
//	RMSNorm   y = x·rstd·w,            rstd = 1/sqrt(mean(x²) + eps)      (GLM-4.5V text and
//	                                                                       vision norms, eps 1e-5)
//	LayerNorm y = (x−mean)·rstd·w + b, rstd = 1/sqrt(var(x) + eps)       (vision merger
//	                                                                       post_projection_norm)
//
// The normalised value is rounded to float32 before the weight multiplies it, as Hugging Face's
// weight · (x·rsqrt(…)) does. Forward saves the per-row statistics (rstd; mean and rstd) that
// backward reads. Backward overwrites dx and ACCUMULATES into dw (and db), so gradients add up
// over micro-batches.
//
// Shape vocabulary: T rows (tokens), D normalised width.
//
// Determinism: forward rows are independent. The weight gradients are summed over fixed chunks
// of 64 rows (each chunk in row order), then the chunk partials are added in chunk order; the
// chunking does not depend on the thread count, so neither does any bit of dw, db or dx.
//
// Non-goals: bf16 storage (callers convert), fused residual add, normalising over anything but
// the last dimension.
package norm
