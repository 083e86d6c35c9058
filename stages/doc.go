// Package stages will hold the Stage abstraction (Forward, BackwardInput, BackwardWeight, typed
// ports) and GLM-4.5V built from stages: config, vision tower, merger, embed + MRoPE positions,
// decoder layers (attention, dense MLP, MoE), head + loss, PEFT wrappers and the optimizer.
// Model code calls kernels through kernels.Backend and is single-device.
//
// It is empty at this stage of the project: the foundation (tensors/, kernels/) comes first.
package stages
