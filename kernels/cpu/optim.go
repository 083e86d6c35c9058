package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/optim"
	"github.com/glmflow/glmflow/tensors"
)

func (*Backend) AdamW(param, grad, m, v *tensors.Tensor, o kernels.AdamWOpts) error {
	const op = "AdamW"
	s, err := same(op, "param", param, "grad", grad, "m", m, "v", v)
	if err != nil {
		return err
	}
	if s[0] == nil || s[1] == nil || s[2] == nil || s[3] == nil {
		return wrap(op, errNil)
	}
	cfg := optim.AdamW{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
	return wrap(op, cfg.Step(s[0], s[1], s[2], s[3], o.Step))
}

// data checks that every tensor is F32 on the CPU and returns their data in order.
func data(op string, ts []*tensors.Tensor) ([][]float32, error) {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		if err := check(op, f32(fmt.Sprintf("ts[%d]", i), t)); err != nil {
			return nil, err
		}
		out[i] = t.F32()
	}
	return out, nil
}

func (*Backend) GlobalNorm(ts []*tensors.Tensor) (float64, error) {
	d, err := data("GlobalNorm", ts)
	if err != nil {
		return 0, err
	}
	return optim.GlobalNorm(d), nil
}

func (*Backend) ClipByGlobalNorm(ts []*tensors.Tensor, maxNorm float64) (float64, error) {
	d, err := data("ClipByGlobalNorm", ts)
	if err != nil {
		return 0, err
	}
	n, err := optim.ClipByGlobalNorm(d, maxNorm)
	return n, wrap("ClipByGlobalNorm", err)
}
