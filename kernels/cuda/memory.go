package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

func (b *Backend) Alloc(dt tensors.DType, shape ...int) (t *tensors.Tensor, err error) {
	err = b.run("Alloc", func() error {
		if t, err = b.newTensor(dt, shape); err != nil {
			return err
		}
		return b.d.MemsetD8Async(dptr(t), 0, uint64(t.NBytes()), b.stream)
	})
	return t, err
}

func (b *Backend) Upload(host *tensors.Tensor) (t *tensors.Tensor, err error) {
	if host == nil {
		return nil, fmt.Errorf("cuda.Upload: host is nil")
	}
	if host.Device().CUDA {
		return nil, fmt.Errorf("cuda.Upload: %v is not in host memory", host)
	}
	src := host.Bytes()
	if src == nil && host.NBytes() > 0 {
		return nil, fmt.Errorf("cuda.Upload: %v has no host memory (released?)", host)
	}
	err = b.run("Upload", func() error {
		if t, err = b.newTensor(host.DType(), host.Shape()); err != nil {
			return err
		}
		if len(src) == 0 {
			return nil
		}
		// Pageable source: the driver stages it before returning, so src may change after.
		return b.d.MemcpyHtoD(dptr(t), src)
	})
	return t, err
}

func (b *Backend) Download(t *tensors.Tensor) (*tensors.Tensor, error) {
	if err := b.onDevice("Download", "t", t); err != nil {
		return nil, err
	}
	out := tensors.New(t.DType(), t.Shape()...)
	err := b.run("Download", func() error {
		if err := b.syncLocked(); err != nil { // the stream's queued work first, and its errors
			return err
		}
		if out.NBytes() == 0 {
			return nil
		}
		return b.d.MemcpyDtoH(out.Bytes(), dptr(t))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Backend) Copy(dst, src *tensors.Tensor) error {
	const op = "Copy"
	if err := b.onDevice(op, "dst", dst); err != nil {
		return err
	}
	if err := b.onDevice(op, "src", src); err != nil {
		return err
	}
	if dst.DType() != src.DType() || dst.Numel() != src.Numel() {
		return fmt.Errorf("cuda.Copy: dst %v, src %v: dtype and element count must match", dst, src)
	}
	return b.run(op, func() error {
		if dst.NBytes() == 0 || dptr(dst) == dptr(src) {
			return nil
		}
		return b.d.MemcpyDtoDAsync(dptr(dst), dptr(src), uint64(src.NBytes()), b.stream)
	})
}

func (b *Backend) Zero(t *tensors.Tensor) error {
	if err := b.onDevice("Zero", "t", t); err != nil {
		return err
	}
	return b.run("Zero", func() error {
		return b.d.MemsetD8Async(dptr(t), 0, uint64(t.NBytes()), b.stream)
	})
}

func (b *Backend) Cast(dst, src *tensors.Tensor) error {
	const op = "Cast"
	if err := b.onDevice(op, "dst", dst); err != nil {
		return err
	}
	if err := b.onDevice(op, "src", src); err != nil {
		return err
	}
	if dst.Numel() != src.Numel() {
		return fmt.Errorf("cuda.Cast: dst %v and src %v differ in element count", dst, src)
	}
	sd, dd := src.DType(), dst.DType()
	var kernel string
	switch {
	case sd == dd:
		return b.Copy(dst, src)
	case sd == tensors.F32 && dd == tensors.BF16:
		kernel = "cast_f32_to_bf16"
	case sd == tensors.BF16 && dd == tensors.F32:
		kernel = "cast_bf16_to_f32"
	default:
		return fmt.Errorf("cuda.Cast: %v → %v: %w", sd, dd, kernels.ErrUnsupported)
	}
	n := src.Numel()
	return b.run(op, func() error {
		return b.launch(kernel, dims(n), new(kargs).p(dptr(dst)).p(dptr(src)).l(n))
	})
}

// rowArgs checks [M, D] / [N, D] / idx [N] and, since indices live on the device, reads them
// back to validate the range (as the CPU backend does) — a small [N] I32 download.
func (b *Backend) rowArgs(op string, many, few, idx *tensors.Tensor, distinct bool) (n, d, m int, err error) {
	if err = b.check(op, f32("src/dst", many), f32("rows", few), i32("idx", idx)); err != nil {
		return
	}
	if many.Rank() != 2 || few.Rank() != 2 || idx.Rank() != 1 || many.Dim(1) != few.Dim(1) || idx.Dim(0) != few.Dim(0) {
		return 0, 0, 0, fmt.Errorf("cuda.%s: %v, %v and idx %v must be [M, D], [N, D] and [N]", op, many, few, idx)
	}
	n, d, m = few.Dim(0), few.Dim(1), many.Dim(0)
	if err = fits32(op, n, d, m); err != nil {
		return
	}
	ix, err := b.hostI32(idx)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cuda.%s: %w", op, err)
	}
	var seen []bool
	if distinct {
		seen = make([]bool, m)
	}
	for i, r := range ix {
		if r < 0 || int(r) >= m {
			return 0, 0, 0, fmt.Errorf("cuda.%s: idx[%d] = %d out of range [0, %d)", op, i, r, m)
		}
		if distinct {
			if seen[r] {
				return 0, 0, 0, fmt.Errorf("cuda.%s: idx[%d] = %d repeats an earlier index", op, i, r)
			}
			seen[r] = true
		}
	}
	return
}

// hostI32 downloads an I32 tensor's values.
func (b *Backend) hostI32(t *tensors.Tensor) ([]int32, error) {
	h, err := b.Download(t)
	if err != nil {
		return nil, err
	}
	return h.I32(), nil
}

func (b *Backend) GatherRows(out, src, idx *tensors.Tensor) error {
	const op = "GatherRows"
	n, d, _, err := b.rowArgs(op, src, out, idx, false)
	if err != nil {
		return err
	}
	return b.run(op, func() error { return b.rows2D("gather_rows_f32", out, src, idx, n, d) })
}

func (b *Backend) ScatterRows(dst, src, idx *tensors.Tensor) error {
	const op = "ScatterRows"
	n, d, _, err := b.rowArgs(op, dst, src, idx, true)
	if err != nil {
		return err
	}
	return b.run(op, func() error { return b.rows2D("scatter_rows_f32", dst, src, idx, n, d) })
}

func (b *Backend) ScatterAddRows(dst, src, idx *tensors.Tensor) error {
	const op = "ScatterAddRows"
	n, d, _, err := b.rowArgs(op, dst, src, idx, false)
	if err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("scatter_add_rows_f32", dims(n), new(kargs).p(dptr(dst)).p(dptr(src)).p(dptr(idx)).i(n).i(d).i(-1))
	})
}

// rows2D launches a row kernel (grid N) with arguments (x, y, idx, N, D).
func (b *Backend) rows2D(kernel string, x, y, idx *tensors.Tensor, n, d int) error {
	return b.launch(kernel, dims(n), new(kargs).p(dptr(x)).p(dptr(y)).p(dptr(idx)).i(n).i(d))
}
