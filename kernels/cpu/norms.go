package cpu

import (
	"github.com/glmflow/glmflow/kernels/norm"
	"github.com/glmflow/glmflow/tensors"
)

func (*Backend) RMSNorm(out, rstd, x, w *tensors.Tensor, eps float32) error {
	const op = "RMSNorm"
	bf16Out := out != nil && out.DType() == tensors.BF16
	if bf16Out { // bf16 out: the rounded fp32 result
		if err := check(op, f32("x", x), bf16("out", out, x.Shape()...)); err != nil {
			return err
		}
	} else if _, err := same(op, "x", x, "out", out); err != nil {
		return err
	}
	T, D, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := check(op, f32("rstd", rstd, T), f32("w", w, D)); err != nil {
		return err
	}
	if bf16Out {
		return wrap(op, norm.RMSNormForwardBF16(out.BF16(), rstd.F32(), x.F32(), w.F32(), T, D, eps))
	}
	return wrap(op, norm.RMSNormForward(out.F32(), rstd.F32(), x.F32(), w.F32(), T, D, eps))
}

func (*Backend) RMSNormBackward(dx, dw, dout, x, w, rstd *tensors.Tensor) error {
	const op = "RMSNormBackward"
	if _, err := same(op, "x", x, "dx", dx, "dout", dout); err != nil {
		return err
	}
	T, D, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := check(op, f32("rstd", rstd, T), f32("w", w, D), f32("dw", dw, D)); err != nil {
		return err
	}
	return wrap(op, norm.RMSNormBackward(dx.F32(), dw.F32(), dout.F32(), x.F32(), w.F32(), rstd.F32(), T, D))
}

// optF32 returns t's data after checking it is F32 of the given shape; nil gives nil.
func optF32(op, name string, t *tensors.Tensor, shape ...int) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	if err := check(op, f32(name, t, shape...)); err != nil {
		return nil, err
	}
	return t.F32(), nil
}

func (*Backend) LayerNorm(out, mean, rstd, x, w, b *tensors.Tensor, eps float32) error {
	const op = "LayerNorm"
	if _, err := same(op, "x", x, "out", out); err != nil {
		return err
	}
	T, D, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := check(op, f32("mean", mean, T), f32("rstd", rstd, T), f32("w", w, D)); err != nil {
		return err
	}
	bs, err := optF32(op, "b", b, D)
	if err != nil {
		return err
	}
	return wrap(op, norm.LayerNormForward(out.F32(), mean.F32(), rstd.F32(), x.F32(), w.F32(), bs, T, D, eps))
}

func (*Backend) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensors.Tensor) error {
	const op = "LayerNormBackward"
	if _, err := same(op, "x", x, "dx", dx, "dout", dout); err != nil {
		return err
	}
	T, D, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := check(op, f32("mean", mean, T), f32("rstd", rstd, T), f32("w", w, D), f32("dw", dw, D)); err != nil {
		return err
	}
	dbs, err := optF32(op, "db", db, D)
	if err != nil {
		return err
	}
	return wrap(op, norm.LayerNormBackward(dx.F32(), dw.F32(), dbs, dout.F32(), x.F32(), w.F32(), mean.F32(), rstd.F32(), T, D))
}
