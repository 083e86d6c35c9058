// Package moe holds the CPU kernels of a GLM-4.5 / DeepSeek-V3 style mixture-of-experts block:
// the sigmoid router with a selection bias and group-limited top-k, the two auxiliary
// load-balancing losses (Megatron's seq_aux_loss and HF's Switch-style loss), the token
// permutation by expert, and the grouped GEMM that runs every expert's linear layer on its
// contiguous block of permuted rows. Each op has a forward and a backward in the same file and
// a plain float64 reference in ref.go.
//
// A full routed-expert MLP is composed by the caller (kernels/cpu, stages/glm4v):
//
//	RouterForward(x)                 → logits, scores [T,E], topIdx [T,k], topW [T,k]
//	BuildPermutation(topIdx)         → offs [E+1], rowSrc [T·k], pos [T·k]
//	Permute(x)                       → xp [T·k,D]
//	GroupedLinear(xp, gate_up)       → h [T·k,2F]; SwiGLU (kernels/elementwise) → a [T·k,F]
//	GroupedLinear(a, down)           → yp [T·k,D]
//	Unpermute(yp, topW)              → out [T,D]   (the shared expert is added by the caller)
//
// and the backward runs the same chain in reverse (UnpermuteBackward gives dTopW, which
// RouterBackward turns into dx and dW_gate; PermuteBackward gives the expert path's dx; the
// caller adds the two dx). Input-gradient outputs are overwritten, weight gradients (dW_gate,
// grouped dW) are accumulated, so micro-batch gradient accumulation needs no extra pass. The
// B/W split of zero-bubble schedules is available: RouterBackwardInput/RouterBackwardWeight and
// GroupedLinearBackwardInput/GroupedLinearBackwardWeight are separate calls.
//
// Routing semantics (HF Glm4MoeMoE.route_tokens_to_experts, GLM-4.5V values in brackets):
//
//	logits = x·W_gateᵀ (fp32)           scores = sigmoid(logits)
//	sel    = scores + e_score_correction_bias
//	groups: sel viewed as [n_group, E/n_group]; group score = sum of its top-2 sel; keep the
//	        topk_group best groups, the others' experts get sel = −Inf         [n_group = 1: no-op]
//	topIdx = top-k of sel                                                     [k = 8 of E = 128]
//	topW   = scores[topIdx] / (Σ scores[topIdx] + 1e-20) (norm_topk_prob)     [true]
//	         · routed_scaling_factor                                          [1.0]
//
// Masked groups: −Inf is what glm45v.md reports for current HF; the HF Glm4MoeMoE source read
// for this package (transformers commit 000c33f) fills 0.0 instead, which RouterConfig.
// GroupMaskZero selects. They differ only when a kept expert's sel is negative or k exceeds the
// kept experts; with n_group = 1 (GLM-4.5V) neither applies.
//
// The bias only chooses; the weights come from the un-biased scores, and the bias gets no
// gradient (selection is piecewise constant).
//
// Ties. torch.topk does not specify which of several equal values it returns (its CPU kernel
// uses partial_sort/nth_element; pytorch/pytorch#88184 shows topk([-1,-1,-1,-1], 1) → index 2;
// the opt-in stable tie handling of pytorch#187116 picks the lower index). Here every top-k
// (experts, groups, the aux-loss routing maps) orders by value descending and, among equal
// values, by lower index first; NaN ranks above every number, as in torch. topIdx[t] is listed
// in that order.
//
// Determinism. This package's loops cut work into tiles whose boundaries depend only on the
// shapes; each output element is written by one tile with a fixed reduction order. The
// scatter-adds (PermuteBackward, Unpermute) are per-token gathers over j = 0..k−1. kernels/gemm
// blocks its reductions by k alone. So results are bitwise identical for any thread count
// (parallel.SetMaxWorkers here, gemm.SetThreads there); they may differ in the last bits between the
// AVX-512, AVX2 and pure-Go paths of kernels/gemm and kernels/vec.
//
// Compute: the router GEMMs call gemm.Sgemm; the experts call gemm.GroupedSgemm (forward,
// input gradient) and gemm.GroupedSgemmTN (weight gradient), which put every expert's tiles
// into one task list, so a single hot expert still spreads over all threads and empty experts
// cost nothing. All of them run the AVX-512/AVX2 assembly of kernels/gemm chosen at start-up,
// with its pure-Go fallback elsewhere; tests force each path with gemm.ForcePath. Row copies and
// combinations use kernels/vec (Axpy, Dot, Scale, Sigmoid).
//
// Non-goals: token dropping / capacity factors (GLM-4.5V has none), expert parallelism and the
// all-to-all dispatch (pipelines/), the shared expert and the SwiGLU itself (plain dense ops),
// bf16 storage.
//
// Shape vocabulary: T tokens (B·S, batch-major), D hidden, E routed experts, k experts per
// token, F expert intermediate width, R = T·k permuted rows, B sequences of S tokens (aux loss).
package moe
