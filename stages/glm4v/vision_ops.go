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
	be   kernels.Backend
	prec visPrec // GEMM-operand precision (vision_precision.go)
	// bf16Out: in bf16 mode, RMSNorm, SwiGLU and SwiGLUBackward write BF16 outputs (gemmOut).
	bf16Out bool
	pool    *visPool  // with ar: alloc takes recycled buffers (vision_pool.go)
	ar      *visArena // the micro-batch's buffers; nil: alloc makes fresh zeroed tensors
	err     error
}

func (o *visOps) ok(err error) {
	if o.err == nil && err != nil {
		o.err = err
	}
}

// f32 allocates an F32 tensor for an output that the op overwrites entirely (contents
// undefined: a recycled buffer when o has an arena).
func (o *visOps) f32(shape ...int) *tensors.Tensor { return o.alloc(tensors.F32, shape...) }

// zeros allocates a fresh zeroed F32 tensor on the backend (accumulated outputs, outputs
// handed to the caller).
func (o *visOps) zeros(shape ...int) *tensors.Tensor {
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

// gemmIn returns x as a GEMM operand in the stage's precision: x itself in fp32 mode or when
// x is BF16 already, a fresh bf16 copy (round to nearest even) in bf16 mode. Tensors that are only ever GEMM
// inputs are kept in this form. [R, ·] in, same shape out.
func (o *visOps) gemmIn(x *tensors.Tensor) *tensors.Tensor {
	if o.err != nil || o.prec == precFP32 || x.DType() == tensors.BF16 {
		return x
	}
	t := o.alloc(tensors.BF16, x.Shape()...)
	o.castTo(t, x)
	return t
}

// gemmOut allocates the output of an op whose result only GEMMs read: BF16 in bf16 mode when
// the backend writes BF16 outputs of RMSNorm, SwiGLU and SwiGLUBackward (their F32 result
// rounded: the same bits as gemmIn of it, with no F32 copy in memory), else F32. Pass the
// result through gemmIn, which leaves a BF16 tensor as it is.
func (o *visOps) gemmOut(shape ...int) *tensors.Tensor {
	if o.prec == precBF16 && o.bf16Out {
		return o.alloc(tensors.BF16, shape...)
	}
	return o.f32(shape...)
}

// castTo writes src into dst in dst's dtype (Backend.Cast).
func (o *visOps) castTo(dst, src *tensors.Tensor) {
	o.do(func() error { return o.be.Cast(dst, src) })
}

// alloc allocates a tensor of dtype dt for an output that the op overwrites entirely: from
// the pool into the arena when o has one, else a fresh (zeroed) backend tensor.
func (o *visOps) alloc(dt tensors.DType, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return nil
	}
	var t *tensors.Tensor
	var err error
	if o.ar != nil {
		t, err = o.pool.get(o.be, o.ar, dt, shape)
	} else {
		t, err = o.be.Alloc(dt, shape...)
	}
	o.ok(err)
	return t
}

// linear: y [R, out] = x [R, in]·wᵀ (+ b). x and w are GEMM operands (both F32 or both BF16).
func (o *visOps) linear(y, x, w, b *tensors.Tensor) {
	o.do(func() error { return o.be.Matmul(y, x, w, kernels.MatmulOpts{TransB: true}) })
	if b != nil {
		o.do(func() error { return o.be.AddBias(y, y, b) })
	}
}

// linearDX: dx [R, in] = dy [R, out]·w (acc: dx += …); dy and w GEMM operands.
func (o *visOps) linearDX(dx, dy, w *tensors.Tensor, acc bool) {
	beta := float32(0)
	if acc {
		beta = 1
	}
	o.do(func() error { return o.be.Matmul(dx, dy, w, kernels.MatmulOpts{Beta: beta}) })
}

// linearDW accumulates dw [out, in] += dyᵀ·x (F32 dw; dy [R, out] and x [R, in] GEMM operands).
func (o *visOps) linearDW(dw, dy, x *tensors.Tensor) {
	o.do(func() error { return o.be.Matmul(dw, dy, x, kernels.MatmulOpts{TransA: true, Beta: 1}) })
}

// biasGrad returns Σ_rows dy [R, out] in a fresh [out] tensor (nil when the layer has no bias
// b): the bias gradient of this call, summed from the fp32 output gradient during the
// backward and added to the accumulator in BackwardWeight.
func (o *visOps) biasGrad(b, dy *tensors.Tensor) *tensors.Tensor {
	if b == nil || o.err != nil {
		return nil
	}
	db := o.zeros(b.Dim(0))
	o.do(func() error { return o.be.AddBiasBackward(db, dy) })
	return db
}

// acc adds src into dst (a weight-gradient accumulator); a nil src adds nothing.
func (o *visOps) acc(dst, src *tensors.Tensor) {
	if src == nil {
		return
	}
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

// rmsnormGemm is rmsnorm with y as a GEMM operand (gemmOut): for norm outputs that only
// GEMMs read (the backward needs x and rstd, not y).
func (o *visOps) rmsnormGemm(x, w *tensors.Tensor, eps float32) (y, rstd *tensors.Tensor) {
	if o.err != nil {
		return nil, nil
	}
	y, rstd = o.gemmOut(x.Shape()...), o.f32(x.Dim(0))
	o.do(func() error { return o.be.RMSNorm(y, rstd, x, w, eps) })
	return o.gemmIn(y), rstd
}

// rmsnormBack returns dx and the weight gradient of this call in a fresh [D] tensor (added to
// the accumulator in BackwardWeight, so BackwardInput never touches Param.Grad).
func (o *visOps) rmsnormBack(dy, x, w, rstd *tensors.Tensor) (dx, dw *tensors.Tensor) {
	if o.err != nil {
		return nil, nil
	}
	dx, dw = o.f32(x.Shape()...), o.zeros(w.Dim(0))
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
