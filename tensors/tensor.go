package tensors

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// Storage is the memory behind one or more tensors: host bytes on "cpu", an opaque device
// address on "cuda:N". Several tensors (views) may share one Storage.
type Storage struct {
	dev      Device
	host     []byte  // cpu only; len(host) == size
	ptr      uintptr // cuda only
	size     int64
	readOnly bool         // e.g. a read-only memory map
	release  func() error // frees the memory (munmap, cuMemFree); nil if the GC owns it
}

// HostStorage wraps host bytes. readOnly marks memory that must not be written (a read-only
// mmap); release, if non-nil, is called once by Release.
func HostStorage(b []byte, readOnly bool, release func() error) *Storage {
	return &Storage{dev: CPU, host: b, size: int64(len(b)), readOnly: readOnly, release: release}
}

// DeviceStorage wraps size bytes at device address ptr, owned by a backend.
func DeviceStorage(dev Device, ptr uintptr, size int64, release func() error) *Storage {
	return &Storage{dev: dev, ptr: ptr, size: size, release: release}
}

func (s *Storage) Device() Device { return s.dev }
func (s *Storage) Size() int64    { return s.size }
func (s *Storage) Ptr() uintptr   { return s.ptr }
func (s *Storage) ReadOnly() bool { return s.readOnly }

// Release frees the memory now (idempotent). Tensors over it must not be used afterwards.
func (s *Storage) Release() error {
	r := s.release
	s.release, s.host = nil, nil
	if r != nil {
		return r()
	}
	return nil
}

// Tensor is a dtype, a shape and a contiguous row-major block of a Storage.
type Tensor struct {
	dtype DType
	shape []int
	st    *Storage
	off   int64 // byte offset of element 0 in st
}

// ErrShape is wrapped by every shape error of this package.
var ErrShape = errors.New("shape error")

// NumelOf returns the element count of shape, or an error on a negative dimension or an
// overflow of int64 (shapes read from files go through here before anything is allocated).
func NumelOf(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrShape, shape)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("%w: %v overflows int64", ErrShape, shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// nbytesOf returns numel(shape) × dt.Size(), checked for overflow.
func nbytesOf(dt DType, shape []int) (int64, error) {
	n, err := NumelOf(shape)
	if err != nil {
		return 0, err
	}
	sz := int64(dt.Size())
	if sz == 0 {
		return 0, fmt.Errorf("invalid dtype %v", dt)
	}
	if n > math.MaxInt64/sz {
		return 0, fmt.Errorf("%w: %v%v: byte size overflows int64", ErrShape, dt, shape)
	}
	return n * sz, nil
}

// New allocates a zeroed CPU tensor. It panics on a negative or overflowing shape (a programmer
// error); shapes from files must be checked with NumelOf first.
func New(dt DType, shape ...int) *Tensor {
	nb, err := nbytesOf(dt, shape)
	if err != nil {
		panic(err)
	}
	// Back the bytes by []uint64 so every element type is aligned.
	words := make([]uint64, (nb+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), nb)
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), st: HostStorage(b, false, nil)}
}

// FromBytes wraps b (not copied) as a CPU tensor. len(b) must equal numel × dtype size.
func FromBytes(dt DType, shape []int, b []byte) (*Tensor, error) {
	nb, err := nbytesOf(dt, shape)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != nb {
		return nil, fmt.Errorf("%w: %v%v needs %d bytes, have %d", ErrShape, dt, shape, nb, len(b))
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), st: HostStorage(b, false, nil)}, nil
}

// FromStorage makes a tensor over st starting at byte offset off. The block must fit in st.
func FromStorage(dt DType, shape []int, st *Storage, off int64) (*Tensor, error) {
	nb, err := nbytesOf(dt, shape)
	if err != nil {
		return nil, err
	}
	if off < 0 || off > st.size || nb > st.size-off {
		return nil, fmt.Errorf("%w: %v%v at offset %d does not fit in %d bytes", ErrShape, dt, shape, off, st.size)
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), st: st, off: off}, nil
}

// FromF32 wraps data (not copied) as an F32 CPU tensor of the given shape.
func FromF32(data []float32, shape ...int) (*Tensor, error) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data))
	return FromBytes(F32, shape, b)
}

// MustF32 is FromF32 for literal construction in code and tests; it panics on a size mismatch.
func MustF32(data []float32, shape ...int) *Tensor {
	t, err := FromF32(data, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

func (t *Tensor) DType() DType { return t.dtype }
func (t *Tensor) Rank() int    { return len(t.shape) }
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// HasShape reports whether t's shape is exactly shape (without copying it as Shape does).
func (t *Tensor) HasShape(shape ...int) bool { return slices.Equal(t.shape, shape) }
func (t *Tensor) Device() Device             { return t.st.dev }
func (t *Tensor) Storage() *Storage          { return t.st }
func (t *Tensor) Offset() int64              { return t.off }
func (t *Tensor) NBytes() int64              { return int64(t.Numel()) * int64(t.dtype.Size()) }
func (t *Tensor) Dim(i int) int              { return t.shape[i] }
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// String is a summary such as "BF16[4096 1408] cpu".
func (t *Tensor) String() string {
	s := make([]string, len(t.shape))
	for i, d := range t.shape {
		s[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("%v[%s] %v", t.dtype, strings.Join(s, " "), t.st.dev)
}

// Bytes returns the tensor's host bytes (no copy). It is nil for device tensors.
func (t *Tensor) Bytes() []byte {
	if t.st.dev.CUDA || t.st.host == nil {
		return nil
	}
	return t.st.host[t.off : t.off+t.NBytes()]
}

func typed[E any](t *Tensor, want DType) []E {
	if t.dtype != want {
		panic(fmt.Sprintf("tensors: %v is not %v", t, want))
	}
	b := t.Bytes()
	if b == nil {
		if t.st.dev.CUDA {
			panic(fmt.Sprintf("tensors: %v is not in host memory", t))
		}
		return nil
	}
	if len(b) == 0 {
		return []E{}
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	var z E
	if uintptr(p)%unsafe.Alignof(z) != 0 {
		panic(fmt.Sprintf("tensors: %v is misaligned for %v (use Clone)", t, want))
	}
	return unsafe.Slice((*E)(p), len(b)/int(unsafe.Sizeof(z)))
}

// Typed host views (no copy). They panic if the dtype differs or the tensor is on a device:
// that is a programmer error, like an out-of-range index.
func (t *Tensor) F32() []float32     { return typed[float32](t, F32) }
func (t *Tensor) F64() []float64     { return typed[float64](t, F64) }
func (t *Tensor) BF16() []uint16     { return typed[uint16](t, BF16) }
func (t *Tensor) F16() []uint16      { return typed[uint16](t, F16) }
func (t *Tensor) I32() []int32       { return typed[int32](t, I32) }
func (t *Tensor) I64() []int64       { return typed[int64](t, I64) }
func (t *Tensor) U8() []uint8        { return typed[uint8](t, U8) }
func (t *Tensor) BoolBytes() []uint8 { return typed[uint8](t, Bool) }

// Reshape returns a view with a new shape of the same element count. One dimension may be -1.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("%w: reshape %v to %v", ErrShape, t.shape, shape)
		case d != 0 && known > math.MaxInt/d: // checked: a wrapped product could match n
			return nil, fmt.Errorf("%w: reshape %v to %v overflows", ErrShape, t.shape, shape)
		default:
			known *= d
		}
	}
	n := t.Numel()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("%w: reshape %v to %v", ErrShape, t.shape, shape)
		}
		shape[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("%w: reshape %v (%d elements) to %v", ErrShape, t.shape, n, shape)
	}
	return &Tensor{dtype: t.dtype, shape: shape, st: t.st, off: t.off}, nil
}

// IsContiguousSlice reports whether Slice(dim, ...) can return a view: every dimension before
// dim has size 1, so the selected elements form one block.
func (t *Tensor) IsContiguousSlice(dim int) bool {
	for _, d := range t.shape[:dim] {
		if d != 1 {
			return false
		}
	}
	return true
}

// Slice selects [start, end) along dim. It is a view when the block is contiguous (always for
// dim 0); otherwise a CPU copy is made (device tensors return an error then).
func (t *Tensor) Slice(dim, start, end int) (*Tensor, error) {
	if dim < 0 || dim >= len(t.shape) {
		return nil, fmt.Errorf("%w: slice dim %d of %v", ErrShape, dim, t.shape)
	}
	if start < 0 || end < start || end > t.shape[dim] {
		return nil, fmt.Errorf("%w: slice [%d:%d] of dim %d (size %d)", ErrShape, start, end, dim, t.shape[dim])
	}
	shape := t.Shape()
	shape[dim] = end - start
	inner := int64(t.dtype.Size())
	for _, d := range t.shape[dim+1:] {
		inner *= int64(d)
	}
	if t.IsContiguousSlice(dim) {
		return &Tensor{dtype: t.dtype, shape: shape, st: t.st, off: t.off + int64(start)*inner}, nil
	}
	if t.st.dev.CUDA {
		return nil, fmt.Errorf("%w: slice of dim %d of %v needs a copy; do it on the device", ErrShape, dim, t)
	}
	out := New(t.dtype, shape...)
	src, dst := t.Bytes(), out.Bytes()
	outer := 1
	for _, d := range t.shape[:dim] {
		outer *= d
	}
	row := int64(t.shape[dim]) * inner
	blk := int64(end-start) * inner
	for o := 0; o < outer; o++ {
		copy(dst[int64(o)*blk:int64(o+1)*blk], src[int64(o)*row+int64(start)*inner:])
	}
	return out, nil
}

// Clone returns a CPU copy with its own (writable, aligned) storage.
func (t *Tensor) Clone() *Tensor {
	out := New(t.dtype, t.shape...)
	copy(out.Bytes(), t.Bytes())
	return out
}

// SameShape reports whether a and b have equal shapes.
func SameShape(a, b *Tensor) bool {
	if len(a.shape) != len(b.shape) {
		return false
	}
	for i := range a.shape {
		if a.shape[i] != b.shape[i] {
			return false
		}
	}
	return true
}
