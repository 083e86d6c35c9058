package kernels

import (
	"fmt"

	"github.com/glmflow/glmflow/tensors"
)

// Mat is a Matmul operand's shape: Batch matrices of R×C (Batch 0: one matrix, rank 2).
type Mat struct{ Batch, R, C int }

// Stride is the element distance between the operand's matrices (0 when not batched).
func (m Mat) Stride() int {
	if m.Batch == 0 {
		return 0
	}
	return m.R * m.C
}

// MatmulDims are the checked dimensions of C = op(A)·op(B): M×K times K×N, Batch matrices
// (0: none), and each operand's shape.
type MatmulDims struct {
	M, N, K, Batch int
	A, B, C        Mat
}

// CheckMatmul validates Matmul's operands for every backend: dtypes (F32×F32, F32×BF16 or
// BF16×BF16 into F32), ranks 2 or 3, inner dimensions, output shape and batch sizes (a rank-2
// operand is broadcast over the batch; C must carry it). who prefixes the errors ("cpu.Matmul").
func CheckMatmul(who string, c, a, b *tensors.Tensor, o MatmulOpts) (MatmulDims, error) {
	var d MatmulDims
	if c == nil || a == nil || b == nil {
		return d, fmt.Errorf("%s: c, a or b is nil", who)
	}
	if c.DType() != tensors.F32 {
		return d, fmt.Errorf("%s: c is %v, want F32", who, c)
	}
	switch da, db := a.DType(), b.DType(); {
	case da == tensors.F32 && (db == tensors.F32 || db == tensors.BF16), da == tensors.BF16 && db == tensors.BF16:
	default:
		return d, fmt.Errorf("%s: a %v × b %v: want F32×F32, F32×BF16 or BF16×BF16", who, a, b)
	}
	for _, x := range []struct {
		name string
		t    *tensors.Tensor
		dst  *Mat
	}{{"a", a, &d.A}, {"b", b, &d.B}, {"c", c, &d.C}} {
		switch x.t.Rank() {
		case 2:
			*x.dst = Mat{0, x.t.Dim(0), x.t.Dim(1)}
		case 3:
			*x.dst = Mat{x.t.Dim(0), x.t.Dim(1), x.t.Dim(2)}
		default:
			return d, fmt.Errorf("%s: %s is %v, want rank 2 or 3", who, x.name, x.t)
		}
	}
	m, k := d.A.R, d.A.C
	if o.TransA {
		m, k = k, m
	}
	kb, n := d.B.R, d.B.C
	if o.TransB {
		kb, n = n, kb
	}
	batch := max(d.A.Batch, d.B.Batch, d.C.Batch)
	switch {
	case k != kb || d.C.R != m || d.C.C != n:
		return d, fmt.Errorf("%s: op(a) [%d %d] · op(b) [%d %d] does not give c %v", who, m, k, kb, n, c)
	case d.A.Batch != 0 && d.A.Batch != batch, d.B.Batch != 0 && d.B.Batch != batch:
		return d, fmt.Errorf("%s: batch sizes of a %v, b %v, c %v disagree", who, a, b, c)
	case batch > 0 && d.C.Batch != batch:
		return d, fmt.Errorf("%s: c %v must carry the batch dimension %d", who, c, batch)
	}
	d.M, d.N, d.K, d.Batch = m, n, k, batch
	return d, nil
}
