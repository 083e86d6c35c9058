package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/ptx"
	"github.com/glmflow/glmflow/kernels/optim"
	"github.com/glmflow/glmflow/tensors"
)

// AdamW runs adamw_f32 with ptx.AdamWScalars: optim.AdamW.Step's scalars (torch's float64
// formation, each rounded to float32 where it meets the tensors).
func (b *Backend) AdamW(param, grad, m, v *tensors.Tensor, o kernels.AdamWOpts) error {
	const op = "AdamW"
	if param == nil || grad == nil || m == nil || v == nil {
		return fmt.Errorf("cuda.%s: a required tensor is nil", op)
	}
	if err := b.same(op, "param", param, "grad", grad, "m", m, "v", v); err != nil {
		return err
	}
	c := optim.AdamW{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	if o.Step < 1 {
		return fmt.Errorf("cuda.%s: step %d, want ≥ 1", op, o.Step)
	}
	n := param.Numel()
	a := new(kargs).p(dptr(param)).p(dptr(grad)).p(dptr(m)).p(dptr(v)).l(n)
	for _, x := range ptx.AdamWScalars(c.LR, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, o.Step) {
		a.f(x)
	}
	return b.run(op, func() error { return b.launch("adamw_f32", dims(n), a) })
}

// normLocked is sqrt(Σ x²) over ts: per-tensor 4096-element partials (f64) into consecutive
// slots, one f64 tree over them, one double read back.
func (b *Backend) normLocked(ts []*tensors.Tensor) (float64, error) {
	total := 0
	for _, t := range ts {
		total += (t.Numel() + 4095) / 4096
	}
	if total == 0 {
		return 0, nil
	}
	if err := fits32("GlobalNorm", total); err != nil {
		return 0, err
	}
	part, err := b.scratchLocked(slotPartA, int64(total)*8)
	if err != nil {
		return 0, err
	}
	out, err := b.scratchLocked(slotSmall, 8)
	if err != nil {
		return 0, err
	}
	slot := 0
	for _, t := range ts {
		n := t.Numel()
		if err := b.launch("sumsq_partial_f32", dims(n), new(kargs).p(part+byteOff(slot*8)).p(dptr(t)).l(n)); err != nil {
			return 0, err
		}
		slot += (n + 4095) / 4096
	}
	if err := b.launch("sum_f64", nil, new(kargs).p(out).p(part).i(total)); err != nil {
		return 0, err
	}
	if err := b.syncLocked(); err != nil {
		return 0, err
	}
	var s float64
	if err := b.d.MemcpyDtoH(unsafe.Slice((*byte)(unsafe.Pointer(&s)), 8), out); err != nil {
		return 0, err
	}
	return math.Sqrt(s), nil
}

func (b *Backend) checkList(op string, ts []*tensors.Tensor) error {
	for i, t := range ts {
		if err := b.check(op, f32(fmt.Sprintf("ts[%d]", i), t)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) GlobalNorm(ts []*tensors.Tensor) (norm float64, err error) {
	const op = "GlobalNorm"
	if err := b.checkList(op, ts); err != nil {
		return 0, err
	}
	err = b.run(op, func() error {
		norm, err = b.normLocked(ts)
		return err
	})
	return norm, err
}

func (b *Backend) ClipByGlobalNorm(ts []*tensors.Tensor, maxNorm float64) (norm float64, err error) {
	const op = "ClipByGlobalNorm"
	if !(maxNorm > 0) {
		return 0, fmt.Errorf("cuda.%s: maxNorm = %g, want > 0", op, maxNorm)
	}
	if err := b.checkList(op, ts); err != nil {
		return 0, err
	}
	err = b.run(op, func() error {
		if norm, err = b.normLocked(ts); err != nil {
			return err
		}
		if math.IsNaN(norm) || math.IsInf(norm, 0) {
			return fmt.Errorf("gradient norm is %g", norm)
		}
		coef := maxNorm / (norm + 1e-6)
		if coef >= 1 {
			return nil
		}
		for _, t := range ts {
			n := t.Numel()
			if err := b.launch("scale_f32", dims(n), new(kargs).p(dptr(t)).p(dptr(t)).f(float32(coef)).l(n)); err != nil {
				return err
			}
		}
		return nil
	})
	return norm, err
}
