package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/moe"
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
	return mat{}, fmt.Errorf("cpu.%s: %s is %v, want rank 2 or 3", op, name, t)
}

func (*Backend) Matmul(c, a, b *tensors.Tensor, o kernels.MatmulOpts) error {
	const op = "Matmul"
	if err := check(op, f32("c", c)); err != nil {
		return err
	}
	if a == nil || b == nil {
		return fmt.Errorf("cpu.%s: a or b is nil", op)
	}
	if err := onCPU(op, "a", a, "b", b); err != nil {
		return err
	}
	switch da, db := a.DType(), b.DType(); {
	case da == tensors.F32 && (db == tensors.F32 || db == tensors.BF16), da == tensors.BF16 && db == tensors.BF16:
	default:
		return fmt.Errorf("cpu.%s: a %v × b %v: want F32×F32, F32×BF16 or BF16×BF16", op, a, b)
	}
	ma, err := matOf(op, "a", a)
	if err != nil {
		return err
	}
	mb, err := matOf(op, "b", b)
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
		return fmt.Errorf("cpu.%s: op(a) [%d %d] · op(b) [%d %d] does not give c %v", op, m, k, kb, n, c)
	case ma.batch != 0 && ma.batch != batch, mb.batch != 0 && mb.batch != batch:
		return fmt.Errorf("cpu.%s: batch sizes of a %v, b %v, c %v disagree", op, a, b, c)
	case batch > 0 && mc.batch != batch:
		return fmt.Errorf("cpu.%s: c %v must carry the batch dimension %d", op, c, batch)
	}
	alpha := o.Alpha
	if alpha == 0 {
		alpha = 1
	}
	stride := func(x mat) int {
		if x.batch == 0 {
			return 0
		}
		return x.r * x.c
	}
	nb := max(batch, 1)
	if a.DType() == tensors.BF16 { // both bf16: VDPBF16PS where the CPU has it
		aw, bw := a.BF16(), b.BF16()
		for i := range nb {
			gemm.SgemmBF16(o.TransA, o.TransB, m, n, k, alpha, aw[i*stride(ma):], ma.c,
				bw[i*stride(mb):], mb.c, o.Beta, c.F32()[i*stride(mc):], n)
		}
		return nil
	}
	if b.DType() == tensors.BF16 {
		bw := b.BF16()
		for i := range nb {
			gemm.SgemmBF16B(o.TransA, o.TransB, m, n, k, alpha, a.F32()[i*stride(ma):], ma.c,
				bw[i*stride(mb):], mb.c, o.Beta, c.F32()[i*stride(mc):], n)
		}
		return nil
	}
	gemm.SgemmStrided(o.TransA, o.TransB, m, n, k, alpha, a.F32(), ma.c, stride(ma), b.F32(), mb.c, stride(mb),
		o.Beta, c.F32(), n, stride(mc), nb)
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
