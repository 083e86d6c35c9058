// Package gpuinfo discovers the machine's NVIDIA GPUs for `glmflow gpu` and the CUDA backend's
// messages: name, memory (total, free, used), utilisation and compute capability.
//
// Built with cgo (the `cgo` build tag, set by the go tool when CGO_ENABLED=1) it asks NVML
// through github.com/NVIDIA/go-nvml, calling nothing else after a failed nvml.Init (go-nvml
// aborts the process on a call after a failed Init). Without cgo, or when NVML is absent, it
// asks the CUDA driver API (cuDeviceGetName, cuDeviceTotalMem_v2, cuMemGetInfo_v2 under each
// device's primary context); utilisation is then unknown (-1).
//
// Non-goals: monitoring loops, MIG instance enumeration, processes.
package gpuinfo
