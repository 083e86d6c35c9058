package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/tensors"
)

func (b *Backend) rotary(op string, out, x, cos, sin *tensors.Tensor, inverse bool) error {
	if x == nil || cos == nil || x.Rank() != 3 || cos.Rank() != 2 {
		return fmt.Errorf("cuda.%s: x %v and cos %v must be [T, H, Dh] and [T, R/2]", op, x, cos)
	}
	T, H, Dh, R := x.Dim(0), x.Dim(1), x.Dim(2), 2*cos.Dim(1)
	if err := b.check(op, f32("x", x), f32("out", out, T, H, Dh), f32("cos", cos, T, R/2), f32("sin", sin, T, R/2)); err != nil {
		return err
	}
	if R > Dh {
		return fmt.Errorf("cuda.%s: rotary dims %d exceed the head dim %d", op, R, Dh)
	}
	if err := fits32(op, T, H, Dh); err != nil {
		return err
	}
	n := T * H * (Dh - R/2)
	return b.run(op, func() error {
		return b.launch("rotary_f32", dims(n), new(kargs).p(dptr(out)).p(dptr(x)).p(dptr(cos)).p(dptr(sin)).i(T).i(H).i(Dh).i(R).b(inverse))
	})
}

func (b *Backend) Rotary(out, x, cos, sin *tensors.Tensor) error {
	return b.rotary("Rotary", out, x, cos, sin, false)
}

func (b *Backend) RotaryBackward(dx, dout, cos, sin *tensors.Tensor) error {
	return b.rotary("RotaryBackward", dx, dout, cos, sin, true)
}

// embedDims checks table [V, D] and ids [T] and the ids' range.
func (b *Backend) embedDims(op string, table, ids *tensors.Tensor) (T, V, D int, err error) {
	if err = b.check(op, f32("table", table), i32("ids", ids)); err != nil {
		return
	}
	if table.Rank() != 2 || ids.Rank() != 1 {
		return 0, 0, 0, fmt.Errorf("cuda.%s: table %v and ids %v must be [V, D] and [T]", op, table, ids)
	}
	T, V, D = ids.Dim(0), table.Dim(0), table.Dim(1)
	if err = fits32(op, T, V, D); err != nil {
		return
	}
	ix, err := b.hostI32(ids)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cuda.%s: %w", op, err)
	}
	for i, v := range ix {
		if v < 0 || int(v) >= V {
			return 0, 0, 0, fmt.Errorf("cuda.%s: ids[%d] = %d out of range [0, %d)", op, i, v, V)
		}
	}
	return
}

func (b *Backend) Embedding(out, table, ids *tensors.Tensor) error {
	const op = "Embedding"
	T, _, D, err := b.embedDims(op, table, ids)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("out", out, T, D)); err != nil {
		return err
	}
	return b.run(op, func() error { return b.rows2D("gather_rows_f32", out, table, ids, T, D) })
}

func (b *Backend) EmbeddingBackward(dtable, dout, ids *tensors.Tensor, paddingIdx int) error {
	const op = "EmbeddingBackward"
	T, _, D, err := b.embedDims(op, dtable, ids)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("dout", dout, T, D)); err != nil {
		return err
	}
	if paddingIdx < -1 || paddingIdx > 1<<31-1 {
		return fmt.Errorf("cuda.%s: paddingIdx %d", op, paddingIdx)
	}
	return b.run(op, func() error {
		return b.launch("scatter_add_rows_f32", dims(T), new(kargs).p(dptr(dtable)).p(dptr(dout)).p(dptr(ids)).i(T).i(D).i(paddingIdx))
	})
}

func gridDims(op string, table, grid *tensors.Tensor) (H0, W0, C, N int, err error) {
	if table == nil || grid == nil || table.Rank() != 3 || grid.Rank() != 2 || grid.Dim(1) != 2 {
		return 0, 0, 0, 0, fmt.Errorf("cuda.%s: table %v and grid %v must be [H0, W0, C] and [N, 2]", op, table, grid)
	}
	H0, W0, C, N = table.Dim(0), table.Dim(1), table.Dim(2), grid.Dim(0)
	return H0, W0, C, N, fits32(op, H0, W0, C, N, N*C)
}

func (b *Backend) GridSample(out, table, grid *tensors.Tensor) error {
	const op = "GridSample"
	H0, W0, C, N, err := gridDims(op, table, grid)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("table", table), f32("grid", grid), f32("out", out, N, C)); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("gridsample_forward_f32", dims(N*C), new(kargs).p(dptr(out)).p(dptr(table)).p(dptr(grid)).i(H0).i(W0).i(C).i(N))
	})
}

func (b *Backend) GridSampleBackward(dtable, dout, grid *tensors.Tensor) error {
	const op = "GridSampleBackward"
	H0, W0, C, N, err := gridDims(op, dtable, grid)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("dtable", dtable), f32("grid", grid), f32("dout", dout, N, C)); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("gridsample_backward_f32", dims(H0*W0), new(kargs).p(dptr(dtable)).p(dptr(dout)).p(dptr(grid)).i(H0).i(W0).i(C).i(N))
	})
}
