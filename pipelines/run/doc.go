// Package run executes a pipeline schedule: one worker per rank follows its action list
// (pipelines/schedule), runs its model chunks' stages (F, B, W), moves activations and
// gradients through a transport (pipelines/transport), accumulates gradients over the
// micro-batches of a step and applies the optimizer (stages/optim) with the gradient norm
// all-reduced across ranks.
//
// # Chunks and wiring
//
// A Chunk is the part of the model one pipeline stage runs: stages in data-flow order (for
// example [glm4v.vision, glm4v.embed, glm4v.decoder 0–1]). Tensors are wired by port name:
// a stage's input is the latest output of that name from an earlier stage of the chunk, else
// the activation message received from the previous pipeline stage, else the micro-batch
// (input_ids, attention_mask, labels, pixel_values, image_grid_thw). The last stage's outputs
// are the chunk's outputs, sent to the next pipeline stage. A stage's first input port is its
// primary input: a stage whose primary input is absent is skipped for that micro-batch (the
// vision tower, first port pixel_values, on a text-only batch).
//
// Backward runs the chunk's stages in reverse: BackwardInput gets the gradients of its Grad
// outputs (from later stages of the chunk, from the next pipeline stage's gradient message, or
// 1 for the loss outputs of the last stage) and its input gradients feed the earlier stages;
// the gradients of the tensors that arrived by message go back to the previous pipeline stage.
// W calls BackwardWeight on every stage that ran.
//
// # A step
//
// Iteration: gradients are zeroed, the rank's actions run in order, and Step reduces
// [Σ g², Σ loss, Σ aux loss] across ranks in rank order (so every rank sees the same norm and
// takes the same decision: clip, or skip the update when the norm is NaN/Inf) and updates the
// rank's parameters. Any error or panic on a rank aborts the transport, so every other rank
// stops with an error naming the rank and the action where it started.
//
// Non-goals: building the chunks from a pipeline spec (pipelines/plan), data loading (the
// caller supplies micro-batches), data/tensor/expert parallelism.
package run
