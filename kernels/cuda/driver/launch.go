package driver

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z uint32 }

// Grid1D returns the 1-D grid of blocks of size block covering n items.
func Grid1D(n, block int) Dim3 {
	if n <= 0 {
		return Dim3{1, 1, 1}
	}
	return Dim3{uint32((n + block - 1) / block), 1, 1}
}

// Args are a kernel's parameters in declaration order. Every value takes one 8-byte slot;
// Launch passes cuLaunchKernel an array of pointers to the slots.
type Args struct {
	slots []uint64
}

// Ptr appends a device pointer.
func (a *Args) Ptr(p DevicePtr) *Args { a.slots = append(a.slots, uint64(p)); return a }

// I32 appends an int.
func (a *Args) I32(v int32) *Args { a.slots = append(a.slots, uint64(uint32(v))); return a }

// U32 appends an unsigned int.
func (a *Args) U32(v uint32) *Args { a.slots = append(a.slots, uint64(v)); return a }

// I64 appends a long long.
func (a *Args) I64(v int64) *Args { a.slots = append(a.slots, uint64(v)); return a }

// F32 appends a float.
func (a *Args) F32(v float32) *Args { a.slots = append(a.slots, uint64(math.Float32bits(v))); return a }

// F64 appends a double.
func (a *Args) F64(v float64) *Args { a.slots = append(a.slots, math.Float64bits(v)); return a }

// Len is the number of parameters.
func (a *Args) Len() int { return len(a.slots) }

// Slot returns parameter i's 8 raw bytes as a uint64 (tests).
func (a *Args) Slot(i int) uint64 { return a.slots[i] }

// pointers builds the kernelParams array over the slots. The slots must not be appended to
// while the array is in use.
func (a *Args) pointers() []uintptr {
	p := make([]uintptr, len(a.slots))
	for i := range a.slots {
		p[i] = uintptr(unsafe.Pointer(&a.slots[i]))
	}
	return p
}

// Limits checked before a launch (the hardware limits of every GPU since sm_30).
const (
	MaxThreadsPerBlock = 1024
	MaxGridX           = 1<<31 - 1
	MaxGridYZ          = 65535
)

// CheckLaunch validates launch dimensions before they reach the driver.
func CheckLaunch(grid, block Dim3) error {
	switch {
	case grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0:
		return fmt.Errorf("launch: zero dimension in grid %v block %v", grid, block)
	case uint64(block.X)*uint64(block.Y)*uint64(block.Z) > MaxThreadsPerBlock:
		return fmt.Errorf("launch: block %v has more than %d threads", block, MaxThreadsPerBlock)
	case grid.X > MaxGridX || grid.Y > MaxGridYZ || grid.Z > MaxGridYZ:
		return fmt.Errorf("launch: grid %v beyond (%d, %d, %d)", grid, MaxGridX, MaxGridYZ, MaxGridYZ)
	}
	return nil
}

// Launch runs f on s with the given dimensions, dynamic shared memory and arguments.
func (d *Driver) Launch(f Function, grid, block Dim3, shmem uint32, s Stream, args *Args) error {
	if err := CheckLaunch(grid, block); err != nil {
		return err
	}
	var params unsafe.Pointer
	var ptrs []uintptr
	if args != nil && len(args.slots) > 0 {
		ptrs = args.pointers()
		params = unsafe.Pointer(&ptrs[0])
	}
	r := d.cuLaunchKernel(f, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shmem, s, params, nil)
	runtime.KeepAlive(ptrs)
	runtime.KeepAlive(args)
	return d.check("cuLaunchKernel", r)
}
