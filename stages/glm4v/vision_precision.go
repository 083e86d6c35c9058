package glm4v

// Mixed precision for the vision stage (VisionStageConfig.Precision = "bf16"): the standard
// bf16 recipe (PyTorch autocast, Megatron bf16). What is bf16 and what stays fp32:
//
//   - bf16: the two operands of every Linear/Conv GEMM — forward y = x·Wᵀ, input gradient
//     dx = dy·W, weight gradient dW += dyᵀ·x. Each activation is rounded to bf16 (round to
//     nearest even) once, and the bf16 copy is what every GEMM of that tensor reads (its
//     weight-gradient GEMM in BackwardWeight included), so the fp32 copy of a GEMM-only
//     activation is dropped early or never made: outputs that only GEMMs read are written in
//     bf16 by their producer when the backend offers it (gemmOut: the norm1/norm2 outputs h1,
//     h2 from RMSNorm, the SwiGLU product s and its gradients dgate, dup in the blocks and the
//     merger; bf16Outputs probes the backend once) — the same bits as an fp32 result plus
//     Backend.Cast, which the other GEMM operands (attention output, q/k/v and residual
//     gradients, merger activations) still take, since their fp32 values are needed as well.
//   - bf16 too: the products of attention (S = q·kᵀ, P·v and the backward products;
//     kernels.AttentionOpts.BF16: kernels/attention's dense per-image path for segments of up
//     to 1024 tokens, flash tiles beyond), with fp32 softmax, statistics and outputs. q, k, v
//     are kept only as the bf16 operands when the backend takes bf16 attention inputs
//     (bf16Attention: the rotary writes bf16 q, k; v is cast) — the same bits as rounding
//     fp32 q, k, v inside attention, which is the fallback.
//   - fp32: master weights and Param.Grad; every GEMM output and accumulator (VDPBF16PS
//     accumulates bf16 products in fp32; dW accumulates into the fp32 Grad with β = 1);
//     norms and their statistics, the attention softmax and outputs, rotary, SwiGLU/GELU, the residual stream,
//     biases and their gradients (summed from the fp32 output gradient), the position table.
//
// The bf16 weight copies. The GEMM weights are cast once into a cached generation
// (visGen) that micro-batches hold from Forward to BackwardWeight (recomputation reads the
// same copies). A Forward that finds no micro-batch in flight re-casts the cache in place:
// no micro-batch is in flight between optimizer steps (an optimizer step may only run then),
// so a training loop that updates Param.Value in place needs no call. The re-cast is one
// pass over the weights (≈ 3.5 ms for the 11.5 M-parameter benchmark tower, under 0.5% of a
// step); re-casting per Forward is what makes the cache impossible to get stale, and it costs
// one re-cast per micro-batch only in schedules that finish each micro-batch before the next
// one starts. InvalidateCaches forces a fresh generation at the next Forward even while
// micro-batches are in flight (they keep the copies they started with).

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// Precisions of VisionStageConfig.Precision.
const (
	PrecisionFP32 = "fp32"
	PrecisionBF16 = "bf16"
)

// visPrec is the GEMM-operand precision.
type visPrec uint8

const (
	precFP32 visPrec = iota
	precBF16         // bf16 operands, Backend.Matmul BF16×BF16
)

func parsePrecision(p string) (visPrec, error) {
	switch p {
	case "", PrecisionFP32:
		return precFP32, nil
	case PrecisionBF16:
		return precBF16, nil
	}
	return 0, fmt.Errorf("%s: precision %q: want %q or %q", VisionKind, p, PrecisionFP32, PrecisionBF16)
}

// bf16Outputs reports whether be writes BF16 outputs of RMSNorm, SwiGLU and SwiGLUBackward
// (optional in kernels.Backend), by running each once on a 1×2 problem; a backend without them
// gets F32 outputs and a Cast (the same bits either way).
func bf16Outputs(be kernels.Backend) bool {
	t := func(dt tensors.DType, shape ...int) *tensors.Tensor {
		x, err := be.Alloc(dt, shape...)
		if err != nil {
			return nil
		}
		return x
	}
	x, w, r := t(tensors.F32, 1, 2), t(tensors.F32, 2), t(tensors.F32, 1)
	y, z := t(tensors.BF16, 1, 2), t(tensors.BF16, 1, 2)
	for _, v := range []*tensors.Tensor{x, w, r, y, z} {
		if v == nil {
			return false
		}
	}
	return be.RMSNorm(y, r, x, w, 1e-6) == nil && be.SwiGLU(y, x, x) == nil &&
		be.SwiGLUBackward(y, z, x, x, x) == nil
}

// bf16Attention reports whether be takes the optional bf16 attention path: Rotary writing a
// BF16 out (and RotaryBackward a BF16 dx) and Attention/AttentionBackward reading BF16 q, k, v
// (opts.BF16), probed once on a one-token problem. With it the bf16 stage keeps q, k, v only
// as bf16 (the rounded values the attention products read anyway: the same bits as F32
// inputs), and without q/k/v biases its rotary backward writes dq, dk as the bf16 GEMM
// operands directly (the bits of F32 + Cast).
func bf16Attention(be kernels.Backend) bool {
	var err error
	t := func(dt tensors.DType, shape ...int) *tensors.Tensor {
		x, e := be.Alloc(dt, shape...)
		if e != nil && err == nil {
			err = e
		}
		return x
	}
	x, cs, o, lse := t(tensors.F32, 1, 1, 2), t(tensors.F32, 1, 1), t(tensors.F32, 1, 1, 2), t(tensors.F32, 1, 1)
	q := t(tensors.BF16, 1, 1, 2)
	dq, dk, dv := t(tensors.F32, 1, 1, 2), t(tensors.F32, 1, 1, 2), t(tensors.F32, 1, 1, 2)
	if err != nil {
		return false
	}
	opts := kernels.AttentionOpts{BF16: true}
	return be.Rotary(q, x, cs, cs) == nil && be.RotaryBackward(q, x, cs, cs) == nil &&
		be.Attention(o, lse, q, q, q, opts) == nil &&
		be.AttentionBackward(dq, dk, dv, x, q, q, q, o, lse, opts) == nil
}

// visGen is one generation of the GEMM weights in the operand precision: low[i] is the copy
// of params[gemmSlots[i]]; w has the GEMM weights as views of low and every other field as
// the fp32 parameter, so micro-batch code reads all its weights from one visWeights.
type visGen struct {
	low []*tensors.Tensor
	w   visWeights
}

// gemmParams lists the parameters that are GEMM weights (the rest: norms, biases, the
// position table, stay fp32 everywhere).
func gemmParams(v *Vision) []*Param {
	ps := []*Param{&v.PatchEmbed.Weight, &v.Downsample.Weight, &v.Merger.Proj.Weight,
		&v.Merger.MLP.GateProj.Weight, &v.Merger.MLP.UpProj.Weight, &v.Merger.MLP.DownProj.Weight}
	for i := range v.Blocks {
		b := &v.Blocks[i]
		ps = append(ps, &b.Attn.QKV.Weight, &b.Attn.Proj.Weight,
			&b.MLP.GateProj.Weight, &b.MLP.UpProj.Weight, &b.MLP.DownProj.Weight)
	}
	return ps
}

// InvalidateCaches makes the next Forward cast the GEMM weights afresh even if micro-batches
// are in flight (see the file comment for when the cache refreshes by itself). A no-op in
// fp32 mode.
func (s *VisionStage) InvalidateCaches() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
}

// acquire returns the weights a new micro-batch computes with and counts it in flight until
// release: the fp32 parameters, or the current bf16 generation (refreshed as described in the
// file comment).
func (s *VisionStage) acquire() (*visWeights, error) {
	if s.prec == precFP32 {
		return &s.w, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == nil || s.dirty || s.live == 0 {
		if s.gen == nil || s.live > 0 { // in place only when no micro-batch holds the copies
			g, err := s.newGen()
			if err != nil {
				return nil, err
			}
			s.gen = g
		}
		o := s.ops(nil)
		for i, k := range s.gemmSlots {
			o.castTo(s.gen.low[i], s.params[k].Value)
		}
		if o.err != nil {
			return nil, fmt.Errorf("%s: casting the weights: %w", VisionKind, o.err)
		}
		s.dirty = false
	}
	s.live++
	return &s.gen.w, nil
}

// release ends a micro-batch's hold on its weights.
func (s *VisionStage) release() {
	if s.prec == precFP32 {
		return
	}
	s.mu.Lock()
	s.live--
	s.mu.Unlock()
}

// newGen allocates a generation of low-precision GEMM weights (values unset).
func (s *VisionStage) newGen() (*visGen, error) {
	g := &visGen{low: make([]*tensors.Tensor, len(s.gemmSlots))}
	low := map[int]*tensors.Tensor{}
	for i, k := range s.gemmSlots {
		t, err := s.be.Alloc(tensors.BF16, s.slots[k].Shape...)
		if err != nil {
			return nil, fmt.Errorf("%s: bf16 copy of %s: %w", VisionKind, s.slots[k].Name, err)
		}
		g.low[i], low[k] = t, t
	}
	var err error
	g.w, err = s.resolve(s.tree, func(i int) *tensors.Tensor {
		if t, ok := low[i]; ok {
			return t
		}
		return s.params[i].Value
	})
	return g, err
}
