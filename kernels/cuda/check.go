package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// arg is one tensor argument: name for errors, tensor, wanted dtype, wanted shape (nil: any).
type arg struct {
	name  string
	t     *tensors.Tensor
	dtype tensors.DType
	shape []int
}

func f32(name string, t *tensors.Tensor, shape ...int) arg {
	if len(shape) == 0 {
		shape = nil
	}
	return arg{name, t, tensors.F32, shape}
}

func i32(name string, t *tensors.Tensor, shape ...int) arg {
	if len(shape) == 0 {
		shape = nil
	}
	return arg{name, t, tensors.I32, shape}
}

// onDevice checks that t is non-nil and lives on this backend's device.
func (b *Backend) onDevice(op, name string, t *tensors.Tensor) error {
	if t == nil {
		return fmt.Errorf("cuda.%s: %s is nil", op, name)
	}
	if t.Device() != b.Device() {
		return fmt.Errorf("cuda.%s: %s is on %v, backend is %v: %w", op, name, t.Device(), b.Device(), kernels.ErrUnsupported)
	}
	return nil
}

// check validates args: non-nil, on the device, dtype, and shape when given.
func (b *Backend) check(op string, args ...arg) error {
	for _, a := range args {
		if err := b.onDevice(op, a.name, a.t); err != nil {
			return err
		}
		if a.t.DType() != a.dtype {
			if a.dtype == tensors.F32 && a.t.DType() == tensors.BF16 { // bf16 storage: not (yet) here
				return fmt.Errorf("cuda.%s: %s is %v, want %v: %w", op, a.name, a.t, a.dtype, kernels.ErrUnsupported)
			}
			return fmt.Errorf("cuda.%s: %s is %v, want %v", op, a.name, a.t, a.dtype)
		}
		if a.shape != nil && !a.t.HasShape(a.shape...) {
			return fmt.Errorf("cuda.%s: %s is %v, want shape %v", op, a.name, a.t, a.shape)
		}
	}
	return nil
}

// same checks F32 tensors of one shape; nil entries are allowed (optional outputs).
func (b *Backend) same(op string, named ...any) error {
	var first *tensors.Tensor
	var firstName string
	for i := 0; i < len(named); i += 2 {
		name, t := named[i].(string), named[i+1].(*tensors.Tensor)
		if t == nil {
			continue
		}
		if err := b.check(op, f32(name, t)); err != nil {
			return err
		}
		if first == nil {
			first, firstName = t, name
		} else if !tensors.SameShape(first, t) {
			return fmt.Errorf("cuda.%s: %s is %v but %s is %v; shapes must match", op, name, t, firstName, first)
		}
	}
	return nil
}

// rows splits t's shape into (rows, last dim).
func rows(op, name string, t *tensors.Tensor) (int, int, error) {
	if t.Rank() == 0 {
		return 0, 0, fmt.Errorf("cuda.%s: %s is a scalar, want [..., D]", op, name)
	}
	d := t.Dim(t.Rank() - 1)
	if d == 0 {
		return 0, 0, nil
	}
	return t.Numel() / d, d, nil
}

// fits32 checks that sizes passed to kernels as int fit in int32.
func fits32(op string, vals ...int) error {
	for _, v := range vals {
		if v > 1<<31-1 {
			return fmt.Errorf("cuda.%s: size %d exceeds the kernels' int32 range", op, v)
		}
	}
	return nil
}

// run enters the backend and runs f, prefixing its error with the op name.
func (b *Backend) run(op string, f func() error) error {
	leave, err := b.enter()
	if err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	defer leave()
	if err := f(); err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	return nil
}
