package driver

import (
	"fmt"
	"unsafe"
)

// Attribute is a CUdevice_attribute.
type Attribute int32

// Device attributes used by glmflow (values from cuda.h).
const (
	AttrMaxThreadsPerBlock     Attribute = 1
	AttrMaxSharedPerBlock      Attribute = 8
	AttrClockRate              Attribute = 13 // kHz
	AttrMultiprocessorCount    Attribute = 16
	AttrMemoryClockRate        Attribute = 36 // kHz
	AttrGlobalMemoryBusWidth   Attribute = 37 // bits
	AttrL2CacheSize            Attribute = 38 // bytes
	AttrComputeCapabilityMajor Attribute = 75
	AttrComputeCapabilityMinor Attribute = 76
	AttrMaxSharedPerBlockOptin Attribute = 97
)

// Flags.
const (
	HostAllocPortable  uint32 = 0x01 // CU_MEMHOSTALLOC_PORTABLE
	StreamNonBlocking  uint32 = 0x01 // CU_STREAM_NON_BLOCKING
	EventDefault       uint32 = 0x00
	EventDisableTiming uint32 = 0x02
)

// Init initialises the driver (cuInit(0)).
func (d *Driver) Init() error { return d.check("cuInit", d.cuInit(0)) }

// Version is cuDriverGetVersion: 1000·major + 10·minor (13000 for CUDA 13.0).
func (d *Driver) Version() (int, error) {
	var v int32
	err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v))
	return int(v), err
}

// DeviceCount is the number of CUDA devices.
func (d *Driver) DeviceCount() (int, error) {
	var n int32
	err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n))
	return int(n), err
}

// DeviceGet returns the device of an ordinal.
func (d *Driver) DeviceGet(ordinal int) (Device, error) {
	var dev Device
	err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, int32(ordinal)))
	return dev, err
}

// DeviceName is the device's marketing name.
func (d *Driver) DeviceName(dev Device) (string, error) {
	buf := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&buf[0], int32(len(buf)), dev)); err != nil {
		return "", err
	}
	buf[len(buf)-1] = 0
	return cString(&buf[0]), nil
}

// DeviceAttribute reads one attribute.
func (d *Driver) DeviceAttribute(dev Device, a Attribute) (int, error) {
	var v int32
	err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, int32(a), dev))
	return int(v), err
}

// DeviceTotalMem is the device's memory in bytes.
func (d *Driver) DeviceTotalMem(dev Device) (uint64, error) {
	var b uint64
	err := d.check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&b, dev))
	return b, err
}

// PrimaryCtxRetain retains the device's primary context (release with PrimaryCtxRelease).
func (d *Driver) PrimaryCtxRetain(dev Device) (Context, error) {
	var c Context
	err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryRetain(&c, dev))
	return c, err
}

// PrimaryCtxRelease releases one retain of the primary context.
func (d *Driver) PrimaryCtxRelease(dev Device) error {
	return d.check("cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryRelease(dev))
}

// CtxPush makes c current on this OS thread, above the current one.
func (d *Driver) CtxPush(c Context) error {
	return d.check("cuCtxPushCurrent_v2", d.cuCtxPushCurrent(c))
}

// CtxPop pops the current context of this OS thread.
func (d *Driver) CtxPop() (Context, error) {
	var c Context
	err := d.check("cuCtxPopCurrent_v2", d.cuCtxPopCurrent(&c))
	return c, err
}

// CtxSetCurrent binds c to this OS thread.
func (d *Driver) CtxSetCurrent(c Context) error {
	return d.check("cuCtxSetCurrent", d.cuCtxSetCurrent(c))
}

// CtxSynchronize waits for all work of the current context.
func (d *Driver) CtxSynchronize() error { return d.check("cuCtxSynchronize", d.cuCtxSynchronize()) }

// MemGetInfo returns free and total bytes of the current context's device.
func (d *Driver) MemGetInfo() (free, total uint64, err error) {
	err = d.check("cuMemGetInfo_v2", d.cuMemGetInfo(&free, &total))
	return
}

// MemAlloc allocates n bytes of device memory.
func (d *Driver) MemAlloc(n uint64) (DevicePtr, error) {
	var p DevicePtr
	if err := d.check("cuMemAlloc_v2", d.cuMemAlloc(&p, n)); err != nil {
		return 0, fmt.Errorf("%w (allocating %d bytes)", err, n)
	}
	return p, nil
}

// MemFree frees device memory.
func (d *Driver) MemFree(p DevicePtr) error { return d.check("cuMemFree_v2", d.cuMemFree(p)) }

// hostPtr is the address of b's first byte (nil for empty b).
func hostPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// MemcpyHtoD copies len(src) bytes to dst.
func (d *Driver) MemcpyHtoD(dst DevicePtr, src []byte) error {
	return d.check("cuMemcpyHtoD_v2", d.cuMemcpyHtoD(dst, hostPtr(src), uint64(len(src))))
}

// MemcpyDtoH copies len(dst) bytes from src.
func (d *Driver) MemcpyDtoH(dst []byte, src DevicePtr) error {
	return d.check("cuMemcpyDtoH_v2", d.cuMemcpyDtoH(hostPtr(dst), src, uint64(len(dst))))
}

// MemcpyDtoD copies n bytes between device buffers.
func (d *Driver) MemcpyDtoD(dst, src DevicePtr, n uint64) error {
	return d.check("cuMemcpyDtoD_v2", d.cuMemcpyDtoD(dst, src, n))
}

// MemcpyHtoDAsync queues a copy on s. src must stay valid (and should be pinned, see
// MemHostAlloc) until the stream reaches the copy.
func (d *Driver) MemcpyHtoDAsync(dst DevicePtr, src unsafe.Pointer, n uint64, s Stream) error {
	return d.check("cuMemcpyHtoDAsync_v2", d.cuMemcpyHtoDAsync(dst, src, n, s))
}

// MemcpyDtoHAsync queues a copy to host memory dst on s (same lifetime rule).
func (d *Driver) MemcpyDtoHAsync(dst unsafe.Pointer, src DevicePtr, n uint64, s Stream) error {
	return d.check("cuMemcpyDtoHAsync_v2", d.cuMemcpyDtoHAsync(dst, src, n, s))
}

// MemcpyDtoDAsync queues a device copy on s.
func (d *Driver) MemcpyDtoDAsync(dst, src DevicePtr, n uint64, s Stream) error {
	return d.check("cuMemcpyDtoDAsync_v2", d.cuMemcpyDtoDAsync(dst, src, n, s))
}

// MemsetD8 sets n bytes to v.
func (d *Driver) MemsetD8(p DevicePtr, v uint8, n uint64) error {
	return d.check("cuMemsetD8_v2", d.cuMemsetD8(p, v, n))
}

// MemsetD32 sets n 32-bit words to v (p 4-byte aligned).
func (d *Driver) MemsetD32(p DevicePtr, v uint32, n uint64) error {
	return d.check("cuMemsetD32_v2", d.cuMemsetD32(p, v, n))
}

// MemsetD8Async queues MemsetD8 on s.
func (d *Driver) MemsetD8Async(p DevicePtr, v uint8, n uint64, s Stream) error {
	return d.check("cuMemsetD8Async", d.cuMemsetD8Async(p, v, n, s))
}

// MemsetD32Async queues MemsetD32 on s.
func (d *Driver) MemsetD32Async(p DevicePtr, v uint32, n uint64, s Stream) error {
	return d.check("cuMemsetD32Async", d.cuMemsetD32Async(p, v, n, s))
}

// MemHostAlloc allocates n bytes of page-locked host memory, returned as a byte slice over
// C memory (free with MemFreeHost; never let the slice outlive it).
func (d *Driver) MemHostAlloc(n uint64, flags uint32) ([]byte, error) {
	var p unsafe.Pointer
	if err := d.check("cuMemHostAlloc", d.cuMemHostAlloc(&p, n, flags)); err != nil {
		return nil, fmt.Errorf("%w (allocating %d pinned bytes)", err, n)
	}
	if p == nil {
		return nil, fmt.Errorf("cuMemHostAlloc: returned NULL for %d bytes", n)
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// MemFreeHost frees memory from MemHostAlloc.
func (d *Driver) MemFreeHost(b []byte) error {
	return d.check("cuMemFreeHost", d.cuMemFreeHost(unsafe.Pointer(unsafe.SliceData(b))))
}

// StreamCreate creates a stream.
func (d *Driver) StreamCreate(flags uint32) (Stream, error) {
	var s Stream
	err := d.check("cuStreamCreate", d.cuStreamCreate(&s, flags))
	return s, err
}

// StreamDestroy destroys a stream.
func (d *Driver) StreamDestroy(s Stream) error {
	return d.check("cuStreamDestroy_v2", d.cuStreamDestroy(s))
}

// StreamSynchronize waits for s.
func (d *Driver) StreamSynchronize(s Stream) error {
	return d.check("cuStreamSynchronize", d.cuStreamSynchronize(s))
}

// EventCreate creates an event.
func (d *Driver) EventCreate(flags uint32) (Event, error) {
	var e Event
	err := d.check("cuEventCreate", d.cuEventCreate(&e, flags))
	return e, err
}

// EventRecord records e on s.
func (d *Driver) EventRecord(e Event, s Stream) error {
	return d.check("cuEventRecord", d.cuEventRecord(e, s))
}

// EventSynchronize waits for e.
func (d *Driver) EventSynchronize(e Event) error {
	return d.check("cuEventSynchronize", d.cuEventSynchronize(e))
}

// EventElapsed returns the milliseconds between two recorded events.
func (d *Driver) EventElapsed(start, end Event) (float32, error) {
	var ms float32
	err := d.check("cuEventElapsedTime", d.cuEventElapsedTime(&ms, start, end))
	return ms, err
}

// EventDestroy destroys an event.
func (d *Driver) EventDestroy(e Event) error {
	return d.check("cuEventDestroy_v2", d.cuEventDestroy(e))
}

// ModuleLoadData loads a module from a PTX text (a NUL terminator is added when missing)
// or a cubin image into the current context.
func (d *Driver) ModuleLoadData(image []byte) (Module, error) {
	if len(image) == 0 {
		return 0, fmt.Errorf("cuModuleLoadData: empty image")
	}
	buf := make([]byte, len(image)+1) // PTX must be NUL-terminated
	copy(buf, image)
	var m Module
	err := d.check("cuModuleLoadData", d.cuModuleLoadData(&m, unsafe.Pointer(&buf[0])))
	return m, err
}

// ModuleUnload unloads a module.
func (d *Driver) ModuleUnload(m Module) error {
	return d.check("cuModuleUnload", d.cuModuleUnload(m))
}

// ModuleFunction looks up a kernel by its entry name.
func (d *Driver) ModuleFunction(m Module, name string) (Function, error) {
	cname := append([]byte(name), 0)
	var f Function
	if err := d.check("cuModuleGetFunction", d.cuModuleGetFunction(&f, m, &cname[0])); err != nil {
		return 0, fmt.Errorf("%w (kernel %q)", err, name)
	}
	return f, nil
}
