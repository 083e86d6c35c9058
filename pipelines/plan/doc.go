// Package plan turns a pipeline spec into what runs: the model resolved (a directory, or a
// hub id in the local HF cache, offline), its config.json read, the layout taken from the spec
// or balanced by the cost model, the schedule built (m = global batch / (micro batch × dp)),
// the DAG checked (pipelines/graph), and per rank the chunks of glm4v stages over the tensors
// of that rank only (BuildRank), or, without loading anything, a dry run of parameters, FLOPs
// and memory per rank (DryRun, Report.Write).
//
// # Cost model (units.go, flops.go, memory.go)
//
// A unit is one layout symbol: V the vision tower, E the embedding, t one decoder layer, L the
// final norm, lm_head and loss. For each unit and one micro-batch (Shape: B sequences of S
// tokens, T = B·S; by default one image per sequence at the tower's native size, and a target
// at every position but each sequence's last):
//   - Params, Tensors: exact, from the checkpoint's tensor list (glm4v.Params.Specs; routed
//     experts per expert), so the totals are the hub checkpoint's (GLM-4.5V: 107,710,933,120
//     in 18,106 tensors).
//   - Trainable: base weights not frozen (peft.freeze_*, with megatron-bridge.md 1.6's scope:
//     vision model = patch_embed + blocks, projection = merger; e_score_correction_bias is a
//     buffer) plus LoRA/DoRA adapters: r·(in+out) per targeted decoder linear (linear_qkv and
//     linear_fc1 are the fused q/k/v and gate+up; HF names put one adapter on each projection;
//     routed experts get one adapter per expert; DoRA adds a magnitude per output row). Under
//     LoRA/DoRA every base weight is frozen.
//   - FLOPs F, B, W (flops.go): matrix products only, 2 per multiply-add, forward / input
//     gradient / weight gradient. Formulas are on decoderLayerFLOPs, visionFLOPs, headFLOPs;
//     a test runs the tiny model's stages on a FLOP-counting backend and matches every unit's
//     F, B and W exactly (fp32 and bf16).
//   - Bytes per device (memory.go, Precision): weights at 4 B (fp32) or 2 B (bf16), fp32
//     gradients (4 B) and Adam moments (8 B) for trainable parameters plus an fp32 master copy
//     (4 B) with bf16 weights — Megatron-Bridge's bf16_mixed; routed experts and their adapters
//     are divided over parallel.ep devices. Activations kept from F to W per micro-batch,
//     tensor by tensor as the glm4v stages keep them (attention is flash-style: no S²), at the
//     precision's element size (statistics fp32), or only the stage inputs with recompute.
//
// Time for balancing and simulation is proportional to FLOPs (F + B + W per unit; per stage F,
// B, W as schedule costs); memory is weights + gradients + optimizer + activations. The dry
// run's activation peak per rank is the simulated schedule's peak number of (chunk,
// micro-batch) pairs in flight times the rank's largest chunk (exact with one chunk).
//
// Non-goals: executing (pipelines/run), data loading, the PEFT adapter stages themselves
// (BuildRank refuses a lora/dora spec until they exist), data/expert-parallel communication
// costs, and the CPU stages' own memory layout (they keep fp32 master weights and fp32
// activations in both precisions; the memory model describes a bf16_mixed GPU run).
package plan
