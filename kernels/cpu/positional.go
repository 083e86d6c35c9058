package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/embedding"
	"github.com/glmflow/glmflow/kernels/gridsample"
	"github.com/glmflow/glmflow/kernels/rotary"
	"github.com/glmflow/glmflow/tensors"
)

// rotaryDims derives T, H, Dh, R from x [T, H, Dh] and cos [T, R/2].
func rotaryDims(op string, x, cos *tensors.Tensor) (T, H, Dh, R int, err error) {
	if x == nil || cos == nil || x.Rank() != 3 || cos.Rank() != 2 {
		return 0, 0, 0, 0, fmt.Errorf("cpu.%s: x %v and cos %v must be [T, H, Dh] and [T, R/2]", op, x, cos)
	}
	return x.Dim(0), x.Dim(1), x.Dim(2), 2 * cos.Dim(1), nil
}

func (*Backend) Rotary(out, x, cos, sin *tensors.Tensor) error {
	return rotate("Rotary", "out", "x", out, x, cos, sin, rotary.Forward, rotary.Forward16)
}

func (*Backend) RotaryBackward(dx, dout, cos, sin *tensors.Tensor) error {
	return rotate("RotaryBackward", "dx", "dout", dx, dout, cos, sin, rotary.Backward, rotary.Backward16)
}

// rotate checks and runs Rotary or RotaryBackward (op) with out named outName and x named
// inName: f32 for an F32 out (which may alias x), f16 for a BF16 out (the F32 result rounded).
func rotate(op, outName, inName string, out, x, cos, sin *tensors.Tensor,
	f32f func(out, x, cos, sin []float32, T, H, Dh, R int) error,
	f16f func(out []uint16, x, cos, sin []float32, T, H, Dh, R int) error) error {
	T, H, Dh, R, err := rotaryDims(op, x, cos)
	if err != nil {
		return err
	}
	if out != nil && out.DType() == tensors.BF16 {
		if err := check(op, f32(inName, x), bf16(outName, out, T, H, Dh), f32("cos", cos), f32("sin", sin, T, R/2)); err != nil {
			return err
		}
		return wrap(op, f16f(out.BF16(), x.F32(), cos.F32(), sin.F32(), T, H, Dh, R))
	}
	if err := check(op, f32(inName, x), f32(outName, out, T, H, Dh), f32("cos", cos), f32("sin", sin, T, R/2)); err != nil {
		return err
	}
	return wrap(op, f32f(out.F32(), x.F32(), cos.F32(), sin.F32(), T, H, Dh, R))
}

// gridDims derives H0, W0, C, N from table [H0, W0, C] and grid [N, 2].
func gridDims(op string, table, grid *tensors.Tensor) (H0, W0, C, N int, err error) {
	if table == nil || grid == nil || table.Rank() != 3 || grid.Rank() != 2 || grid.Dim(1) != 2 {
		return 0, 0, 0, 0, fmt.Errorf("cpu.%s: table %v and grid %v must be [H0, W0, C] and [N, 2]", op, table, grid)
	}
	return table.Dim(0), table.Dim(1), table.Dim(2), grid.Dim(0), nil
}

func (*Backend) GridSample(out, table, grid *tensors.Tensor) error {
	const op = "GridSample"
	H0, W0, C, N, err := gridDims(op, table, grid)
	if err != nil {
		return err
	}
	if err := check(op, f32("table", table), f32("grid", grid), f32("out", out, N, C)); err != nil {
		return err
	}
	return wrap(op, gridsample.Forward(out.F32(), table.F32(), grid.F32(), H0, W0, C, N))
}

func (*Backend) GridSampleBackward(dtable, dout, grid *tensors.Tensor) error {
	const op = "GridSampleBackward"
	H0, W0, C, N, err := gridDims(op, dtable, grid)
	if err != nil {
		return err
	}
	if err := check(op, f32("dtable", dtable), f32("grid", grid), f32("dout", dout, N, C)); err != nil {
		return err
	}
	return wrap(op, gridsample.Backward(dtable.F32(), nil, dout.F32(), nil, grid.F32(), H0, W0, C, N))
}

// embedDims checks table [V, D] and ids [T] (I32).
func embedDims(op string, table, ids *tensors.Tensor) (T, V, D int, err error) {
	if err = check(op, f32("table", table), i32("ids", ids)); err != nil {
		return
	}
	if table.Rank() != 2 || ids.Rank() != 1 {
		return 0, 0, 0, fmt.Errorf("cpu.%s: table %v and ids %v must be [V, D] and [T]", op, table, ids)
	}
	return ids.Dim(0), table.Dim(0), table.Dim(1), nil
}

func (*Backend) Embedding(out, table, ids *tensors.Tensor) error {
	const op = "Embedding"
	T, V, D, err := embedDims(op, table, ids)
	if err != nil {
		return err
	}
	if err := check(op, f32("out", out, T, D)); err != nil {
		return err
	}
	return wrap(op, embedding.Forward(out.F32(), table.F32(), ids.I32(), V, D))
}

func (*Backend) EmbeddingBackward(dtable, dout, ids *tensors.Tensor, paddingIdx int) error {
	const op = "EmbeddingBackward"
	T, V, D, err := embedDims(op, dtable, ids)
	if err != nil {
		return err
	}
	if err := check(op, f32("dout", dout, T, D)); err != nil {
		return err
	}
	return wrap(op, embedding.Backward(dtable.F32(), dout.F32(), ids.I32(), V, D, paddingIdx))
}
