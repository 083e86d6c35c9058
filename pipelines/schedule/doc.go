// Package schedule holds pipeline-parallel micro-batch schedules as data, a simulator that
// checks them and measures their bubble, and a text rendering of the rank × time grid.
//
// # Data layout
//
// A pipeline of P ranks with V virtual stages (model chunks) per rank has S = P·V stages. Stage
// s runs on rank s mod P as local chunk s / P (Megatron-Core's interleaved placement; with
// V = 1, stage s is rank s). M micro-batches flow through every stage. A Schedule holds one
// action list per rank ([P][]Action); the executor follows each list in order and the simulator
// replays them all.
//
// Action kinds: F (forward), B (backward for the input gradient), W (backward for the weight
// gradient), SendF/RecvF (activations, stage s → s+1), SendB/RecvB (gradients, stage s → s−1)
// and Step (the optimizer step, one per rank, last). Every (stage, micro-batch) gets exactly one
// F, one B and one W in every schedule. Schedules without a B/W split (GPipe, 1F1B, interleaved
// 1F1B) emit B immediately followed by W and only then SendB, so the upstream rank sees exactly
// the timing of a fused backward; ZB-H1 sends the gradient right after B and delays W.
//
// Generators insert RecvF immediately before the F that consumes it, SendF immediately after the
// F that produces it, RecvB immediately before B and SendB after B (or after W, see above).
//
// # Communication semantics (what the transports must provide)
//
// Sends are buffered: they never block and take no time on the sender; the payload becomes
// available to the receiver Costs.Comm after the send. Receives block until their payload has
// arrived. Each ordered rank pair has two FIFO channels, one for activations and one for
// gradients; a receive must match the oldest undelivered message on its channel (same stage
// and micro-batch), otherwise the schedule is rejected as out of order. Step is a barrier across
// all ranks (the global grad-norm all-reduce) lasting Costs.Step.
//
// # Bubble
//
// The simulator's Bubble is the idle share of the P × makespan rank-time rectangle:
// Σ_r (makespan − busy_r) / (P · makespan), where busy_r sums the rank's F, B, W and Step
// durations. This is the share quoted in docs/performance.md: (p−1)/(m+p−1) for GPipe and 1F1B
// with equal costs. Narayanan et al.'s "bubble time fraction" (idle over ideal compute, (p−1)/m)
// is Result.IdleOverBusy.
//
// Non-goals: executing stages or moving tensors (pipelines/run and the transports do that),
// choosing the partition (pipelines/layout), schedules beyond the four registered ones.
package schedule
