package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/tensors"
)

func (*Backend) Matmul(c, a, b *tensors.Tensor, o kernels.MatmulOpts) error {
	const op = "Matmul"
	d, err := kernels.CheckMatmul("cpu."+op, c, a, b, o)
	if err != nil {
		return err
	}
	if err := onCPU(op, "a", a, "b", b, "c", c); err != nil {
		return err
	}
	m, n, k, batch := d.M, d.N, d.K, d.Batch
	ma, mb, mc := d.A, d.B, d.C
	alpha := o.Alpha
	if alpha == 0 {
		alpha = 1
	}
	nb := max(batch, 1)
	if a.DType() == tensors.BF16 { // both bf16: VDPBF16PS where the CPU has it
		aw, bw := a.BF16(), b.BF16()
		for i := range nb {
			gemm.SgemmBF16(o.TransA, o.TransB, m, n, k, alpha, aw[i*ma.Stride():], ma.C,
				bw[i*mb.Stride():], mb.C, o.Beta, c.F32()[i*mc.Stride():], n)
		}
		return nil
	}
	if b.DType() == tensors.BF16 {
		bw := b.BF16()
		for i := range nb {
			gemm.SgemmBF16B(o.TransA, o.TransB, m, n, k, alpha, a.F32()[i*ma.Stride():], ma.C,
				bw[i*mb.Stride():], mb.C, o.Beta, c.F32()[i*mc.Stride():], n)
		}
		return nil
	}
	gemm.SgemmStrided(o.TransA, o.TransB, m, n, k, alpha, a.F32(), ma.C, ma.Stride(), b.F32(), mb.C, mb.Stride(),
		o.Beta, c.F32(), n, mc.Stride(), nb)
	return nil
}

// grouped checks the GroupedLinear family's shapes: rows [R, ·], weights [E, N, K], offs [E+1].
func grouped(op string, w, offs *tensors.Tensor) (E, N, K int, err error) {
	if err = check(op, f32("w", w), i32("offs", offs)); err != nil {
		return
	}
	if w.Rank() != 3 || offs.Rank() != 1 || offs.Dim(0) != w.Dim(0)+1 {
		return 0, 0, 0, fmt.Errorf("cpu.%s: w %v and offs %v: want w [E, N, K] and offs [E+1]", op, w, offs)
	}
	return w.Dim(0), w.Dim(1), w.Dim(2), nil
}

func (*Backend) GroupedLinear(y, x, w, offs *tensors.Tensor) error {
	const op = "GroupedLinear"
	E, N, K, err := grouped(op, w, offs)
	if err != nil {
		return err
	}
	R := x.Numel() / max(K, 1)
	if err := check(op, f32("x", x, R, K), f32("y", y, R, N)); err != nil {
		return err
	}
	return wrap(op, moe.GroupedLinear(E, R, N, K, x.F32(), w.F32(), offs.I32(), y.F32()))
}

func (*Backend) GroupedLinearBackwardInput(dx, dy, w, offs *tensors.Tensor) error {
	const op = "GroupedLinearBackwardInput"
	E, N, K, err := grouped(op, w, offs)
	if err != nil {
		return err
	}
	R := dy.Numel() / max(N, 1)
	if err := check(op, f32("dy", dy, R, N), f32("dx", dx, R, K)); err != nil {
		return err
	}
	return wrap(op, moe.GroupedLinearBackwardInput(E, R, N, K, dy.F32(), w.F32(), offs.I32(), dx.F32()))
}

func (*Backend) GroupedLinearBackwardWeight(dw, dy, x, offs *tensors.Tensor) error {
	const op = "GroupedLinearBackwardWeight"
	E, N, K, err := grouped(op, dw, offs)
	if err != nil {
		return err
	}
	R := dy.Numel() / max(N, 1)
	if err := check(op, f32("dy", dy, R, N), f32("x", x, R, K)); err != nil {
		return err
	}
	return wrap(op, moe.GroupedLinearBackwardWeight(E, R, N, K, dy.F32(), x.F32(), offs.I32(), dw.F32()))
}
