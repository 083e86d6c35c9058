package driver

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
)

// Handle types: opaque driver handles and device addresses.
type (
	Device    int32   // CUdevice
	Context   uintptr // CUcontext
	DevicePtr uint64  // CUdeviceptr
	Stream    uintptr // CUstream (0: the legacy default stream)
	Event     uintptr // CUevent
	Module    uintptr // CUmodule
	Function  uintptr // CUfunction
)

// Driver is a bound libcuda. Its methods are safe for concurrent use as far as the driver
// API itself is.
type Driver struct {
	Lib *dl.Lib

	cuGetErrorName         func(r int32, s **byte) int32
	cuGetErrorString       func(r int32, s **byte) int32
	cuInit                 func(flags uint32) int32
	cuDriverGetVersion     func(v *int32) int32
	cuDeviceGetCount       func(n *int32) int32
	cuDeviceGet            func(d *Device, ordinal int32) int32
	cuDeviceGetName        func(name *byte, n int32, d Device) int32
	cuDeviceGetAttribute   func(v *int32, attr int32, d Device) int32
	cuDeviceTotalMem       func(b *uint64, d Device) int32
	cuDevicePrimaryRetain  func(c *Context, d Device) int32
	cuDevicePrimaryRelease func(d Device) int32
	cuCtxPushCurrent       func(c Context) int32
	cuCtxPopCurrent        func(c *Context) int32
	cuCtxSetCurrent        func(c Context) int32
	cuCtxSynchronize       func() int32
	cuMemGetInfo           func(free, total *uint64) int32
	cuMemAlloc             func(p *DevicePtr, n uint64) int32
	cuMemFree              func(p DevicePtr) int32
	cuMemcpyHtoD           func(dst DevicePtr, src unsafe.Pointer, n uint64) int32
	cuMemcpyDtoH           func(dst unsafe.Pointer, src DevicePtr, n uint64) int32
	cuMemcpyDtoD           func(dst, src DevicePtr, n uint64) int32
	cuMemcpyHtoDAsync      func(dst DevicePtr, src unsafe.Pointer, n uint64, s Stream) int32
	cuMemcpyDtoHAsync      func(dst unsafe.Pointer, src DevicePtr, n uint64, s Stream) int32
	cuMemcpyDtoDAsync      func(dst, src DevicePtr, n uint64, s Stream) int32
	cuMemsetD8             func(p DevicePtr, v uint8, n uint64) int32
	cuMemsetD32            func(p DevicePtr, v uint32, n uint64) int32
	cuMemsetD8Async        func(p DevicePtr, v uint8, n uint64, s Stream) int32
	cuMemsetD32Async       func(p DevicePtr, v uint32, n uint64, s Stream) int32
	cuMemHostAlloc         func(p *unsafe.Pointer, n uint64, flags uint32) int32
	cuMemFreeHost          func(p unsafe.Pointer) int32
	cuStreamCreate         func(s *Stream, flags uint32) int32
	cuStreamDestroy        func(s Stream) int32
	cuStreamSynchronize    func(s Stream) int32
	cuEventCreate          func(e *Event, flags uint32) int32
	cuEventRecord          func(e Event, s Stream) int32
	cuEventSynchronize     func(e Event) int32
	cuEventElapsedTime     func(ms *float32, start, end Event) int32
	cuEventDestroy         func(e Event) int32
	cuModuleLoadData       func(m *Module, image unsafe.Pointer) int32
	cuModuleUnload         func(m Module) int32
	cuModuleGetFunction    func(f *Function, m Module, name *byte) int32
	cuLaunchKernel         func(f Function, gx, gy, gz, bx, by, bz, shmem uint32, s Stream, params, extra unsafe.Pointer) int32
}

// LibNames are the file names libcuda is looked for under.
var LibNames = []string{"libcuda.so.1", "libcuda.so"}

var (
	defaultOnce sync.Once
	defaultDrv  *Driver
	defaultErr  error
)

// Load binds libcuda from the default search (dl.Default), once per process; later calls
// return the same driver or error. The library is not initialised: call Init.
func Load() (*Driver, error) {
	defaultOnce.Do(func() { defaultDrv, defaultErr = LoadFrom(dl.Default()) })
	return defaultDrv, defaultErr
}

// LoadFrom binds libcuda found along s.
func LoadFrom(s dl.Search) (*Driver, error) {
	lib, err := dl.OpenExact(s, "", LibNames...)
	if err != nil {
		return nil, fmt.Errorf("%w: no NVIDIA driver; using the CPU backend", err)
	}
	return bind(lib)
}

func bind(lib *dl.Lib) (*Driver, error) {
	d := &Driver{Lib: lib}
	b := dl.Binder{Lib: lib}
	b.Bind(&d.cuGetErrorName, "cuGetErrorName")
	b.Bind(&d.cuGetErrorString, "cuGetErrorString")
	b.Bind(&d.cuInit, "cuInit")
	b.Bind(&d.cuDriverGetVersion, "cuDriverGetVersion")
	b.Bind(&d.cuDeviceGetCount, "cuDeviceGetCount")
	b.Bind(&d.cuDeviceGet, "cuDeviceGet")
	b.Bind(&d.cuDeviceGetName, "cuDeviceGetName")
	b.Bind(&d.cuDeviceGetAttribute, "cuDeviceGetAttribute")
	b.Bind(&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2")
	b.Bind(&d.cuDevicePrimaryRetain, "cuDevicePrimaryCtxRetain")
	b.Bind(&d.cuDevicePrimaryRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease")
	b.Bind(&d.cuCtxPushCurrent, "cuCtxPushCurrent_v2")
	b.Bind(&d.cuCtxPopCurrent, "cuCtxPopCurrent_v2")
	b.Bind(&d.cuCtxSetCurrent, "cuCtxSetCurrent")
	b.Bind(&d.cuCtxSynchronize, "cuCtxSynchronize")
	b.Bind(&d.cuMemGetInfo, "cuMemGetInfo_v2")
	b.Bind(&d.cuMemAlloc, "cuMemAlloc_v2")
	b.Bind(&d.cuMemFree, "cuMemFree_v2")
	b.Bind(&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2")
	b.Bind(&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2")
	b.Bind(&d.cuMemcpyDtoD, "cuMemcpyDtoD_v2")
	b.Bind(&d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")
	b.Bind(&d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
	b.Bind(&d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")
	b.Bind(&d.cuMemsetD8, "cuMemsetD8_v2")
	b.Bind(&d.cuMemsetD32, "cuMemsetD32_v2")
	b.Bind(&d.cuMemsetD8Async, "cuMemsetD8Async")
	b.Bind(&d.cuMemsetD32Async, "cuMemsetD32Async")
	b.Bind(&d.cuMemHostAlloc, "cuMemHostAlloc")
	b.Bind(&d.cuMemFreeHost, "cuMemFreeHost")
	b.Bind(&d.cuStreamCreate, "cuStreamCreate")
	b.Bind(&d.cuStreamDestroy, "cuStreamDestroy_v2")
	b.Bind(&d.cuStreamSynchronize, "cuStreamSynchronize")
	b.Bind(&d.cuEventCreate, "cuEventCreate")
	b.Bind(&d.cuEventRecord, "cuEventRecord")
	b.Bind(&d.cuEventSynchronize, "cuEventSynchronize")
	b.Bind(&d.cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime")
	b.Bind(&d.cuEventDestroy, "cuEventDestroy_v2")
	b.Bind(&d.cuModuleLoadData, "cuModuleLoadData")
	b.Bind(&d.cuModuleUnload, "cuModuleUnload")
	b.Bind(&d.cuModuleGetFunction, "cuModuleGetFunction")
	b.Bind(&d.cuLaunchKernel, "cuLaunchKernel")
	if b.Err != nil {
		return nil, fmt.Errorf("libcuda: %w (driver too old?); using the CPU backend", b.Err)
	}
	return d, nil
}

// cString copies a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
