package cuda

import (
	"fmt"
	"unsafe"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

func (b *Backend) Softmax(out, x *tensors.Tensor) error {
	const op = "Softmax"
	R, C, err := b.normDims(op, "x", x, "out", out)
	if err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("softmax_f32", dims(R), new(kargs).p(dptr(out)).p(dptr(x)).i(R).i(C))
	})
}

func (b *Backend) SoftmaxBackward(dx, dout, y *tensors.Tensor) error {
	const op = "SoftmaxBackward"
	R, C, err := b.normDims(op, "y", y, "dx", dx, "dout", dout)
	if err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("softmax_backward_f32", dims(R), new(kargs).p(dptr(dx)).p(dptr(dout)).p(dptr(y)).i(R).i(C))
	})
}

// targetsOf downloads targets [T] and checks each is −100 or in [0, V); it returns the count of
// non-ignored tokens.
func (b *Backend) targetsOf(op string, targets *tensors.Tensor, V int) (int, error) {
	tg, err := b.hostI32(targets)
	if err != nil {
		return 0, fmt.Errorf("cuda.%s: %w", op, err)
	}
	n := 0
	for i, v := range tg {
		switch {
		case v == -100:
		case v < 0 || int(v) >= V:
			return 0, fmt.Errorf("cuda.%s: targets[%d] = %d out of range [0, %d)", op, i, v, V)
		default:
			n++
		}
	}
	return n, nil
}

// lossSumLocked downloads T per-row f64 losses from the scratch and sums them in order.
func (b *Backend) lossSumLocked(loss driver.DevicePtr, T int) (float64, error) {
	if err := b.syncLocked(); err != nil {
		return 0, err
	}
	h := make([]float64, T)
	if T > 0 {
		if err := b.d.MemcpyDtoH(unsafe.Slice((*byte)(unsafe.Pointer(&h[0])), 8*T), loss); err != nil {
			return 0, err
		}
	}
	s := 0.0
	for _, v := range h {
		s += v
	}
	return s, nil
}

func (b *Backend) ceDims(op string, logits, targets, stats *tensors.Tensor) (T, V int, err error) {
	if err = b.check(op, f32("logits", logits)); err != nil {
		return
	}
	if logits.Rank() != 2 {
		return 0, 0, fmt.Errorf("cuda.%s: logits %v, want [T, V]", op, logits)
	}
	T, V = logits.Dim(0), logits.Dim(1)
	if err = b.check(op, i32("targets", targets, T), f32("stats", stats, T, 2)); err != nil {
		return
	}
	return T, V, fits32(op, T, V)
}

func (b *Backend) CrossEntropy(stats, logits, targets *tensors.Tensor) (kernels.CELoss, error) {
	const op = "CrossEntropy"
	T, V, err := b.ceDims(op, logits, targets, stats)
	if err != nil {
		return kernels.CELoss{}, err
	}
	count, err := b.targetsOf(op, targets, V)
	if err != nil {
		return kernels.CELoss{}, err
	}
	var sum float64
	err = b.run(op, func() error {
		loss, err := b.scratchLocked(slotSmall, int64(max(T, 1))*8)
		if err != nil {
			return err
		}
		if err := b.launch("ce_forward_f32", dims(T), new(kargs).p(dptr(stats)).p(loss).p(dptr(logits)).p(dptr(targets)).i(T).i(V)); err != nil {
			return err
		}
		sum, err = b.lossSumLocked(loss, T)
		return err
	})
	return kernels.CELoss{Sum: sum, Count: count}, err
}

func (b *Backend) CrossEntropyBackward(dlogits, logits, stats, targets *tensors.Tensor, scale float32) error {
	const op = "CrossEntropyBackward"
	T, V, err := b.ceDims(op, logits, targets, stats)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("dlogits", dlogits, T, V)); err != nil {
		return err
	}
	if _, err := b.targetsOf(op, targets, V); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("ce_backward_f32", dims(T), new(kargs).p(dptr(dlogits)).p(dptr(logits)).p(dptr(stats)).p(dptr(targets)).i(T).i(V).f(scale))
	})
}

// lmBlockBytes bounds the logits block LMHeadLoss holds ([Tb, V] F32).
const lmBlockBytes = 512 << 20

func (b *Backend) lmDims(op string, h, w, targets, stats *tensors.Tensor) (T, D, V, Tb int, err error) {
	if err = b.check(op, f32("h", h), f32("w", w)); err != nil {
		return
	}
	if h.Rank() != 2 || w.Rank() != 2 || w.Dim(1) != h.Dim(1) {
		err = fmt.Errorf("cuda.%s: h %v and w %v must be [T, D] and [V, D]", op, h, w)
		return
	}
	T, D, V = h.Dim(0), h.Dim(1), w.Dim(0)
	if err = b.check(op, i32("targets", targets, T), f32("stats", stats, T, 2)); err != nil {
		return
	}
	Tb = max(1, min(T, lmBlockBytes/(4*max(V, 1))))
	return T, D, V, Tb, fits32(op, T, D, V)
}

// logitsBlock computes logits [n, V] = h[t0:t0+n]·wᵀ into the wide scratch.
func (b *Backend) logitsBlock(h, w *tensors.Tensor, t0, n, D, V int) (driver.DevicePtr, error) {
	lg, err := b.scratchLocked(slotWide, int64(n)*int64(V)*4)
	if err != nil {
		return 0, err
	}
	if D == 0 {
		return lg, b.d.MemsetD8Async(lg, 0, uint64(n*V*4), b.stream)
	}
	return lg, b.blas.Gemm(cublas.RowMajorGemm{TransB: true, Alpha: 1, Batch: 1,
		A: cublas.Operand{Ptr: uintptr(dptr(h) + byteOff(t0*D*4)), Type: cublas.R32F, Rows: n, Cols: D},
		B: cublas.Operand{Ptr: uintptr(dptr(w)), Type: cublas.R32F, Rows: V, Cols: D},
		C: cublas.Operand{Ptr: uintptr(lg), Type: cublas.R32F, Rows: n, Cols: V}})
}

func (b *Backend) LMHeadLoss(stats, h, w, targets *tensors.Tensor) (kernels.CELoss, error) {
	const op = "LMHeadLoss"
	T, D, V, Tb, err := b.lmDims(op, h, w, targets, stats)
	if err != nil {
		return kernels.CELoss{}, err
	}
	count, err := b.targetsOf(op, targets, V)
	if err != nil {
		return kernels.CELoss{}, err
	}
	var sum float64
	err = b.run(op, func() error {
		loss, err := b.scratchLocked(slotSmall, int64(max(T, 1))*8)
		if err != nil {
			return err
		}
		for t0 := 0; t0 < T; t0 += Tb {
			n := min(Tb, T-t0)
			lg, err := b.logitsBlock(h, w, t0, n, D, V)
			if err != nil {
				return err
			}
			a := new(kargs).p(dptr(stats) + byteOff(t0*8)).p(loss + byteOff(t0*8)).p(lg).p(dptr(targets) + byteOff(t0*4)).i(n).i(V)
			if err := b.launch("ce_forward_f32", dims(n), a); err != nil {
				return err
			}
		}
		sum, err = b.lossSumLocked(loss, T)
		return err
	})
	return kernels.CELoss{Sum: sum, Count: count}, err
}

func (b *Backend) LMHeadLossBackward(dh, dw, h, w, stats, targets *tensors.Tensor, scale float32) error {
	const op = "LMHeadLossBackward"
	T, D, V, Tb, err := b.lmDims(op, h, w, targets, stats)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("dh", dh, T, D), f32("dw", dw, V, D)); err != nil {
		return err
	}
	if _, err := b.targetsOf(op, targets, V); err != nil {
		return err
	}
	return b.run(op, func() error {
		for t0 := 0; t0 < T; t0 += Tb {
			n := min(Tb, T-t0)
			lg, err := b.logitsBlock(h, w, t0, n, D, V)
			if err != nil {
				return err
			}
			a := new(kargs).p(lg).p(lg).p(dptr(stats) + byteOff(t0*8)).p(dptr(targets) + byteOff(t0*4)).i(n).i(V).f(scale)
			if err := b.launch("ce_backward_f32", dims(n), a); err != nil {
				return err
			}
			if D == 0 {
				continue
			}
			dl := cublas.Operand{Ptr: uintptr(lg), Type: cublas.R32F, Rows: n, Cols: V}
			// dh[block] = dlogits·w (overwritten); dw += dlogitsᵀ·h[block].
			if err := b.blas.Gemm(cublas.RowMajorGemm{Alpha: 1, Batch: 1, A: dl,
				B: cublas.Operand{Ptr: uintptr(dptr(w)), Type: cublas.R32F, Rows: V, Cols: D},
				C: cublas.Operand{Ptr: uintptr(dptr(dh) + byteOff(t0*D*4)), Type: cublas.R32F, Rows: n, Cols: D}}); err != nil {
				return err
			}
			if err := b.blas.Gemm(cublas.RowMajorGemm{TransA: true, Alpha: 1, Beta: 1, Batch: 1, A: dl,
				B: cublas.Operand{Ptr: uintptr(dptr(h) + byteOff(t0*D*4)), Type: cublas.R32F, Rows: n, Cols: D},
				C: cublas.Operand{Ptr: uintptr(dptr(dw)), Type: cublas.R32F, Rows: V, Cols: D}}); err != nil {
				return err
			}
		}
		return nil
	})
}
