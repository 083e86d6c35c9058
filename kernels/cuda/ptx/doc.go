// Package ptx holds glmflow's CUDA kernels: the .cu sources (one file per op family), the
// prelude.h they are compiled with, the PTX modules clang-19 makes from them (committed,
// embedded with go:embed; Module), and the table of entry points (Kernels, Lookup) the CUDA
// backend (kernels/cuda) launches from. Nothing here talks to a GPU.
//
// Build: gen.sh (also `go generate`) compiles module.cu — which includes every family — with
// `clang-19 -x cuda --cuda-device-only -nocudainc -nocudalib -include prelude.h -O3
// -ffp-contract=off` for sm_90a (PTX ISA 8.0) and sm_80 (PTX ISA 7.0) into
// glmflow.sm_90a.ptx and glmflow.sm_80.ptx. Module("sm_90a") serves H100/H200; every other
// architecture ≥ sm_80 gets the sm_80 module, which the driver JIT-compiles. TestPTXFresh
// (skipped without clang-19) is the CI staleness check.
//
// Conventions shared by every kernel:
//   - Names are extern "C" and stable. A family with storage type T has two entries, _f32
//     (float) and _bf16 (bf16 as unsigned short); arithmetic is always float (fp32
//     accumulation). Statistics (rstd, mean, lse, stats, dsum), norm/bias weight-gradient
//     partials, router tensors and AdamW state are F32 whatever T is; loss rows and norm
//     partials of GlobalNorm are F64.
//   - Parameter types (Param.Type): pointers, int (I32), long long (I64), float (F32); one
//     driver.Args slot each, in table order.
//   - Block is Kernel.Block threads in x; dynamic shared memory is always 0 (static shared
//     memory only, < 48 KiB per block, so no cuFuncSetAttribute is needed).
//   - Outputs overwrite, except where "accumulates" is said: weight gradients accumulate
//     (colsum_finish_f32 adds into dbias/dw/db; scatter_add_rows into dst; gridsample_backward
//     into dtable), input gradients overwrite — the CPU backend's contract.
//   - No float atomics anywhere; every reduction has a fixed order, so results are
//     deterministic run to run. Integer atomicMin is used only by the index checks.
//   - Index arguments are trusted: the backend validates them first, on the host when they
//     are host data, or with index_check_i32 / duplicate_check_i32 (bad = smallest failing
//     position; preset it to 0x7fffffff) when they live on the device.
//
// Launch geometry per kernel (Grid kinds are defined in table.go):
//
//	add, mul, mul_backward, scale, silu(_backward), gelu(_backward), swiglu(_backward),
//	cast_*, add_bias (n = rows·cols), swiglu_fused(_backward) (n = T·F), rotary
//	(n = T·H·(Dh − R/2)), gridsample_forward (n = N·C), moe_router_backward (n = T·E),
//	index_check_i32, adamw_f32          GridStride: block 256, grid GridStrideBlocks(n, 256).
//	colsum_partial, rmsnorm_dw_partial, layernorm_dwdb_partial
//	                                    GridColChunks: grid (ceil(cols/256), ceil(rows/64)),
//	                                    chunkRows = ColChunkRows (64); part is
//	                                    [ceil(rows/64), cols] F32 scratch; then
//	colsum_finish_f32                   GridCols: grid ceil(cols/256), chunks = ceil(rows/64).
//	rmsnorm, rmsnorm_backward, layernorm, layernorm_backward, softmax(_backward),
//	ce_forward, ce_backward             GridRows: one block of 256 per row (grid rows).
//	gather_rows, scatter_rows, scatter_add_rows, duplicate_check_i32
//	                                    GridRows: one block of 256 per index (grid N).
//	sumsq_partial                       GridNormBlocks: grid ceil(n/4096), block exactly 256;
//	                                    part [Σ blocks] F64 (one slot per block, tensors in
//	                                    order); then sum_f64 (grid 1, block 256) → out[0],
//	                                    norm = sqrt(out[0]) on the host.
//	moe_route_f32                       GridThreads: block 128, grid ceil(T/128), one thread
//	                                    per token; k ≤ 32, nGroup ≤ 64.
//	moe_count, moe_place                GridRows: grid E, block 256 (R = T·k).
//	moe_offsets                         GridSingle: grid 1, block 32 (thread 0 works).
//	moe_permute                         GridRows: grid R = T·k.
//	moe_permute_backward, moe_unpermute, moe_unpermute_backward
//	                                    GridRows: grid T.
//	attention_forward, attention_bwd_dq GridAttnQ: grid (ceil(maxSeg/16), H, nseg), block 128.
//	attention_bwd_dkv                   GridAttnKV: grid (ceil(maxSeg/16), K, nseg), block 128.
//	attention_bwd_dsum                  GridWarpRows: grid ceil(T·H/4), block 128.
//	gridsample_backward                 GridRows: grid H0·W0 (one block per table cell),
//	                                    block 256.
//
// How the backend composes the ops that are more than one launch:
//   - AddBiasBackward: colsum_partial → colsum_finish_f32 (dbias +=).
//   - RMSNormBackward: rmsnorm_backward (dx) and rmsnorm_dw_partial → colsum_finish_f32 (dw).
//     LayerNormBackward likewise with layernorm_dwdb_partial (twice finish for dw and db).
//   - CrossEntropy: ce_forward; the host sums loss [T] (F64) in token order and counts
//     targets ≠ −100. LMHeadLoss(Backward): per token block, cuBLAS logits = h_b·Wᵀ, then
//     ce_forward / ce_backward (in place) on the block, then cuBLAS dh_b = dlogits·W and
//     dW += dlogitsᵀ·h_b.
//   - Embedding: gather_rows on the table; EmbeddingBackward: scatter_add_rows with skip =
//     paddingIdx (−1: none).
//   - Router: cuBLAS logits = x·wGateᵀ, then moe_route_f32. RouterBackward:
//     moe_router_backward_f32 → dLogits, then cuBLAS for dx and dWGate.
//   - Permutation: moe_count → moe_offsets → moe_place (stable counting sort; int counts).
//   - AttentionBackward: attention_bwd_dsum → attention_bwd_dkv and attention_bwd_dq.
//     scale 0 in AttentionOpts is resolved to 1/sqrt(Dh) by the backend; cu is [nseg+1] on
//     the device (nil CuSeqlens → {0, T}); keyPad is bytes (0/1) or null.
//   - AdamW: adamw_f32 with AdamWScalars(...). ClipByGlobalNorm: sumsq_partial per tensor →
//     sum_f64 → host coefficient → scale_f32 in place.
//
// Math (prelude.h): exp, sigmoid, log, erf/Φ are polynomial algorithms on exactly rounded
// float operations (no .approx, no flush-to-zero; TestNoApproxOrFTZ), re-implemented in Go in
// math_test.go and checked against float64: exp ≤ 2 ulp (measured 0.98), sigmoid ≤ 3 ulp,
// log ≤ 2 ulp, erf/Φ ≤ 2^−22 absolute; bf16 conversion equals tensors.BF16FromF32. Rotary,
// AdamW, gather/scatter and gridsample follow the CPU code's rounding order and are meant to
// match the CPU backend bit for bit in F32; reductions (norm statistics, softmax sums, dot
// products) use a different but fixed summation order and agree to tolerance.
//
// Non-goals: tensor-core (mma) attention, Dh > 128 in attention, fp16 storage, kernels for
// GEMMs (cuBLAS does them).
package ptx
