// Package driver binds the CUDA driver API (libcuda.so.1) through purego: initialisation,
// devices, the primary context, memory (device, pinned host, sync and async copies, memset),
// streams, events, modules loaded from PTX, and kernel launch. No cgo and no cuda.h: the
// symbols are looked up at run time, versioned names bound explicitly (cuMemAlloc_v2,
// cuCtxPushCurrent_v2, ...), so the same static binary runs where no driver exists and gets
// an error, never a panic, from Load.
//
// Every CUresult other than CUDA_SUCCESS becomes an *Error naming the call and the CUDA
// error name (cuGetErrorName), e.g. "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (2): out of
// memory".
//
// Kernel arguments (Args) follow cuLaunchKernel's kernelParams convention: an array of
// pointers, one per kernel parameter, each pointing at the parameter's value. Args keeps every
// value in its own 8-byte slot of one Go-allocated block (device pointers and 64-bit scalars
// fill the slot; 32-bit scalars sit in its low 4 bytes, which on little-endian amd64 is where
// the driver reads a 4-byte parameter).
//
// Non-goals: the runtime API (libcudart), graphs, multi-GPU peer access, NVRTC.
package driver
