package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/vec"
	"github.com/glmflow/glmflow/tensors"
)

// rowArgs checks a [N, D] / [M, D] / idx [N] triple and that every index is in [0, M).
// It returns N, D, M and the indices.
func rowArgs(op string, many, few, idx *tensors.Tensor) (n, d, m int, ix []int32, err error) {
	if err = check(op, f32("src/dst", many), f32("rows", few), i32("idx", idx)); err != nil {
		return
	}
	if many.Rank() != 2 || few.Rank() != 2 || idx.Rank() != 1 || many.Dim(1) != few.Dim(1) || idx.Dim(0) != few.Dim(0) {
		return 0, 0, 0, nil, fmt.Errorf("cpu.%s: %v, %v and idx %v must be [M, D], [N, D] and [N]", op, many, few, idx)
	}
	n, d, m, ix = few.Dim(0), few.Dim(1), many.Dim(0), idx.I32()
	for i, r := range ix {
		if r < 0 || int(r) >= m {
			return 0, 0, 0, nil, fmt.Errorf("cpu.%s: idx[%d] = %d out of range [0, %d)", op, i, r, m)
		}
	}
	return
}

func (*Backend) GatherRows(out, src, idx *tensors.Tensor) error {
	n, d, _, ix, err := rowArgs("GatherRows", src, out, idx)
	if err != nil {
		return err
	}
	o, s := out.F32(), src.F32()
	for i := range n {
		copy(o[i*d:(i+1)*d], s[int(ix[i])*d:])
	}
	return nil
}

func (*Backend) ScatterRows(dst, src, idx *tensors.Tensor) error {
	n, d, m, ix, err := rowArgs("ScatterRows", dst, src, idx)
	if err != nil {
		return err
	}
	seen := make([]bool, m)
	for i, r := range ix {
		if seen[r] {
			return fmt.Errorf("cpu.ScatterRows: idx[%d] = %d repeats an earlier index", i, r)
		}
		seen[r] = true
	}
	o, s := dst.F32(), src.F32()
	for i := range n {
		copy(o[int(ix[i])*d:(int(ix[i])+1)*d], s[i*d:])
	}
	return nil
}

func (*Backend) ScatterAddRows(dst, src, idx *tensors.Tensor) error {
	n, d, _, ix, err := rowArgs("ScatterAddRows", dst, src, idx)
	if err != nil {
		return err
	}
	o, s := dst.F32(), src.F32()
	for i := range n { // index order: deterministic
		vec.Axpy(1, s[i*d:(i+1)*d], o[int(ix[i])*d:(int(ix[i])+1)*d])
	}
	return nil
}
