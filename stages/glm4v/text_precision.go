package glm4v

// Mixed precision for the text stages (StageConfig.Precision = "bf16", ModelOptions.Precision):
// the recipe of the vision stage (vision_precision.go), with the same vocabulary
// (PrecisionFP32, PrecisionBF16). What is bf16 and what stays fp32:
//
//   - bf16: the two operands of every Linear GEMM — q/k/v/o_proj, the dense MLP, the shared
//     expert, the routed experts (the Backend has no bf16 grouped GEMM: one bf16 Matmul per
//     expert on views of its expert-sorted rows, moe.go) and lm_head — forward y = x·Wᵀ,
//     input gradient dx = dy·W and weight gradient dW += dyᵀ·x. Each activation or output gradient is rounded to bf16 (round to
//     nearest even, Backend.Cast) once, just before its first GEMM; the bf16 copy is what the
//     later GEMMs of that tensor read (its weight-gradient GEMM in BackwardWeight included).
//   - fp32: master weights and Param.Grad; every GEMM output and accumulator (VDPBF16PS
//     accumulates in fp32; dW accumulates into the fp32 Grad with β = 1); the embedding, the
//     residual stream, RMSNorm and its statistics, rotary, attention and its softmax, SwiGLU,
//     biases and their gradients (from the fp32 output gradient), the router (its GEMM,
//     scores and top-k), the permutation and the top-k weighting, the cross-entropy and its
//     logsumexp. The fp32 mode runs the Backend's grouped GEMMs, unchanged.
//
// The bf16 weight copies (txPrec, one per decoder / head stage): a micro-batch acquires the
// stage's current generation at Forward and holds it to BackwardWeight. A Forward that finds
// no micro-batch in flight re-casts the generation in place, so an optimizer that updates
// Param.Value in place between steps (the only time it may) needs no call; InvalidateCaches
// forces a fresh generation at the next Forward even while micro-batches are in flight (they
// keep the copies they started with). The re-cast is one pass over the GEMM weights (≈ 8.6 M
// parameters in the benchmark model, a few ms: ≈ 1–2% of a bf16 step).

import (
	"fmt"
	"sync"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// txPrec is a stage's GEMM precision and its cache of bf16 weight copies.
type txPrec struct {
	prec   visPrec
	be     kernels.Backend
	kind   string
	params []*stages.Param // the GEMM weights, in registration order

	mu    sync.Mutex
	gen   *txGen // current generation; nil until the first bf16 Forward
	live  int    // micro-batches holding gen
	dirty bool   // InvalidateCaches was called
}

// txGen is one generation of bf16 weight copies, by parameter.
type txGen struct {
	low map[*stages.Param]*tensors.Tensor
}

func newTxPrec(kind string, c StageConfig) (*txPrec, error) {
	p, err := parsePrecision(c.Precision)
	if err != nil {
		return nil, fmt.Errorf("%s: precision %q: want %q or %q", kind, c.Precision, PrecisionFP32, PrecisionBF16)
	}
	return &txPrec{prec: p, be: c.Backend, kind: kind}, nil
}

// add registers GEMM weights (nil entries are skipped).
func (c *txPrec) add(ps ...*stages.Param) {
	for _, p := range ps {
		if p != nil {
			c.params = append(c.params, p)
		}
	}
}

// invalidate makes the next acquire cast the weights afresh.
func (c *txPrec) invalidate() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
}

// acquire returns the generation a new micro-batch computes with (nil in fp32 mode) and
// counts it in flight until release.
func (c *txPrec) acquire() (*txGen, error) {
	if c.prec == precFP32 {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == nil || c.dirty || c.live == 0 {
		if c.gen == nil || c.live > 0 { // in place only when no micro-batch holds the copies
			g := &txGen{low: make(map[*stages.Param]*tensors.Tensor, len(c.params))}
			for _, p := range c.params {
				t, err := c.be.Alloc(tensors.BF16, p.Value.Shape()...)
				if err != nil {
					return nil, fmt.Errorf("%s: bf16 copy of %s: %w", c.kind, p.Name, err)
				}
				g.low[p] = t
			}
			c.gen = g
		}
		for _, p := range c.params {
			if err := c.be.Cast(c.gen.low[p], p.Value); err != nil {
				return nil, fmt.Errorf("%s: casting %s: %w", c.kind, p.Name, err)
			}
		}
		c.dirty = false
	}
	c.live++
	return c.gen, nil
}

// release ends a micro-batch's hold on g (nil: nothing held).
func (c *txPrec) release(g *txGen) {
	if g == nil {
		return
	}
	c.mu.Lock()
	c.live--
	c.mu.Unlock()
}

// weight returns p as a GEMM operand: its bf16 copy in o's generation, else the fp32 value.
func (o *txOps) weight(p *stages.Param) *tensors.Tensor {
	if o.gen != nil {
		if t := o.gen.low[p]; t != nil {
			return t
		}
	}
	return p.Value
}

// gemmIn returns x as a GEMM operand: x itself in fp32 mode, a bf16 copy (round to nearest
// even) in bf16 mode. Same shape.
func (o *txOps) gemmIn(x *tensors.Tensor) *tensors.Tensor {
	if o.gen == nil || o.err != nil {
		return x
	}
	t := o.bufOf(tensors.BF16, x.Shape()...)
	o.do(func() error { return o.be.Cast(t, x) })
	return t
}

// InvalidateCaches makes the next Forward cast the GEMM weights afresh even if micro-batches
// are in flight (see text_precision.go for when the cache refreshes by itself). A no-op in
// fp32 mode.
func (d *Decoder) InvalidateCaches() { d.prec.invalidate() }

// InvalidateCaches: see Decoder.InvalidateCaches.
func (h *Head) InvalidateCaches() { h.prec.invalidate() }

// InvalidateCaches invalidates every stage's cached low-precision weights (after changing
// Param.Value while micro-batches are in flight; between steps nothing is needed).
func (m *Model) InvalidateCaches() {
	for _, s := range m.Stages() {
		if c, ok := s.(interface{ InvalidateCaches() }); ok {
			c.InvalidateCaches()
		}
	}
}
