// Package cpu is glmflow's CPU Backend: it checks the dtypes, devices and shapes of the
// tensors it is given, then runs the kernel packages of kernels/ (Go + Go assembly with runtime
// CPU-feature dispatch) on their host memory. It holds no state; New returns a ready backend.
package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// Backend is the CPU backend. The zero value is ready to use.
type Backend struct{}

// New returns the CPU backend.
func New() *Backend { return &Backend{} }

var _ kernels.Backend = (*Backend)(nil)

func (*Backend) Name() string           { return "cpu" }
func (*Backend) Device() tensors.Device { return tensors.CPU }

func (*Backend) Alloc(dt tensors.DType, shape ...int) (*tensors.Tensor, error) {
	if _, err := tensors.NumelOf(shape); err != nil {
		return nil, fmt.Errorf("cpu.Alloc: %w", err)
	}
	if dt.Size() == 0 {
		return nil, fmt.Errorf("cpu.Alloc: invalid dtype %v", dt)
	}
	return tensors.New(dt, shape...), nil
}

func (*Backend) Upload(host *tensors.Tensor) (*tensors.Tensor, error) {
	if err := onCPU("Upload", "host", host); err != nil {
		return nil, err
	}
	return host.Clone(), nil
}

func (*Backend) Download(t *tensors.Tensor) (*tensors.Tensor, error) {
	if err := onCPU("Download", "t", t); err != nil {
		return nil, err
	}
	return t.Clone(), nil
}

func (*Backend) Copy(dst, src *tensors.Tensor) error {
	if err := onCPU("Copy", "dst", dst, "src", src); err != nil {
		return err
	}
	if dst.DType() != src.DType() || dst.Numel() != src.Numel() {
		return fmt.Errorf("cpu.Copy: dst %v, src %v: dtype and element count must match", dst, src)
	}
	if dst.Storage().ReadOnly() {
		return fmt.Errorf("cpu.Copy: dst %v is read-only", dst)
	}
	copy(dst.Bytes(), src.Bytes())
	return nil
}

func (*Backend) Zero(t *tensors.Tensor) error {
	if err := onCPU("Zero", "t", t); err != nil {
		return err
	}
	clear(t.Bytes())
	return nil
}

func (*Backend) Cast(dst, src *tensors.Tensor) error {
	if err := onCPU("Cast", "dst", dst, "src", src); err != nil {
		return err
	}
	if dst.Numel() != src.Numel() {
		return fmt.Errorf("cpu.Cast: dst %v and src %v differ in element count", dst, src)
	}
	switch sd, dd := src.DType(), dst.DType(); {
	case sd == dd:
		copy(dst.Bytes(), src.Bytes())
	case sd == tensors.F32 && dd == tensors.BF16:
		tensors.F32ToBF16(dst.BF16(), src.F32())
	case sd == tensors.BF16 && dd == tensors.F32:
		tensors.BF16ToF32(dst.F32(), src.BF16())
	default:
		return fmt.Errorf("cpu.Cast: %v → %v: %w", sd, dd, kernels.ErrUnsupported)
	}
	return nil
}

// onCPU checks that every named tensor is non-nil and in host memory.
func onCPU(op string, named ...any) error {
	for i := 0; i < len(named); i += 2 {
		name, t := named[i].(string), named[i+1].(*tensors.Tensor)
		if t == nil {
			return fmt.Errorf("cpu.%s: %s is nil", op, name)
		}
		if t.Device().CUDA {
			return fmt.Errorf("cpu.%s: %s is on %v: %w", op, name, t.Device(), kernels.ErrUnsupported)
		}
		if t.Bytes() == nil && t.NBytes() > 0 {
			return fmt.Errorf("cpu.%s: %s has no host memory (released?)", op, name)
		}
	}
	return nil
}

// arg is one tensor argument of an op: its name for errors, the tensor, the wanted dtype and
// the wanted shape (nil: any shape).
type arg struct {
	name  string
	t     *tensors.Tensor
	dtype tensors.DType
	shape []int
}

// check validates args for op: non-nil, on CPU, dtype, and shape when given. Outputs that are
// read-only (memory-mapped checkpoints) are the caller's bug and fail on write instead.
func check(op string, args ...arg) error {
	for _, a := range args {
		if a.t == nil {
			return fmt.Errorf("cpu.%s: %s is nil", op, a.name)
		}
		if err := onCPU(op, a.name, a.t); err != nil {
			return err
		}
		if a.t.DType() != a.dtype {
			return fmt.Errorf("cpu.%s: %s is %v, want %v", op, a.name, a.t, a.dtype)
		}
		if a.shape != nil && !a.t.HasShape(a.shape...) {
			return fmt.Errorf("cpu.%s: %s is %v, want shape %v", op, a.name, a.t, a.shape)
		}
	}
	return nil
}

// f32 is an F32 argument of the given shape (nil: any).
func f32(name string, t *tensors.Tensor, shape ...int) arg {
	if len(shape) == 0 {
		shape = nil
	}
	return arg{name, t, tensors.F32, shape}
}

// bf16 is a BF16 argument of the given shape (any shape when none is given).
func bf16(name string, t *tensors.Tensor, shape ...int) arg {
	if len(shape) == 0 {
		shape = nil
	}
	return arg{name, t, tensors.BF16, shape}
}

// i32 is an I32 argument of the given shape.
func i32(name string, t *tensors.Tensor, shape ...int) arg {
	if len(shape) == 0 {
		shape = nil
	}
	return arg{name, t, tensors.I32, shape}
}

// rows splits t's shape into (rows, last dim): [.., D] → (Π.., D). Rank 0 is an error.
func rows(op, name string, t *tensors.Tensor) (int, int, error) {
	if t.Rank() == 0 {
		return 0, 0, fmt.Errorf("cpu.%s: %s is a scalar, want [..., D]", op, name)
	}
	d := t.Dim(t.Rank() - 1)
	if d == 0 {
		return 0, 0, nil
	}
	return t.Numel() / d, d, nil
}

// sameShape checks that every tensor after the first has the first one's shape.
func sameShape(op string, named ...any) error {
	first := named[1].(*tensors.Tensor)
	for i := 2; i < len(named); i += 2 {
		t := named[i+1].(*tensors.Tensor)
		if t != nil && !tensors.SameShape(first, t) {
			return fmt.Errorf("cpu.%s: %s is %v but %s is %v; shapes must match", op, named[i], t, named[0], first)
		}
	}
	return nil
}

// wrap prefixes a kernel error with the backend op name.
func wrap(op string, err error) error {
	if err != nil {
		return fmt.Errorf("cpu.%s: %w", op, err)
	}
	return nil
}

var errNil = fmt.Errorf("a required tensor is nil")
