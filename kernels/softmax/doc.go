// Package softmax implements row softmax and the language-model cross-entropy loss, forward and
// backward, on float32 slices (llm.c style: raw slices plus dimensions).
//
// Shape vocabulary: R rows, C columns (softmax); T tokens, V vocab, D hidden (cross-entropy).
//
// Ops:
//   - Forward / Backward: y = softmax(x) over each row of [R, C] (max-subtracted), and
//     dx = y ⊙ (dy − Σ dy⊙y).
//   - CrossEntropyForward / CrossEntropyBackward / CrossEntropy (fused): the LM-head loss on
//     logits [T, V] with int32 targets, IgnoreIndex (−100) marking tokens without loss. Log-softmax
//     is fused in: one streaming pass over vocabulary chunks of Chunk columns keeps a running
//     max and Σexp (online rescaling), so each row is read once. The backward writes
//     d(logits) = (softmax − onehot)·gradScale, optionally IN PLACE over the logits, so a
//     [T, V] gradient is never held next to the logits (V = 151,552 for GLM-4.5V).
//   - LMHeadForward / LMHeadBackward / LMHead (fused): the same loss from the hidden states
//     h [T, D] and the lm_head weight W [V, D] without materialising [T, V]: tokens with a
//     target are processed in blocks whose logits (h_b·Wᵀ, kernels/gemm) fit a caller scratch
//     buffer; backward recomputes a block's logits, turns them into d(logits) in place and
//     produces dh = d(logits)·W and dW += d(logits)ᵀ·h_b. Ignored tokens cost no GEMM work.
//
// Loss normalisation: forward returns lossSum (float64 sum over non-ignored tokens of
// logsumexp − logit[target]) and count (number of such tokens); the mean loss is lossSum/count
// (Mean). Backward takes gradScale, the factor every d(logits) row is multiplied by; for a mean
// over the whole global batch across micro-batches pass 1/globalCount (CountTargets gives the
// count of one micro-batch up front, so fused forward+backward can run in one pass).
//
// Statistics: forward writes stats [T, 2] = (row max m, log Σ exp(x − m)) for backward. Keeping
// the two parts apart (instead of one logsumexp) keeps backward exact for huge logits: exp is
// taken of (x − m) − logΣ, never of x − lse with a rounded lse. Ignored rows get (0, 0).
//
// Numerics: fp32 storage and compute; each chunk's Σexp is a float32 sum, chunks are combined in
// float64, and the loss is accumulated in float64 in
// token order. Results do not depend on the thread count (rows are split across goroutines,
// every reduction has a fixed order); the LM-head dW depends on the block size (len(scratch))
// because the block is the GEMM's k dimension.
//
// Code paths: on amd64 the row work runs generated AVX-512 or AVX2 kernels (asm_amd64.s from
// kernels/vec/internal/asmgen: exp with vec's argument reduction and a degree-6 polynomial,
// fused with the subtraction of the max, the sum, the store and the scaling); AVX2 and AVX-512
// give identical bits (TestPathsAgree). The fused CrossEntropy stores exp(x − m_c) during the
// statistics pass (m_c the running max after chunk c) and then only rescales each chunk by
// g·e^(m_c − m − logΣ), one exp per element; CrossEntropyBackward finds m_c again (a max pass)
// and computes exp(x − m_c)·(that factor), so both give the same bits. The generic path is the
// plain Go code on kernels/vec primitives (purego builds, other architectures, tests).
//
// Non-goals: label smoothing, z-loss, per-token loss weights, bf16 storage (callers convert;
// the LM-head variant takes fp32 W), vocab-parallel (sharded) cross-entropy.
package softmax
