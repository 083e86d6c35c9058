package kernels

import (
	"errors"

	"github.com/glmflow/glmflow/tensors"
)

// Backend is the op set glmflow's model code calls. The same stage code runs on any backend;
// tensors passed to a backend must live on its Device. Every op with a gradient has its
// backward beside it, with the argument order (gradient outputs, upstream gradient, saved
// inputs). Shape or dtype mismatches return an error naming the op and the argument.
//
// A Backend is the union of the family interfaces below, so a partial implementation (a test
// double, a backend under construction) can satisfy just the families it needs.
type Backend interface {
	Memory
	Linear
	Pointwise
	Norms
	Losses
	Positional
	Attention
	MoE
	Optimizer
}

// ErrUnsupported is wrapped when a backend cannot run an op on the given dtype or device.
var ErrUnsupported = errors.New("unsupported")

// Memory allocates and moves tensors.
type Memory interface {
	Name() string           // "cpu", "cuda"
	Device() tensors.Device // where this backend's tensors live
	// Alloc returns a zeroed tensor on Device.
	Alloc(dt tensors.DType, shape ...int) (*tensors.Tensor, error)
	// Upload copies a host tensor to Device (on CPU: a copy with its own storage).
	Upload(host *tensors.Tensor) (*tensors.Tensor, error)
	// Download copies a tensor to host memory.
	Download(t *tensors.Tensor) (*tensors.Tensor, error)
	// Copy copies src into dst (same dtype and element count).
	Copy(dst, src *tensors.Tensor) error
	// GatherRows: out[i] = src[idx[i]] (out [N, D], src [M, D], idx [N] I32). Its backward is
	// ScatterAddRows.
	GatherRows(out, src, idx *tensors.Tensor) error
	// ScatterRows overwrites dst[idx[i]] = src[i] (dst [M, D], src [N, D], idx [N] I32 with
	// distinct entries), e.g. image features spliced into the token embeddings.
	ScatterRows(dst, src, idx *tensors.Tensor) error
	// ScatterAddRows accumulates dst[idx[i]] += src[i] in index order i = 0, 1, ...
	// (deterministic; repeated indices allowed).
	ScatterAddRows(dst, src, idx *tensors.Tensor) error
	// Zero sets every element to 0 (used to reset gradient accumulators).
	Zero(t *tensors.Tensor) error
	// Cast converts src into dst of the same element count: F32→BF16 rounds to nearest even
	// (NaN stays NaN), BF16→F32 is exact; equal dtypes copy. Mixed precision uses it for the
	// bf16 operands of Matmul.
	Cast(dst, src *tensors.Tensor) error
}

// MatmulOpts are the scalars and transposes of C = Alpha·op(A)·op(B) + Beta·C.
type MatmulOpts struct {
	TransA, TransB bool
	Alpha, Beta    float32 // Alpha 0 is taken as 1; Beta 1 accumulates into C
}

// Linear holds the GEMMs.
type Linear interface {
	// Matmul computes C = α·op(A)·op(B) + β·C with fp32 accumulation into F32 C. A×B may be
	// F32×F32, F32×BF16 (bf16 weights, fp32 activations) or BF16×BF16 (mixed precision). Rank
	// 2, or rank 3 with a leading batch dimension; a rank-2 operand is broadcast over the batch.
	//
	//	op(A) [M, K] or [Bt, M, K];  op(B) [K, N] or [Bt, K, N];  C [M, N] or [Bt, M, N]
	Matmul(c, a, b *tensors.Tensor, o MatmulOpts) error
	// GroupedLinear runs each expert's linear layer on its block of expert-sorted rows:
	// y[offs[e]:offs[e+1]] = x[offs[e]:offs[e+1]]·w[e]ᵀ.
	//
	//	y [R, N]; x [R, K]; w [E, N, K]; offs [E+1] (I32)
	GroupedLinear(y, x, w, offs *tensors.Tensor) error
	// GroupedLinearBackwardInput: dx[rows_e] = dy[rows_e]·w[e] (overwritten).
	GroupedLinearBackwardInput(dx, dy, w, offs *tensors.Tensor) error
	// GroupedLinearBackwardWeight: dw[e] += dy[rows_e]ᵀ·x[rows_e] (accumulated).
	GroupedLinearBackwardWeight(dw, dy, x, offs *tensors.Tensor) error
}

// Pointwise holds the elementwise ops. Inputs and outputs have equal element counts unless
// stated; out may alias an input.
type Pointwise interface {
	Add(out, a, b *tensors.Tensor) error
	AddBackward(da, db, dout *tensors.Tensor) error // da, db may be nil
	Mul(out, a, b *tensors.Tensor) error
	MulBackward(da, db, dout, a, b *tensors.Tensor) error
	Scale(out, x *tensors.Tensor, alpha float32) error
	ScaleBackward(dx, dout *tensors.Tensor, alpha float32) error
	// AddBias adds bias [N] to every row of x [..., N] (Linear biases).
	AddBias(out, x, bias *tensors.Tensor) error
	// AddBiasBackward accumulates dbias [N] += Σ_rows dout [..., N].
	AddBiasBackward(dbias, dout *tensors.Tensor) error
	SiLU(out, x *tensors.Tensor) error
	SiLUBackward(dx, dout, x *tensors.Tensor) error
	// GELU is the exact (erf) form.
	GELU(out, x *tensors.Tensor) error
	GELUBackward(dx, dout, x *tensors.Tensor) error
	// SwiGLU: out = silu(gate)·up. Optionally (CPU) out may be BF16: the F32 result rounded to
	// nearest even, as Cast would, without an F32 copy (mixed precision); a backend without
	// the option returns an error, and callers fall back to F32 + Cast.
	SwiGLU(out, gate, up *tensors.Tensor) error
	// SwiGLUBackward: optionally dgate and dup may both be BF16 (the F32 gradients rounded, as
	// in SwiGLU).
	SwiGLUBackward(dgate, dup, dout, gate, up *tensors.Tensor) error
	// SwiGLUFused takes HF's fused gate_up [T, 2F] (gate first) → out [T, F].
	SwiGLUFused(out, gateUp *tensors.Tensor) error
	SwiGLUFusedBackward(dGateUp, dout, gateUp *tensors.Tensor) error
}

// Norms holds the row normalisations over the last dimension D (fp32 statistics).
type Norms interface {
	// RMSNorm: out = x·rstd·w, rstd [T] = 1/sqrt(mean(x²)+eps). x, out [T, D]; w [D].
	// Optionally (CPU) out may be BF16: the F32 result rounded as Cast would (see SwiGLU).
	RMSNorm(out, rstd, x, w *tensors.Tensor, eps float32) error
	// RMSNormBackward: dx overwritten, dw accumulated.
	RMSNormBackward(dx, dw, dout, x, w, rstd *tensors.Tensor) error
	// LayerNorm: out = (x−mean)·rstd·w + b; mean, rstd [T]. b may be nil.
	LayerNorm(out, mean, rstd, x, w, b *tensors.Tensor, eps float32) error
	// LayerNormBackward: dx overwritten; dw, db (nil to skip) accumulated.
	LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensors.Tensor) error
}

// CELoss is the result of a cross-entropy forward: Sum over non-ignored tokens of
// −log softmax(logits)[target], and their Count. The mean loss is Sum/Count; for gradient
// accumulation the caller divides by the token count of the whole global batch instead.
type CELoss struct {
	Sum   float64
	Count int
}

// Losses holds softmax and cross-entropy.
type Losses interface {
	// Softmax over the last dimension: x, out [R, C].
	Softmax(out, x *tensors.Tensor) error
	SoftmaxBackward(dx, dout, y *tensors.Tensor) error
	// CrossEntropy over logits [T, V] and targets [T] (I32; −100 = ignore), chunked over the
	// vocabulary with a streaming log-sum-exp; saves stats [T, 2] (row max, log Σ exp) for the
	// backward.
	CrossEntropy(stats, logits, targets *tensors.Tensor) (CELoss, error)
	// CrossEntropyBackward writes dlogits = (softmax − onehot)·scale for non-ignored rows and 0
	// for ignored ones. dlogits may be the logits tensor itself (in place: the full-vocab
	// gradient is never held twice).
	CrossEntropyBackward(dlogits, logits, stats, targets *tensors.Tensor, scale float32) error
	// LMHeadLoss is CrossEntropy of logits = h [T, D]·wᵀ (w [V, D]) computed in token blocks,
	// so [T, V] logits are never materialised.
	LMHeadLoss(stats, h, w, targets *tensors.Tensor) (CELoss, error)
	// LMHeadLossBackward recomputes each block's logits: dh [T, D] overwritten, dw [V, D]
	// accumulated.
	LMHeadLossBackward(dh, dw, h, w, stats, targets *tensors.Tensor, scale float32) error
}

// Positional holds rotary embeddings, embedding lookup and position-table interpolation.
type Positional interface {
	// Rotary rotates the first R = 2·cos.Dim(1) dims of each head of x [T, H, Dh] by per-token
	// angles (half-split pairing); cos, sin [T, R/2]. out may alias x. Optionally (CPU) out
	// may be BF16: the F32 result rounded as Cast would (see SwiGLU), for the bf16 q, k of
	// mixed-precision attention.
	Rotary(out, x, cos, sin *tensors.Tensor) error
	// RotaryBackward is the inverse rotation; dx may alias dout, and where Rotary takes a
	// BF16 out, dx may be BF16 too (the F32 result rounded).
	RotaryBackward(dx, dout, cos, sin *tensors.Tensor) error
	// Embedding gathers out [T, D] = table [V, D] rows at ids [T] (I32).
	Embedding(out, table, ids *tensors.Tensor) error
	// EmbeddingBackward accumulates dtable += scatter(dout); row paddingIdx (−1: none) gets no
	// gradient.
	EmbeddingBackward(dtable, dout, ids *tensors.Tensor, paddingIdx int) error
	// GridSample samples table [H0, W0, C] bicubically (PyTorch grid_sample, border padding,
	// align_corners=False) at grid [N, 2] (x, y in [−1, 1]) → out [N, C].
	GridSample(out, table, grid *tensors.Tensor) error
	// GridSampleBackward accumulates dtable.
	GridSampleBackward(dtable, dout, grid *tensors.Tensor) error
}

// AttentionOpts describe an attention call beyond the shapes of q, k, v.
type AttentionOpts struct {
	Scale     float32 // 0: 1/sqrt(Dh)
	Causal    bool
	CuSeqlens []int32 // segment boundaries [nseg+1] in the packed T; nil: one segment
	KeyPad    []bool  // [T] true = padding key; nil: none
	// BF16 runs the tile products (scores, P·V and the backward products) with bf16 operands
	// and fp32 accumulation; softmax, its statistics and all outputs stay fp32 (mixed
	// precision).
	BF16 bool
}

// Attention is multi-head attention with GQA over packed segments (flash-style: memory does not
// grow with T²).
type Attention interface {
	// Attention: q, o [T, H, Dh]; k, v [T, K, Dh]; lse [H, T] saved for the backward.
	// Optionally (CPU), with opts.BF16, q, k and v may all be BF16: they are then the bf16
	// operands of the products as given (F32 inputs are rounded first), so a caller keeping
	// bf16 copies saves the rounding; the results are those of F32 inputs that round to them.
	// A backend without the option returns an error. The same holds for AttentionBackward
	// (o, do and the gradients stay F32).
	Attention(o, lse, q, k, v *tensors.Tensor, opts AttentionOpts) error
	// AttentionBackward overwrites dq, dk, dv.
	AttentionBackward(dq, dk, dv, do, q, k, v, o, lse *tensors.Tensor, opts AttentionOpts) error
}

// RouterOpts is the routing part of a GLM-4.5 / DeepSeek-V3 MoE config.
type RouterOpts struct {
	TopK          int     // num_experts_per_tok
	NGroup        int     // n_group (≤ 1: no group limiting)
	TopKGroup     int     // topk_group
	NormTopK      bool    // norm_topk_prob
	ScalingFactor float32 // routed_scaling_factor
}

// MoE holds routing and the token permutation around GroupedLinear.
type MoE interface {
	// Router: logits, scores [T, E] = x [T, D]·wGateᵀ [E, D] and its sigmoid; topIdx [T, k] (I32)
	// chosen on scores + bias [E] (nil: none); topW [T, k] from the un-biased scores.
	Router(logits, scores, topIdx, topW, x, wGate, bias *tensors.Tensor, o RouterOpts) error
	// RouterBackward: from dTopW [T, k] (and optional dScores [T, E], e.g. an aux loss) to dx
	// (overwritten) and dWGate (accumulated); either may be nil to skip it. dLogits [T, E] is
	// written (the gradient of the router logits): a caller with a logits-level gradient of
	// its own (HF's softmax aux loss) passes nil dx and dWGate, adds its term to dLogits, and
	// finishes with Matmul: dx = dLogits·wGate, dWGate += dLogitsᵀ·x.
	RouterBackward(dx, dWGate, dLogits, dTopW, dScores, x, wGate, scores, topIdx *tensors.Tensor, o RouterOpts) error
	// Permutation groups the T·k assignments by expert (stable): offs [E+1], rowSrc and pos
	// [T·k] (all I32).
	Permutation(offs, rowSrc, pos, topIdx *tensors.Tensor) error
	// Permute gathers xPerm [T·k, D] from x [T, D].
	Permute(xPerm, x, rowSrc *tensors.Tensor) error
	// PermuteBackward scatter-adds dXPerm back into dx [T, D] (overwritten), in fixed order.
	PermuteBackward(dx, dXPerm, pos *tensors.Tensor) error
	// Unpermute: out[t] = Σ_j topW[t,j]·yPerm[pos[t·k+j]].
	Unpermute(out, yPerm, pos, topW *tensors.Tensor) error
	// UnpermuteBackward overwrites dYPerm [T·k, D] and dTopW [T, k].
	UnpermuteBackward(dYPerm, dTopW, dout, yPerm, pos, topW *tensors.Tensor) error
}

// AdamWOpts are torch.optim.AdamW's hyper-parameters for one step, as Python floats (the
// scalars are formed in float64 and rounded where they meet fp32 tensors, as PyTorch does).
// Step counts from 1.
type AdamWOpts struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Step                               int
}

// Optimizer holds the update and the gradient-norm utilities.
type Optimizer interface {
	// AdamW updates param in place from grad and the moment tensors m, v (all F32, same shape).
	AdamW(param, grad, m, v *tensors.Tensor, o AdamWOpts) error
	// GlobalNorm is the L2 norm over all tensors, accumulated in float64 in a fixed order.
	GlobalNorm(ts []*tensors.Tensor) (float64, error)
	// ClipByGlobalNorm scales every tensor by maxNorm/(norm+1e-6) when that is < 1
	// (torch.nn.utils.clip_grad_norm_) and returns the norm before clipping.
	ClipByGlobalNorm(ts []*tensors.Tensor, maxNorm float64) (float64, error)
}
