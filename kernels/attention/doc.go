// Package attention is fp32 multi-head scaled-dot-product attention, forward and backward, in
// the FlashAttention-2 style: Q·Kᵀ is computed tile by tile with an online softmax, so memory
// does not grow with T² (per-worker tile scratch only; the backward recomputes the
// probabilities from q, k and the saved logsumexp).
//
// Shape vocabulary: T tokens (all sequences packed), H query heads, K kv heads (GQA: query head
// h reads kv head h/(H/K)), Dh head dim (any size ≥ 1; GLM-4.5V: text 128, vision 128; small
// models 16–80).
//
//	q, o, do, dq  [T, H, Dh]
//	k, v, dk, dv  [T, K, Dh]
//	lse           [H, T]   natural-log logsumexp of the scaled logits of each query row
//	cu_seqlens    [nseg+1] like flash-attn varlen: token t belongs to segment s when
//	              cu[s] ≤ t < cu[s+1]; queries see keys of their own segment only
//	key padding   [T]      true: the key is padding and no query attends to it
//
// Masking: a query row with no visible key (all its keys padded, or causal with only padded
// keys before it) gets output 0, lse = +Inf and zero gradients, never NaN. Padded queries are
// not masked (their rows are computed like any other; the loss ignores them).
//
// Work split and determinism: a task stacks the G = H/K query heads of one kv head (tile rows
// are (token, head) pairs). Forward: one task per run of consecutive query blocks of one
// (segment, kv head), key tiles outer, so each K/V tile is packed once (gemm.PackedB) for the
// whole run; runs are sized to give each worker about four tasks (a single run per segment
// when single-threaded). Backward: D = rowsum(do ⊙ o) first; then either one task per (segment,
// kv head) that walks its key blocks in order and adds each tile's dS to dk/dv of the key
// block and to dq of the query block (five tile products), or, when that leaves workers idle
// (few segments × kv heads), one task per (segment, kv head, key block) for dk/dv and one per
// run of query blocks for dq, which recomputes S and dP (seven products). Every tile is
// computed the same way and dq sums key blocks in order under both schedules, so they agree
// bit for bit. No atomics; every output element is produced by one task with a fixed order of
// operations, so results are bit-identical for any GOMAXPROCS.
//
// Compute (tile.go): tile products on gemm.SgemmPackedB (K, Kᵀ, V, Vᵀ tiles packed once per
// key tile; query rows and score tiles are laid out at gemm.PackedLD so the GEMM reads them in
// place, no copy) and gemm.SgemmSerial (dV += Pᵀ·dO, dK += dSᵀ·Q); the online-softmax step
// exp(s − m) and its row sum in one assembly pass (softmax_amd64.s), dS = P ⊙ (dP − D) in
// assembly (ds_amd64.s), row max/scale on package vec. Paths are picked at start-up with
// golang.org/x/sys/cpu, and a plain-Go path (also used on other GOARCHes and with the purego
// tag) is what tests compare against.
//
// Params.BF16 (bf16.go) runs every tile product on bfloat16 operands (q, k, v, do rounded once
// per call; P and dS per tile) with float32 accumulation through gemm.SgemmBF16Serial
// (VDPBF16PS on AVX512_BF16); softmax, statistics and outputs stay float32. Opt-in, for
// mixed-precision training; the default float32 path is unchanged. Bidirectional BF16 calls
// whose segments are all at most 1024 tokens (vision: one image per segment) take the dense
// path instead (dense.go): per (segment, head) whole-segment GEMMs on an L×L score matrix,
// operands read and written in place, tasks per (segment, head) forward and (segment, kv head)
// backward — about 1.2× the flash tiles at 256-token segments. The choice depends on the
// parameters only, never on the thread count.
//
// Non-goals: dropout (GLM-4.5V uses 0), attention bias / ALiBi, sliding windows, bf16 storage,
// KV-cache decoding. The float64 reference (RefForward, RefBackward) materialises [T, T] and is
// meant for tests only.
package attention
