package glm4v

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// InitOptions adjusts InitParams / WriteInit.
type InitOptions struct {
	// Select limits initialisation to the slots it accepts (nil: all). A tensor's values do not
	// depend on what else is selected.
	Select Selector
	// SelectionBiasStd, when > 0, draws every e_score_correction_bias from N(0, std²) instead
	// of HF's zeros, so that a freshly initialised model exercises bias-dependent expert
	// selection (the shipped tiny model uses 0.05).
	SelectionBiasStd float64
}

// InitParams allocates and randomly initialises the selected slots with HF
// _init_weights semantics:
//
//   - Linear weights, the Conv3d patch embedding and the Conv2d downsample, embeddings
//     (tokens and vision positions), router weights and routed experts: N(0, std²), std = the
//     initializer_range of the sub-config that owns them (vision_config for model.visual.*,
//     text_config for the rest, lm_head included). HF's default _init_weights treats
//     nn.Conv2d/Conv3d exactly as nn.Linear (normal weight, zero bias), overriding PyTorch's
//     kaiming-uniform conv init, so the convs follow the same rule.
//   - embed_tokens row pad_token_id: zero after sampling (nn.Embedding padding_idx).
//   - biases and e_score_correction_bias: zero (the latter: see SelectionBiasStd).
//   - RMSNorm and LayerNorm weights: one; LayerNorm bias: zero.
//
// Random streams: every hub tensor (per-expert names, as Specs lists them) has its own
// math/rand/v2 PCG seeded with (seed, FNV-1a-64 of its name); its values are the first numel
// NormFloat64 draws in row-major order, times std, rounded to float32. So a tensor's values
// depend only on (seed, name, shape, config): the same whether the whole model or one stage is
// initialised, in whichever order, and identical to what WriteInit streams to disk.
func InitParams(p *Params, seed uint64, opt InitOptions) error {
	for _, h := range p.hubTensors(opt.Select) {
		dst := h.param.Alloc().F32()[h.off : h.off+h.Numel()]
		if err := newInitFill(h, seed, opt)(dst, 0); err != nil {
			return err
		}
	}
	return nil
}

// WriteInit writes a freshly initialised model to dir as Save would write InitParams' result,
// without holding it in memory: each tensor is generated while it is written (peak memory is
// one 64K-element chunk per tensor being written). opt.Select must be nil: a checkpoint holds
// every tensor.
func WriteInit(dir string, p *Params, seed uint64, opt InitOptions, maxShardBytes int64) error {
	if opt.Select != nil {
		return fmt.Errorf("glm4v: WriteInit writes whole checkpoints; Select must be nil")
	}
	return writeCheckpoint(dir, p, maxShardBytes, func(h hubTensor) fillFunc { return newInitFill(h, seed, opt) })
}

// newInitFill returns the generator of hub tensor h: sequential calls continue its stream.
func newInitFill(h hubTensor, seed uint64, opt InitOptions) fillFunc {
	fh := fnv.New64a()
	fh.Write([]byte(h.Name))
	rng := rand.New(rand.NewPCG(seed, fh.Sum64()))
	in := h.param.Init
	std := in.Std
	kind := in.Kind
	if kind == InitRouterBias {
		kind, std = InitZeros, 0
		if opt.SelectionBiasStd > 0 {
			kind, std = InitNormal, opt.SelectionBiasStd
		}
	}
	cols := int64(1)
	if len(h.Shape) > 1 {
		cols = int64(h.Shape[len(h.Shape)-1])
	}
	return func(dst []float32, off int64) error {
		switch kind {
		case InitNormal:
			for i := range dst {
				dst[i] = float32(rng.NormFloat64() * std)
			}
			if in.ZeroRow >= 0 { // zero the part of row ZeroRow inside [off, off+len(dst))
				lo, hi := max(int64(in.ZeroRow)*cols, off), min(int64(in.ZeroRow+1)*cols, off+int64(len(dst)))
				if lo < hi {
					clear(dst[lo-off : hi-off])
				}
			}
		case InitZeros:
			clear(dst)
		case InitOnes:
			for i := range dst {
				dst[i] = 1
			}
		default:
			return fmt.Errorf("glm4v: %s: no init rule (kind %d)", h.Name, in.Kind)
		}
		return nil
	}
}
