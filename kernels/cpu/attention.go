package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/attention"
	"github.com/glmflow/glmflow/tensors"
)

// attnParams derives T, H, K, Dh from q [T, H, Dh] and k [T, K, Dh].
func attnParams(op string, q, k *tensors.Tensor, o kernels.AttentionOpts) (attention.Params, error) {
	if q == nil || k == nil || q.Rank() != 3 || k.Rank() != 3 {
		return attention.Params{}, fmt.Errorf("cpu.%s: q %v and k %v must be [T, H, Dh] and [T, K, Dh]", op, q, k)
	}
	return attention.Params{T: q.Dim(0), H: q.Dim(1), K: k.Dim(1), Dh: q.Dim(2),
		Scale: o.Scale, Causal: o.Causal, CuSeqlens: o.CuSeqlens, KeyPad: o.KeyPad, BF16: o.BF16}, nil
}

func (*Backend) Attention(o, lse, q, k, v *tensors.Tensor, opts kernels.AttentionOpts) error {
	const op = "Attention"
	p, err := attnParams(op, q, k, opts)
	if err != nil {
		return err
	}
	if q.DType() == tensors.BF16 { // bf16 operands as given (opts.BF16)
		if err := check(op, bf16("q", q), bf16("k", k, p.T, p.K, p.Dh), bf16("v", v, p.T, p.K, p.Dh),
			f32("o", o, p.T, p.H, p.Dh), f32("lse", lse, p.H, p.T)); err != nil {
			return err
		}
		return wrap(op, attention.Forward16(o.F32(), lse.F32(), q.BF16(), k.BF16(), v.BF16(), p))
	}
	if err := check(op, f32("q", q), f32("k", k, p.T, p.K, p.Dh), f32("v", v, p.T, p.K, p.Dh),
		f32("o", o, p.T, p.H, p.Dh), f32("lse", lse, p.H, p.T)); err != nil {
		return err
	}
	return wrap(op, attention.Forward(o.F32(), lse.F32(), q.F32(), k.F32(), v.F32(), p))
}

func (*Backend) AttentionBackward(dq, dk, dv, do, q, k, v, o, lse *tensors.Tensor, opts kernels.AttentionOpts) error {
	const op = "AttentionBackward"
	p, err := attnParams(op, q, k, opts)
	if err != nil {
		return err
	}
	qs, ks := []int{p.T, p.H, p.Dh}, []int{p.T, p.K, p.Dh}
	if q.DType() == tensors.BF16 { // bf16 operands as given (opts.BF16)
		if err := check(op, bf16("q", q), bf16("k", k, ks...), bf16("v", v, ks...), f32("o", o, qs...),
			f32("lse", lse, p.H, p.T), f32("do", do, qs...), f32("dq", dq, qs...), f32("dk", dk, ks...),
			f32("dv", dv, ks...)); err != nil {
			return err
		}
		return wrap(op, attention.Backward16(dq.F32(), dk.F32(), dv.F32(), do.F32(), q.BF16(), k.BF16(), v.BF16(),
			o.F32(), lse.F32(), p))
	}
	if err := check(op, f32("q", q), f32("k", k, ks...), f32("v", v, ks...), f32("o", o, qs...),
		f32("lse", lse, p.H, p.T), f32("do", do, qs...), f32("dq", dq, qs...), f32("dk", dk, ks...),
		f32("dv", dv, ks...)); err != nil {
		return err
	}
	return wrap(op, attention.Backward(dq.F32(), dk.F32(), dv.F32(), do.F32(), q.F32(), k.F32(), v.F32(),
		o.F32(), lse.F32(), p))
}
