package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

// elem launches an elementwise kernel over n = out's element count after checking that every
// named tensor is F32 of one shape.
func (b *Backend) elem(op, kernel string, named []any, args func(n int) *kargs) error {
	if err := b.same(op, named...); err != nil {
		return err
	}
	var n int
	for i := 1; i < len(named); i += 2 {
		if t := named[i].(*tensors.Tensor); t != nil {
			n = t.Numel()
			break
		}
	}
	return b.run(op, func() error { return b.launch(kernel, dims(n), args(n)) })
}

func (b *Backend) Add(out, a, x *tensors.Tensor) error {
	return b.elem("Add", "add_f32", []any{"out", out, "a", a, "b", x}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(a)).p(dptr(x)).l(n)
	})
}

// AddBackward: da = db = dout (copies; either may be nil).
func (b *Backend) AddBackward(da, db, dout *tensors.Tensor) error {
	if err := b.same("AddBackward", "dout", dout, "da", da, "db", db); err != nil {
		return err
	}
	if dout == nil {
		return fmt.Errorf("cuda.AddBackward: dout is nil")
	}
	for _, d := range []*tensors.Tensor{da, db} {
		if d != nil {
			if err := b.Copy(d, dout); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backend) Mul(out, a, x *tensors.Tensor) error {
	return b.elem("Mul", "mul_f32", []any{"out", out, "a", a, "b", x}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(a)).p(dptr(x)).l(n)
	})
}

func (b *Backend) MulBackward(da, db, dout, a, x *tensors.Tensor) error {
	return b.elem("MulBackward", "mul_backward_f32", []any{"dout", dout, "a", a, "b", x, "da", da, "db", db}, func(n int) *kargs {
		return new(kargs).p(dptr(da)).p(dptr(db)).p(dptr(dout)).p(dptr(a)).p(dptr(x)).l(n)
	})
}

func (b *Backend) Scale(out, x *tensors.Tensor, alpha float32) error {
	return b.elem("Scale", "scale_f32", []any{"out", out, "x", x}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(x)).f(alpha).l(n)
	})
}

func (b *Backend) ScaleBackward(dx, dout *tensors.Tensor, alpha float32) error {
	return b.elem("ScaleBackward", "scale_f32", []any{"dx", dx, "dout", dout}, func(n int) *kargs {
		return new(kargs).p(dptr(dx)).p(dptr(dout)).f(alpha).l(n)
	})
}

func (b *Backend) AddBias(out, x, bias *tensors.Tensor) error {
	const op = "AddBias"
	if err := b.same(op, "out", out, "x", x); err != nil {
		return err
	}
	r, n, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("bias", bias, n)); err != nil {
		return err
	}
	if err := fits32(op, n); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("add_bias_f32", dims(r*n), new(kargs).p(dptr(out)).p(dptr(x)).p(dptr(bias)).l(r*n).i(n))
	})
}

func (b *Backend) AddBiasBackward(dbias, dout *tensors.Tensor) error {
	const op = "AddBiasBackward"
	if err := b.check(op, f32("dout", dout)); err != nil {
		return err
	}
	r, n, err := rows(op, "dout", dout)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("dbias", dbias, n)); err != nil {
		return err
	}
	if err := fits32(op, r, n); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.colSum(dbias, n, r, func(part driver.DevicePtr, chunk int) *kargs {
			return new(kargs).p(part).p(dptr(dout)).i(r).i(n).i(chunk)
		}, "colsum_partial_f32")
	})
}

func (b *Backend) SiLU(out, x *tensors.Tensor) error {
	return b.elem("SiLU", "silu_f32", []any{"out", out, "x", x}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(x)).l(n)
	})
}

func (b *Backend) SiLUBackward(dx, dout, x *tensors.Tensor) error {
	return b.elem("SiLUBackward", "silu_backward_f32", []any{"dx", dx, "dout", dout, "x", x}, func(n int) *kargs {
		return new(kargs).p(dptr(dx)).p(dptr(dout)).p(dptr(x)).l(n)
	})
}

func (b *Backend) GELU(out, x *tensors.Tensor) error {
	return b.elem("GELU", "gelu_f32", []any{"out", out, "x", x}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(x)).l(n)
	})
}

func (b *Backend) GELUBackward(dx, dout, x *tensors.Tensor) error {
	return b.elem("GELUBackward", "gelu_backward_f32", []any{"dx", dx, "dout", dout, "x", x}, func(n int) *kargs {
		return new(kargs).p(dptr(dx)).p(dptr(dout)).p(dptr(x)).l(n)
	})
}

func (b *Backend) SwiGLU(out, gate, up *tensors.Tensor) error {
	return b.elem("SwiGLU", "swiglu_f32", []any{"out", out, "gate", gate, "up", up}, func(n int) *kargs {
		return new(kargs).p(dptr(out)).p(dptr(gate)).p(dptr(up)).l(n)
	})
}

func (b *Backend) SwiGLUBackward(dgate, dup, dout, gate, up *tensors.Tensor) error {
	if dgate == nil || dup == nil {
		return fmt.Errorf("cuda.SwiGLUBackward: dgate and dup are required")
	}
	return b.elem("SwiGLUBackward", "swiglu_backward_f32", []any{"dgate", dgate, "dup", dup, "dout", dout, "gate", gate, "up", up}, func(n int) *kargs {
		return new(kargs).p(dptr(dgate)).p(dptr(dup)).p(dptr(dout)).p(dptr(gate)).p(dptr(up)).l(n)
	})
}

// fused checks gateUp [T, 2F] against out [T, F] (any leading dims, flattened to T).
func (b *Backend) fused(op string, gateUp, out *tensors.Tensor) (T, F int, err error) {
	if err = b.check(op, f32("gateUp", gateUp), f32("out", out)); err != nil {
		return
	}
	T, F2, err := rows(op, "gateUp", gateUp)
	if err != nil {
		return
	}
	if F2%2 != 0 || out.Numel() != T*F2/2 || out.Rank() != gateUp.Rank() {
		return 0, 0, fmt.Errorf("cuda.%s: gateUp %v needs out [..., %d], got %v", op, gateUp, F2/2, out)
	}
	return T, F2 / 2, fits32(op, F2)
}

func (b *Backend) SwiGLUFused(out, gateUp *tensors.Tensor) error {
	T, F, err := b.fused("SwiGLUFused", gateUp, out)
	if err != nil {
		return err
	}
	return b.run("SwiGLUFused", func() error {
		return b.launch("swiglu_fused_f32", dims(T*F), new(kargs).p(dptr(out)).p(dptr(gateUp)).l(T*F).i(F))
	})
}

func (b *Backend) SwiGLUFusedBackward(dGateUp, dout, gateUp *tensors.Tensor) error {
	const op = "SwiGLUFusedBackward"
	T, F, err := b.fused(op, gateUp, dout)
	if err != nil {
		return err
	}
	if err := b.same(op, "gateUp", gateUp, "dGateUp", dGateUp); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("swiglu_fused_backward_f32", dims(T*F), new(kargs).p(dptr(dGateUp)).p(dptr(dout)).p(dptr(gateUp)).l(T*F).i(F))
	})
}
