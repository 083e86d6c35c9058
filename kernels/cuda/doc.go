// Package cuda is glmflow's CUDA Backend (kernels.Backend on "cuda:N"), reached entirely
// through purego: the driver API (kernels/cuda/driver) for memory, streams and kernel launch,
// cuBLAS (kernels/cuda/cublas) for Matmul, the expert GEMMs and the GEMMs inside the router
// and LM-head loss, and the PTX kernels of kernels/cuda/ptx (compiled here from .cu sources by
// clang-19, embedded, loaded with cuModuleLoadData) for everything else.
//
// Semantics are the CPU backend's, op for op (kernels/backend.go): F32 storage everywhere,
// BF16 operands in Matmul and Cast, fp32 accumulation, input gradients overwritten and weight
// gradients accumulated, deterministic reductions (no floating-point atomics: a sum over rows
// is one thread per output element looping in a fixed order). Host-side scalars that the CPU
// backend returns (cross-entropy sums, global norms) are reduced on the device into fixed
// per-block partials and summed on the host in float64, in order.
//
// Execution model: one primary context and one stream per Backend. Every op locks the backend,
// pins its goroutine to an OS thread, makes the context current and queues work on the stream;
// it returns before the GPU finishes. Errors of queued kernels surface at the next
// synchronising call (Download, Sync, or an op that reads a result back). Device memory is
// freed by Storage.Release or, for tensors nobody releases, by a runtime cleanup when the
// tensor's storage becomes unreachable.
//
// Launches: kernels/cuda/ptx's table (ptx.Kernels) is the contract — entry names, parameter
// types, block and grid kind. Every launch builds its arguments with kinds (pointer, int32,
// int64, float32) that are checked against the table before cuLaunchKernel, and the grid comes
// from the table's grid kind and the op's sizes (kernels.go). One file per op family. Select picks "cpu", "cuda" or "auto" (CUDA when a device
// works, else CPU with a message).
//
// Non-goals: multi-GPU (pipelines/ places stages on devices), CUDA graphs, bf16 storage of
// activations (the CPU backend's semantics come first; see the issue).
//
// Shape vocabulary: T tokens, D hidden, H heads, K kv heads, Dh head dim, E experts, k top-k,
// F expert width, V vocab, R rotary dims.
package cuda
