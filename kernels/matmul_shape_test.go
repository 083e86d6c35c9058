package kernels

import (
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

func TestCheckMatmul(t *testing.T) {
	f := func(shape ...int) *tensors.Tensor { return tensors.New(tensors.F32, shape...) }
	h := func(shape ...int) *tensors.Tensor { return tensors.New(tensors.BF16, shape...) }
	// Batched A broadcast against a rank-2 B, transposed B.
	d, err := CheckMatmul("x", f(3, 4, 5), f(3, 4, 6), h(5, 6), MatmulOpts{TransB: true})
	if err != nil || d.M != 4 || d.N != 5 || d.K != 6 || d.Batch != 3 || d.A.Stride() != 24 || d.B.Stride() != 0 || d.C.Stride() != 20 {
		t.Fatalf("%+v, %v", d, err)
	}
	for _, c := range []struct {
		c, a, b *tensors.Tensor
		o       MatmulOpts
		want    string
	}{
		{f(4, 5), f(4, 6), f(5, 6), MatmulOpts{}, "does not give c"},
		{f(4, 5), h(4, 6), f(6, 5), MatmulOpts{}, "want F32×F32, F32×BF16 or BF16×BF16"},
		{h(4, 5), f(4, 6), f(6, 5), MatmulOpts{}, "want F32"},
		{f(4, 5), f(2, 2, 4, 6), f(6, 5), MatmulOpts{}, "want rank 2 or 3"},
		{f(3, 4, 5), f(3, 4, 6), f(2, 6, 5), MatmulOpts{}, "disagree"},
		{f(4, 5), f(3, 4, 6), f(6, 5), MatmulOpts{}, "must carry the batch"},
		{f(4, 5), nil, f(6, 5), MatmulOpts{}, "nil"},
	} {
		if _, err := CheckMatmul("x.Matmul", c.c, c.a, c.b, c.o); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x.Matmul: ") {
			t.Errorf("%v·%v→%v: err %v, want %q", c.a, c.b, c.c, err, c.want)
		}
	}
}
