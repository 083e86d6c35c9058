package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/elementwise"
	"github.com/glmflow/glmflow/kernels/vec"
	"github.com/glmflow/glmflow/tensors"
)

// same checks F32 tensors of one shape (nil entries allowed where marked optional by the op)
// and returns their data; nil tensors give nil slices.
func same(op string, named ...any) ([][]float32, error) {
	var first *tensors.Tensor
	var firstName string
	out := make([][]float32, 0, len(named)/2)
	for i := 0; i < len(named); i += 2 {
		name, t := named[i].(string), named[i+1].(*tensors.Tensor)
		if t == nil {
			out = append(out, nil)
			continue
		}
		if err := check(op, f32(name, t)); err != nil {
			return nil, err
		}
		if first == nil {
			first, firstName = t, name
		} else if !tensors.SameShape(first, t) {
			return nil, fmt.Errorf("cpu.%s: %s is %v but %s is %v; shapes must match", op, name, t, firstName, first)
		}
		out = append(out, t.F32())
	}
	return out, nil
}

func (*Backend) Add(out, a, b *tensors.Tensor) error {
	s, err := same("Add", "out", out, "a", a, "b", b)
	if err != nil {
		return err
	}
	return wrap("Add", elementwise.Add(s[0], s[1], s[2]))
}

func (*Backend) AddBackward(da, db, dout *tensors.Tensor) error {
	s, err := same("AddBackward", "dout", dout, "da", da, "db", db)
	if err != nil {
		return err
	}
	return wrap("AddBackward", elementwise.AddBackward(s[1], s[2], s[0]))
}

func (*Backend) Mul(out, a, b *tensors.Tensor) error {
	s, err := same("Mul", "out", out, "a", a, "b", b)
	if err != nil {
		return err
	}
	return wrap("Mul", elementwise.Mul(s[0], s[1], s[2]))
}

func (*Backend) MulBackward(da, db, dout, a, b *tensors.Tensor) error {
	s, err := same("MulBackward", "dout", dout, "a", a, "b", b, "da", da, "db", db)
	if err != nil {
		return err
	}
	return wrap("MulBackward", elementwise.MulBackward(s[3], s[4], s[0], s[1], s[2]))
}

func (*Backend) Scale(out, x *tensors.Tensor, alpha float32) error {
	s, err := same("Scale", "out", out, "x", x)
	if err != nil {
		return err
	}
	return wrap("Scale", elementwise.Scale(s[0], s[1], alpha))
}

func (*Backend) ScaleBackward(dx, dout *tensors.Tensor, alpha float32) error {
	s, err := same("ScaleBackward", "dx", dx, "dout", dout)
	if err != nil {
		return err
	}
	return wrap("ScaleBackward", elementwise.ScaleBackward(s[0], s[1], alpha))
}

func (*Backend) AddBias(out, x, bias *tensors.Tensor) error {
	const op = "AddBias"
	s, err := same(op, "out", out, "x", x)
	if err != nil {
		return err
	}
	r, n, err := rows(op, "x", x)
	if err != nil {
		return err
	}
	if err := check(op, f32("bias", bias, n)); err != nil {
		return err
	}
	o, xs, b := s[0], s[1], bias.F32()
	for i := range r {
		row := o[i*n : (i+1)*n]
		if &row[0] != &xs[i*n] {
			copy(row, xs[i*n:(i+1)*n])
		}
		vec.Axpy(1, b, row)
	}
	return nil
}

func (*Backend) AddBiasBackward(dbias, dout *tensors.Tensor) error {
	const op = "AddBiasBackward"
	if err := check(op, f32("dout", dout)); err != nil {
		return err
	}
	r, n, err := rows(op, "dout", dout)
	if err != nil {
		return err
	}
	if err := check(op, f32("dbias", dbias, n)); err != nil {
		return err
	}
	db, d := dbias.F32(), dout.F32()
	for i := range r { // row order: deterministic
		vec.Axpy(1, d[i*n:(i+1)*n], db)
	}
	return nil
}

func (*Backend) SiLU(out, x *tensors.Tensor) error {
	s, err := same("SiLU", "out", out, "x", x)
	if err != nil {
		return err
	}
	return wrap("SiLU", elementwise.SiLU(s[0], s[1]))
}

func (*Backend) SiLUBackward(dx, dout, x *tensors.Tensor) error {
	s, err := same("SiLUBackward", "dx", dx, "dout", dout, "x", x)
	if err != nil {
		return err
	}
	return wrap("SiLUBackward", elementwise.SiLUBackward(s[0], s[1], s[2]))
}

func (*Backend) GELU(out, x *tensors.Tensor) error {
	s, err := same("GELU", "out", out, "x", x)
	if err != nil {
		return err
	}
	return wrap("GELU", elementwise.GELU(s[0], s[1]))
}

func (*Backend) GELUBackward(dx, dout, x *tensors.Tensor) error {
	s, err := same("GELUBackward", "dx", dx, "dout", dout, "x", x)
	if err != nil {
		return err
	}
	return wrap("GELUBackward", elementwise.GELUBackward(s[0], s[1], s[2]))
}

func (*Backend) SwiGLU(out, gate, up *tensors.Tensor) error {
	const op = "SwiGLU"
	if out != nil && out.DType() == tensors.BF16 { // bf16 out: the rounded fp32 result
		s, err := same(op, "gate", gate, "up", up)
		if err != nil {
			return err
		}
		if err := check(op, bf16("out", out, gate.Shape()...)); err != nil {
			return err
		}
		return wrap(op, elementwise.SwiGLUBF16(out.BF16(), s[0], s[1]))
	}
	s, err := same(op, "out", out, "gate", gate, "up", up)
	if err != nil {
		return err
	}
	return wrap(op, elementwise.SwiGLU(s[0], s[1], s[2]))
}

func (*Backend) SwiGLUBackward(dgate, dup, dout, gate, up *tensors.Tensor) error {
	const op = "SwiGLUBackward"
	if dgate != nil && dgate.DType() == tensors.BF16 { // bf16 gradients: the rounded fp32 ones
		s, err := same(op, "dout", dout, "gate", gate, "up", up)
		if err != nil {
			return err
		}
		sh := dout.Shape()
		if err := check(op, bf16("dgate", dgate, sh...), bf16("dup", dup, sh...)); err != nil {
			return err
		}
		return wrap(op, elementwise.SwiGLUBackwardBF16(dgate.BF16(), dup.BF16(), s[0], s[1], s[2]))
	}
	s, err := same(op, "dgate", dgate, "dup", dup, "dout", dout, "gate", gate, "up", up)
	if err != nil {
		return err
	}
	return wrap(op, elementwise.SwiGLUBackward(s[0], s[1], s[2], s[3], s[4]))
}

// fused checks gateUp [T, 2F] against out [T, F] (any leading dims, flattened to T).
func fused(op string, gateUp, out *tensors.Tensor) (T, F int, err error) {
	if err = check(op, f32("gateUp", gateUp), f32("out", out)); err != nil {
		return
	}
	T, F2, err := rows(op, "gateUp", gateUp)
	if err != nil {
		return
	}
	if F2%2 != 0 || out.Numel() != T*F2/2 || out.Rank() != gateUp.Rank() {
		return 0, 0, fmt.Errorf("cpu.%s: gateUp %v needs out [..., %d], got %v", op, gateUp, F2/2, out)
	}
	return T, F2 / 2, nil
}

func (*Backend) SwiGLUFused(out, gateUp *tensors.Tensor) error {
	T, F, err := fused("SwiGLUFused", gateUp, out)
	if err != nil {
		return err
	}
	return wrap("SwiGLUFused", elementwise.SwiGLUFused(out.F32(), gateUp.F32(), T, F))
}

func (*Backend) SwiGLUFusedBackward(dGateUp, dout, gateUp *tensors.Tensor) error {
	const op = "SwiGLUFusedBackward"
	T, F, err := fused(op, gateUp, dout)
	if err != nil {
		return err
	}
	if _, err := same(op, "gateUp", gateUp, "dGateUp", dGateUp); err != nil {
		return err
	}
	return wrap(op, elementwise.SwiGLUFusedBackward(dGateUp.F32(), dout.F32(), gateUp.F32(), T, F))
}
