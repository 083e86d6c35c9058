package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

// mat is one GEMM operand: batch count (0: rank 2, broadcast), rows and cols as stored.
type mat struct{ batch, r, c int }

func matOf(op, name string, t *tensors.Tensor) (mat, error) {
	switch t.Rank() {
	case 2:
		return mat{0, t.Dim(0), t.Dim(1)}, nil
	case 3:
		return mat{t.Dim(0), t.Dim(1), t.Dim(2)}, nil
	}
	return mat{}, fmt.Errorf("cuda.%s: %s is %v, want rank 2 or 3", op, name, t)
}

func (m mat) stride() int64 {
	if m.batch == 0 {
		return 0
	}
	return int64(m.r) * int64(m.c)
}

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
	if err := b.check(op, f32("c", c)); err != nil {
		return err
	}
	if err := b.onDevice(op, "a", a); err != nil {
		return err
	}
	if err := b.onDevice(op, "b", x); err != nil {
		return err
	}
	switch da, db := a.DType(), x.DType(); {
	case da == tensors.F32 && (db == tensors.F32 || db == tensors.BF16), da == tensors.BF16 && db == tensors.BF16:
	default:
		return fmt.Errorf("cuda.%s: a %v × b %v: want F32×F32, F32×BF16 or BF16×BF16", op, a, x)
	}
	ma, err := matOf(op, "a", a)
	if err != nil {
		return err
	}
	mb, err := matOf(op, "b", x)
	if err != nil {
		return err
	}
	mc, err := matOf(op, "c", c)
	if err != nil {
		return err
	}
	m, k := ma.r, ma.c
	if o.TransA {
		m, k = k, m
	}
	kb, n := mb.r, mb.c
	if o.TransB {
		kb, n = n, kb
	}
	batch := max(ma.batch, mb.batch, mc.batch)
	switch {
	case k != kb || mc.r != m || mc.c != n:
		return fmt.Errorf("cuda.%s: op(a) [%d %d] · op(b) [%d %d] does not give c %v", op, m, k, kb, n, c)
	case ma.batch != 0 && ma.batch != batch, mb.batch != 0 && mb.batch != batch:
		return fmt.Errorf("cuda.%s: batch sizes of a %v, b %v, c %v disagree", op, a, x, c)
	case batch > 0 && mc.batch != batch:
		return fmt.Errorf("cuda.%s: c %v must carry the batch dimension %d", op, c, batch)
	}
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
			A:     cublas.Operand{Ptr: uintptr(dptr(a)), Type: dataType(a.DType()), Rows: ma.r, Cols: ma.c, Stride: ma.stride()},
			B:     cublas.Operand{Ptr: uintptr(bp), Type: bt, Rows: mb.r, Cols: mb.c, Stride: mb.stride()},
			C:     cublas.Operand{Ptr: uintptr(dptr(c)), Type: cublas.R32F, Rows: mc.r, Cols: mc.c, Stride: mc.stride()}})
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
