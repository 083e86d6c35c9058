package glm4v

// The vision stage's op runner: kernels.Backend calls with a sticky error, so a layer reads
// as a straight list of ops with one error check at the end (bufio.Writer style). After the
// first error every call is a no-op and allocations return nil.

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

type visOps struct {
	be  kernels.Backend
	err error
}

func (o *visOps) ok(err error) {
	if o.err == nil && err != nil {
		o.err = err
	}
}

// f32 allocates a zeroed F32 tensor on the backend.
func (o *visOps) f32(shape ...int) *tensors.Tensor {
	if o.err != nil {
		return nil
	}
	t, err := o.be.Alloc(tensors.F32, shape...)
	o.ok(err)
	return t
}

// view reshapes t (no copy).
func (o *visOps) view(t *tensors.Tensor, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return nil
	}
	v, err := t.Reshape(shape...)
	o.ok(err)
	return v
}

// rows returns the row block [a, b) of t (a view).
func (o *visOps) rows(t *tensors.Tensor, a, b int) *tensors.Tensor {
	if o.err != nil || t == nil {
		return nil
	}
	v, err := t.Slice(0, a, b)
	o.ok(err)
	return v
}

// up uploads a host tensor to the backend.
func (o *visOps) up(host *tensors.Tensor) *tensors.Tensor {
	if o.err != nil {
		return nil
	}
	t, err := o.be.Upload(host)
	o.ok(err)
	return t
}

func (o *visOps) do(f func() error) {
	if o.err == nil {
		o.ok(f())
	}
}

// linear: y [R, out] = x [R, in]·wᵀ (+ b).
func (o *visOps) linear(y, x, w, b *tensors.Tensor) {
	o.do(func() error { return o.be.Matmul(y, x, w, kernels.MatmulOpts{TransB: true}) })
	if b != nil {
		o.do(func() error { return o.be.AddBias(y, y, b) })
	}
}

// linearDX: dx [R, in] = dy [R, out]·w (acc: dx += …).
func (o *visOps) linearDX(dx, dy, w *tensors.Tensor, acc bool) {
	beta := float32(0)
	if acc {
		beta = 1
	}
	o.do(func() error { return o.be.Matmul(dx, dy, w, kernels.MatmulOpts{Beta: beta}) })
}

// linearDW accumulates dw [out, in] += dyᵀ·x and db [out] += Σ_rows dy (db may be nil).
func (o *visOps) linearDW(dw, db, dy, x *tensors.Tensor) {
	o.do(func() error { return o.be.Matmul(dw, dy, x, kernels.MatmulOpts{TransA: true, Beta: 1}) })
	if db != nil {
		o.do(func() error { return o.be.AddBiasBackward(db, dy) })
	}
}

// acc adds src into dst (a weight-gradient accumulator).
func (o *visOps) acc(dst, src *tensors.Tensor) {
	o.do(func() error { return o.be.Add(dst, dst, src) })
}

// rmsnorm: y = RMSNorm(x)·w; rstd [R] kept for the backward.
func (o *visOps) rmsnorm(x, w *tensors.Tensor, eps float32) (y, rstd *tensors.Tensor) {
	if o.err != nil {
		return nil, nil
	}
	y, rstd = o.f32(x.Shape()...), o.f32(x.Dim(0))
	o.do(func() error { return o.be.RMSNorm(y, rstd, x, w, eps) })
	return y, rstd
}

// rmsnormBack returns dx and the weight gradient of this call in a fresh [D] tensor (added to
// the accumulator in BackwardWeight, so BackwardInput never touches Param.Grad).
func (o *visOps) rmsnormBack(dy, x, w, rstd *tensors.Tensor) (dx, dw *tensors.Tensor) {
	if o.err != nil {
		return nil, nil
	}
	dx, dw = o.f32(x.Shape()...), o.f32(w.Dim(0))
	o.do(func() error { return o.be.RMSNormBackward(dx, dw, dy, x, w, rstd) })
	return dx, dw
}

// host returns t's values as a host tensor (t itself on the CPU).
func visHost(be kernels.Backend, t *tensors.Tensor) (*tensors.Tensor, error) {
	if !t.Device().CUDA {
		return t, nil
	}
	h, err := be.Download(t)
	if err != nil {
		return nil, fmt.Errorf("download %v: %w", t, err)
	}
	return h, nil
}
