package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/softmax"
	"github.com/glmflow/glmflow/tensors"
)

func (*Backend) Softmax(out, x *tensors.Tensor) error {
	const op = "Softmax"
	if _, err := same(op, "x", x, "out", out); err != nil {
		return err
	}
	R, C, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	return wrap(op, softmax.Forward(out.F32(), x.F32(), R, C))
}

func (*Backend) SoftmaxBackward(dx, dout, y *tensors.Tensor) error {
	const op = "SoftmaxBackward"
	if _, err := same(op, "y", y, "dx", dx, "dout", dout); err != nil {
		return err
	}
	R, C, err := rows(op, "y", y)
	if err != nil {
		return err
	}
	return wrap(op, softmax.Backward(dx.F32(), y.F32(), dout.F32(), R, C))
}

// ceDims checks logits [T, V], targets [T] and stats [T, 2].
func ceDims(op string, logits, targets, stats *tensors.Tensor) (T, V int, err error) {
	if err = check(op, f32("logits", logits)); err != nil {
		return
	}
	if logits.Rank() != 2 {
		return 0, 0, fmt.Errorf("cpu.%s: logits %v, want [T, V]", op, logits)
	}
	T, V = logits.Dim(0), logits.Dim(1)
	return T, V, check(op, i32("targets", targets, T), f32("stats", stats, T, 2))
}

func (*Backend) CrossEntropy(stats, logits, targets *tensors.Tensor) (kernels.CELoss, error) {
	const op = "CrossEntropy"
	T, V, err := ceDims(op, logits, targets, stats)
	if err != nil {
		return kernels.CELoss{}, err
	}
	sum, n, err := softmax.CrossEntropyForward(stats.F32(), logits.F32(), targets.I32(), T, V)
	return kernels.CELoss{Sum: sum, Count: n}, wrap(op, err)
}

func (*Backend) CrossEntropyBackward(dlogits, logits, stats, targets *tensors.Tensor, scale float32) error {
	const op = "CrossEntropyBackward"
	T, V, err := ceDims(op, logits, targets, stats)
	if err != nil {
		return err
	}
	if err := check(op, f32("dlogits", dlogits, T, V)); err != nil {
		return err
	}
	return wrap(op, softmax.CrossEntropyBackward(dlogits.F32(), logits.F32(), stats.F32(), targets.I32(), T, V, scale))
}

// lmScratchRows is how many tokens' logits LMHeadLoss holds at a time.
const lmScratchRows = 64

// lmDims checks h [T, D], w [V, D], targets [T], stats [T, 2].
func lmDims(op string, h, w, targets, stats *tensors.Tensor) (T, D, V int, err error) {
	if err = check(op, f32("h", h), f32("w", w)); err != nil {
		return
	}
	if h.Rank() != 2 || w.Rank() != 2 || w.Dim(1) != h.Dim(1) {
		return 0, 0, 0, fmt.Errorf("cpu.%s: h %v and w %v must be [T, D] and [V, D]", op, h, w)
	}
	T, D, V = h.Dim(0), h.Dim(1), w.Dim(0)
	return T, D, V, check(op, i32("targets", targets, T), f32("stats", stats, T, 2))
}

func (*Backend) LMHeadLoss(stats, h, w, targets *tensors.Tensor) (kernels.CELoss, error) {
	const op = "LMHeadLoss"
	T, D, V, err := lmDims(op, h, w, targets, stats)
	if err != nil {
		return kernels.CELoss{}, err
	}
	scratch := make([]float32, lmScratchRows*max(V, 1))
	sum, n, err := softmax.LMHeadForward(stats.F32(), h.F32(), w.F32(), targets.I32(), T, D, V, scratch)
	return kernels.CELoss{Sum: sum, Count: n}, wrap(op, err)
}

func (*Backend) LMHeadLossBackward(dh, dw, h, w, stats, targets *tensors.Tensor, scale float32) error {
	const op = "LMHeadLossBackward"
	T, D, V, err := lmDims(op, h, w, targets, stats)
	if err != nil {
		return err
	}
	if err := check(op, f32("dh", dh, T, D), f32("dw", dw, V, D)); err != nil {
		return err
	}
	scratch := make([]float32, lmScratchRows*max(V, 1))
	return wrap(op, softmax.LMHeadBackward(dh.F32(), dw.F32(), h.F32(), w.F32(), stats.F32(), targets.I32(), T, D, V, scale, scratch))
}
