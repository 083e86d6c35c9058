// Package train is `glmflow run`: it drives a pipeline spec to completion — data loader,
// per-rank stages and optimizer, schedule, executor (pipelines/run), transport
// (pipelines/transport), metrics, progress, trace and checkpoints.
//
// Two process layouts: every rank as a goroutine of this process (transport inproc), or one
// process per rank (transport tcp; Options.Rank/World/Master), started by hand or by
// pipelines/launch. Each rank reads the data itself: the loader is deterministic, so all
// ranks see the same micro-batches.
//
// Per step, rank 0 (of the process holding it) reports: loss (the global batch's mean
// cross-entropy, losses normalised by the global count of loss tokens), MoE aux loss, learning
// rate, global gradient norm, whether it clipped or skipped (non-finite gradients: no rank
// updates, the ranks and their stages are named), tokens and tokens/s, step time and ETA — as
// JSON lines (Logging.MetricsJSONL), as log lines, and as a progress line on a terminal.
//
// The trace (Logging.Trace) is Chrome/Perfetto JSON of every executed action, one track per
// rank. At the end the measured bubble (idle share of the ranks' time inside each step, the
// first step excluded as warm-up) is printed beside the simulator's bubble for the measured
// mean F, B, W times per stage.
//
// Checkpoints (Checkpoint.Dir, SaveEvery) use pipelines/checkpoint: per rank the trainable
// parameters, the optimizer moments and step, and the data-loader cursor after the step.
//
// Rows are padded per micro-batch to a multiple of 128 (or packed); ranks exchange tensors
// with their shapes, so a pipeline needs no fixed sequence length.
package train
