package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

func dataType(dt tensors.DType) cublas.DataType {
	if dt == tensors.BF16 {
		return cublas.R16BF
	}
	return cublas.R32F
}

// Matmul runs on cuBLAS with CUBLAS_COMPUTE_32F (true fp32 accumulation, no TF32): F32×F32 and
// BF16×BF16 directly; F32×BF16 widens B to fp32 on the device first (exact), since cuBLAS
// wants A and B of one type.
func (b *Backend) Matmul(c, a, x *tensors.Tensor, o kernels.MatmulOpts) error {
	const op = "Matmul"
	d, err := kernels.CheckMatmul("cuda."+op, c, a, x, o)
	if err != nil {
		return err
	}
	if err := b.onDevice(op, "a", a); err != nil {
		return err
	}
	if err := b.onDevice(op, "b", x); err != nil {
		return err
	}
	if err := b.onDevice(op, "c", c); err != nil {
		return err
	}
	m, n, k, batch := d.M, d.N, d.K, d.Batch
	ma, mb, mc := d.A, d.B, d.C
	alpha := o.Alpha
	if alpha == 0 {
		alpha = 1
	}
	return b.run(op, func() error {
		bp, bt := dptr(x), dataType(x.DType())
		if a.DType() == tensors.F32 && x.DType() == tensors.BF16 {
			w, err := b.scratchLocked(slotWide, int64(x.Numel())*4)
			if err != nil {
				return err
			}
			if err := b.launch("cast_bf16_to_f32", dims(x.Numel()), new(kargs).p(w).p(dptr(x)).l(x.Numel())); err != nil {
				return err
			}
			bp, bt = w, cublas.R32F
		}
		if m == 0 || n == 0 {
			return nil
		}
		if k == 0 { // C = β·C (β = 0: zeros, whatever C held)
			return b.scaleC(dptr(c), c.Numel(), o.Beta)
		}
		return b.blas.Gemm(cublas.RowMajorGemm{TransA: o.TransA, TransB: o.TransB, Alpha: alpha, Beta: o.Beta,
			Batch: max(batch, 1),
			A:     cublas.Operand{Ptr: uintptr(dptr(a)), Type: dataType(a.DType()), Rows: ma.R, Cols: ma.C, Stride: int64(ma.Stride())},
			B:     cublas.Operand{Ptr: uintptr(bp), Type: bt, Rows: mb.R, Cols: mb.C, Stride: int64(mb.Stride())},
			C:     cublas.Operand{Ptr: uintptr(dptr(c)), Type: cublas.R32F, Rows: mc.R, Cols: mc.C, Stride: int64(mc.Stride())}})
	})
}

// grouped checks the GroupedLinear family's shapes and reads the offsets back (E+1 ints: the
// per-expert GEMM sizes are host arguments of cuBLAS).
// rowDim is the dimension of w (1: N, 2: K) that is the row width of rowsT.
func (b *Backend) grouped(op string, w, offs *tensors.Tensor, rowsT *tensors.Tensor, rowDim int) (E, N, K int, groups []cublas.Group, err error) {
	if err = b.check(op, f32("w", w), i32("offs", offs), f32("rows", rowsT)); err != nil {
		return
	}
	if w.Rank() != 3 || offs.Rank() != 1 || offs.Dim(0) != w.Dim(0)+1 {
		err = fmt.Errorf("cuda.%s: w %v and offs %v: want w [E, N, K] and offs [E+1]", op, w, offs)
		return
	}
	E, N, K = w.Dim(0), w.Dim(1), w.Dim(2)
	rowWidth := w.Dim(rowDim)
	off, err := b.hostI32(offs)
	if err != nil {
		return
	}
	R := rowsT.Numel() / max(rowWidth, 1)
	if groups, err = cublas.Groups(off, R); err != nil {
		err = fmt.Errorf("cuda.%s: %w", op, err)
	}
	return
}

func (b *Backend) GroupedLinear(y, x, w, offs *tensors.Tensor) error {
	const op = "GroupedLinear"
	_, N, K, groups, err := b.grouped(op, w, offs, x, 2)
	if err != nil {
		return err
	}
	R := x.Numel() / max(K, 1)
	if err := b.check(op, f32("x", x, R, K), f32("y", y, R, N)); err != nil {
		return err
	}
	return b.run(op, func() error {
		plan, err := cublas.GroupedPlan(cublas.Forward, groups, N, K, uintptr(dptr(x)), uintptr(dptr(w)), uintptr(dptr(y)), cublas.R32F)
		if err != nil {
			return err
		}
		return b.blas.Grouped(plan)
	})
}

func (b *Backend) GroupedLinearBackwardInput(dx, dy, w, offs *tensors.Tensor) error {
	const op = "GroupedLinearBackwardInput"
	_, N, K, groups, err := b.grouped(op, w, offs, dy, 1)
	if err != nil {
		return err
	}
	R := dy.Numel() / max(N, 1)
	if err := b.check(op, f32("dy", dy, R, N), f32("dx", dx, R, K)); err != nil {
		return err
	}
	return b.run(op, func() error {
		plan, err := cublas.GroupedPlan(cublas.BackwardInput, groups, N, K, uintptr(dptr(dy)), uintptr(dptr(w)), uintptr(dptr(dx)), cublas.R32F)
		if err != nil {
			return err
		}
		return b.blas.Grouped(plan)
	})
}

func (b *Backend) GroupedLinearBackwardWeight(dw, dy, x, offs *tensors.Tensor) error {
	const op = "GroupedLinearBackwardWeight"
	_, N, K, groups, err := b.grouped(op, dw, offs, dy, 1)
	if err != nil {
		return err
	}
	R := dy.Numel() / max(N, 1)
	if err := b.check(op, f32("dy", dy, R, N), f32("x", x, R, K)); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.blas.Grouped(cublas.GroupedWeightPlan(groups, N, K, uintptr(dptr(dy)), uintptr(dptr(x)), uintptr(dptr(dw)), cublas.R32F))
	})
}

// scaleC sets C = β·C over n elements; β = 0 writes zeros (NaN-safe, as a GEMM with β = 0).
func (b *Backend) scaleC(c driver.DevicePtr, n int, beta float32) error {
	if beta == 0 {
		return b.d.MemsetD32Async(c, 0, uint64(n), b.stream)
	}
	return b.launch("scale_f32", dims(n), new(kargs).p(c).p(c).f(beta).l(n))
}
