package cuda

import (
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

// normDims checks x/out-like tensors of one shape and returns rows T and width D.
func (b *Backend) normDims(op string, named ...any) (T, D int, err error) {
	if err = b.same(op, named...); err != nil {
		return
	}
	if T, D, err = rows(op, named[0].(string), named[1].(*tensors.Tensor)); err != nil {
		return
	}
	return T, D, fits32(op, T, D)
}

func (b *Backend) RMSNorm(out, rstd, x, w *tensors.Tensor, eps float32) error {
	const op = "RMSNorm"
	T, D, err := b.normDims(op, "x", x, "out", out)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("rstd", rstd, T), f32("w", w, D)); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("rmsnorm_f32", dims(T), new(kargs).p(dptr(out)).p(dptr(rstd)).p(dptr(x)).p(dptr(w)).i(T).i(D).f(eps))
	})
}

func (b *Backend) RMSNormBackward(dx, dw, dout, x, w, rstd *tensors.Tensor) error {
	const op = "RMSNormBackward"
	T, D, err := b.normDims(op, "x", x, "dx", dx, "dout", dout)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("rstd", rstd, T), f32("w", w, D), f32("dw", dw, D)); err != nil {
		return err
	}
	return b.run(op, func() error {
		// dw first: dx may alias dout.
		err := b.colSum(dw, D, T, func(part driver.DevicePtr, chunk int) *kargs {
			return new(kargs).p(part).p(dptr(dout)).p(dptr(x)).p(dptr(rstd)).i(T).i(D).i(chunk)
		}, "rmsnorm_dw_partial_f32")
		if err != nil {
			return err
		}
		return b.launch("rmsnorm_backward_f32", dims(T), new(kargs).p(dptr(dx)).p(dptr(dout)).p(dptr(x)).p(dptr(w)).p(dptr(rstd)).i(T).i(D))
	})
}

func (b *Backend) LayerNorm(out, mean, rstd, x, w, bias *tensors.Tensor, eps float32) error {
	const op = "LayerNorm"
	T, D, err := b.normDims(op, "x", x, "out", out)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("mean", mean, T), f32("rstd", rstd, T), f32("w", w, D)); err != nil {
		return err
	}
	if bias != nil {
		if err := b.check(op, f32("b", bias, D)); err != nil {
			return err
		}
	}
	return b.run(op, func() error {
		return b.launch("layernorm_f32", dims(T), new(kargs).p(dptr(out)).p(dptr(mean)).p(dptr(rstd)).p(dptr(x)).p(dptr(w)).p(dptr(bias)).i(T).i(D).f(eps))
	})
}

func (b *Backend) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensors.Tensor) error {
	const op = "LayerNormBackward"
	T, D, err := b.normDims(op, "x", x, "dx", dx, "dout", dout)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("mean", mean, T), f32("rstd", rstd, T), f32("w", w, D), f32("dw", dw, D)); err != nil {
		return err
	}
	if db != nil {
		if err := b.check(op, f32("db", db, D)); err != nil {
			return err
		}
	}
	return b.run(op, func() error {
		if T > 0 && D > 0 {
			chunks, chunkRows := colChunks(T)
			pw, err := b.scratchLocked(slotPartA, int64(chunks)*int64(D)*4)
			if err != nil {
				return err
			}
			var pb driver.DevicePtr
			if db != nil {
				if pb, err = b.scratchLocked(slotPartB, int64(chunks)*int64(D)*4); err != nil {
					return err
				}
			}
			a := new(kargs).p(pw).p(pb).p(dptr(dout)).p(dptr(x)).p(dptr(mean)).p(dptr(rstd)).i(T).i(D).i(chunkRows)
			if err := b.launch("layernorm_dwdb_partial_f32", dims(D, T), a); err != nil {
				return err
			}
			if err := b.launch("colsum_finish_f32", dims(D), new(kargs).p(dptr(dw)).p(pw).i(chunks).i(D)); err != nil {
				return err
			}
			if db != nil {
				if err := b.launch("colsum_finish_f32", dims(D), new(kargs).p(dptr(db)).p(pb).i(chunks).i(D)); err != nil {
					return err
				}
			}
		}
		return b.launch("layernorm_backward_f32", dims(T), new(kargs).p(dptr(dx)).p(dptr(dout)).p(dptr(x)).p(dptr(w)).p(dptr(mean)).p(dptr(rstd)).i(T).i(D))
	})
}
