package attention

import (
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

func BenchmarkZZFB(b *testing.B) {
	c := benchCases[1].c
	p := c.params()
	p.BF16 = true
	in := makeInputs(c, 1)
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	q, k, v := make([]uint16, nq), make([]uint16, nk), make([]uint16, nk)
	tensors.F32ToBF16(q, in.q)
	tensors.F32ToBF16(k, in.k)
	tensors.F32ToBF16(v, in.v)
	o, lse := make([]float32, nq), make([]float32, c.H*c.T)
	dq, dk, dv := make([]float32, nq), make([]float32, nk), make([]float32, nk)
	for b.Loop() {
		Forward16(o, lse, q, k, v, p)
		Backward16(dq, dk, dv, in.do, q, k, v, o, lse, p)
	}
}
