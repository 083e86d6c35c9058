package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/tensors"
)

// maxHeadDim is the largest head dimension attention.cu's tiles hold.
const maxHeadDim = 128

// attnPlan is an attention call's sizes and its segment table.
type attnPlan struct {
	T, H, K, Dh   int
	scale         float32
	cu            []int32 // [nseg+1]
	maxSeg        int
	pad           []byte // [T] 1 = padding key; nil: none
	causal, bf16s bool
}

func attnPlanOf(op string, q, k *tensors.Tensor, o kernels.AttentionOpts) (attnPlan, error) {
	if q == nil || k == nil || q.Rank() != 3 || k.Rank() != 3 {
		return attnPlan{}, fmt.Errorf("cuda.%s: q %v and k %v must be [T, H, Dh] and [T, K, Dh]", op, q, k)
	}
	p := attnPlan{T: q.Dim(0), H: q.Dim(1), K: k.Dim(1), Dh: q.Dim(2), scale: o.Scale, causal: o.Causal, bf16s: o.BF16}
	switch {
	case p.K == 0 || p.H%p.K != 0:
		return p, fmt.Errorf("cuda.%s: %d query heads are not a multiple of %d kv heads", op, p.H, p.K)
	case p.Dh > maxHeadDim:
		return p, fmt.Errorf("cuda.%s: head dim %d > %d: %w", op, p.Dh, maxHeadDim, kernels.ErrUnsupported)
	}
	if err := fits32(op, p.T*p.H*p.Dh); err != nil {
		return p, err
	}
	if p.scale == 0 {
		p.scale = float32(1 / math.Sqrt(float64(p.Dh)))
	}
	p.cu = o.CuSeqlens
	if p.cu == nil {
		p.cu = []int32{0, int32(p.T)}
	}
	if len(p.cu) < 2 || p.cu[0] != 0 || int(p.cu[len(p.cu)-1]) != p.T {
		return p, fmt.Errorf("cuda.%s: CuSeqlens must run from 0 to T = %d, got %v", op, p.T, p.cu)
	}
	for i := 1; i < len(p.cu); i++ {
		if p.cu[i] < p.cu[i-1] {
			return p, fmt.Errorf("cuda.%s: CuSeqlens decreases at %d", op, i)
		}
		p.maxSeg = max(p.maxSeg, int(p.cu[i]-p.cu[i-1]))
	}
	if o.KeyPad != nil {
		if len(o.KeyPad) != p.T {
			return p, fmt.Errorf("cuda.%s: KeyPad has %d entries, want T = %d", op, len(o.KeyPad), p.T)
		}
		p.pad = make([]byte, p.T)
		for i, v := range o.KeyPad {
			if v {
				p.pad[i] = 1
			}
		}
	}
	return p, nil
}

// tablesLocked uploads the segment table and key padding into scratch (queued on the stream,
// so they are in place before the kernels that read them).
func (b *Backend) tablesLocked(p attnPlan) (cu, pad driver.DevicePtr, err error) {
	if cu, err = b.scratchLocked(slotPartA, int64(len(p.cu))*4); err != nil {
		return
	}
	if err = b.d.MemcpyHtoDAsync(cu, unsafe.Pointer(&p.cu[0]), uint64(len(p.cu))*4, b.stream); err != nil {
		return
	}
	if p.pad != nil && p.T > 0 {
		if pad, err = b.scratchLocked(slotPartB, int64(p.T)); err != nil {
			return
		}
		err = b.d.MemcpyHtoDAsync(pad, unsafe.Pointer(&p.pad[0]), uint64(p.T), b.stream)
	}
	return
}

// tail appends the sizes and flags every attention kernel ends with.
func (p attnPlan) tail(a *kargs) *kargs {
	return a.i(p.T).i(p.H).i(p.K).i(p.Dh).f(p.scale).b(p.causal).b(p.bf16s)
}

func (b *Backend) Attention(o, lse, q, k, v *tensors.Tensor, opts kernels.AttentionOpts) error {
	const op = "Attention"
	p, err := attnPlanOf(op, q, k, opts)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("q", q), f32("k", k, p.T, p.K, p.Dh), f32("v", v, p.T, p.K, p.Dh),
		f32("o", o, p.T, p.H, p.Dh), f32("lse", lse, p.H, p.T)); err != nil {
		return err
	}
	return b.run(op, func() error {
		cu, pad, err := b.tablesLocked(p)
		if err != nil {
			return err
		}
		a := new(kargs).p(dptr(o)).p(dptr(lse)).p(dptr(q)).p(dptr(k)).p(dptr(v)).p(cu).p(pad)
		return b.launch("attention_forward_f32", dims(p.maxSeg, p.H, len(p.cu)-1), p.tail(a))
	})
}

func (b *Backend) AttentionBackward(dq, dk, dv, do, q, k, v, o, lse *tensors.Tensor, opts kernels.AttentionOpts) error {
	const op = "AttentionBackward"
	p, err := attnPlanOf(op, q, k, opts)
	if err != nil {
		return err
	}
	qs, ks := []int{p.T, p.H, p.Dh}, []int{p.T, p.K, p.Dh}
	if err := b.check(op, f32("q", q), f32("k", k, ks...), f32("v", v, ks...), f32("o", o, qs...),
		f32("lse", lse, p.H, p.T), f32("do", do, qs...), f32("dq", dq, qs...), f32("dk", dk, ks...),
		f32("dv", dv, ks...)); err != nil {
		return err
	}
	return b.run(op, func() error {
		cu, pad, err := b.tablesLocked(p)
		if err != nil {
			return err
		}
		dsum, err := b.scratchLocked(slotWide, int64(max(p.H*p.T, 1))*4)
		if err != nil {
			return err
		}
		if err := b.launch("attention_bwd_dsum_f32", dims(p.T*p.H), new(kargs).p(dsum).p(dptr(o)).p(dptr(do)).i(p.T).i(p.H).i(p.Dh)); err != nil {
			return err
		}
		nseg := len(p.cu) - 1
		a := new(kargs).p(dptr(dk)).p(dptr(dv)).p(dptr(q)).p(dptr(k)).p(dptr(v)).p(dptr(do)).p(dptr(lse)).p(dsum).p(cu).p(pad)
		if err := b.launch("attention_bwd_dkv_f32", dims(p.maxSeg, p.K, nseg), p.tail(a)); err != nil {
			return err
		}
		a = new(kargs).p(dptr(dq)).p(dptr(q)).p(dptr(k)).p(dptr(v)).p(dptr(do)).p(dptr(lse)).p(dsum).p(cu).p(pad)
		return b.launch("attention_bwd_dq_f32", dims(p.maxSeg, p.H, nseg), p.tail(a))
	})
}
