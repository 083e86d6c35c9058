// Package nccl binds the NCCL calls glmflow's GPU transport needs through purego: version,
// unique id, communicator from a unique id, send/recv, all-reduce and group calls.
//
// The library is the highest-versioned libnccl.so.* (normally libnccl.so.2) along the search of
// kernels/cuda/internal/dl, including the nvidia/nccl/lib folder of the Python wheel.
//
// ncclCommInitRank takes the 128-byte ncclUniqueId by value. UniqueID mirrors it as a Go
// struct of one [128]byte array, which purego passes by value under the System V amd64 ABI
// (an aggregate over 16 bytes goes on the stack, copied, in memory order); the test checks
// every byte arrives.
//
// Non-goals: the transport itself (pipelines/transport), communicator splitting, user buffers
// registration.
package nccl
