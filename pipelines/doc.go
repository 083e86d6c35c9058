// Package pipelines will hold the YAML pipeline files users run and the engine around them:
// strict spec decoding with key=value overrides, the stage DAG, partitioning onto ranks,
// schedules as data with a simulator, the executor, transports and checkpoints.
//
// It is empty at this stage of the project: the foundation (tensors/, kernels/) comes first.
package pipelines
