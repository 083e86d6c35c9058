package plan

import (
	"github.com/glmflow/glmflow/stages/glm4v"
)

// Precision is how many bytes the memory model charges per element.
type Precision struct {
	Name string // "fp32" or "bf16"
	// Weight is the bytes of a stored weight: 4 (fp32) or 2 (bf16: Megatron's bf16_mixed keeps
	// bf16 weights for compute). Gradients are always fp32 (4 B), Adam's moments fp32 (8 B),
	// and with bf16 weights the optimizer also keeps an fp32 master copy (4 B).
	Weight int
	// Act is the bytes of a stored activation element: 4 (fp32) or 2 (bf16). Statistics
	// (norm rstd, attention log-sum-exp, router scores and weights) stay fp32; indices int32.
	Act int
}

// PrecisionOf returns the memory model of a spec precision name.
func PrecisionOf(name string) Precision {
	if name == "bf16" {
		return Precision{Name: name, Weight: 2, Act: 2}
	}
	return Precision{Name: name, Weight: 4, Act: 4}
}

// optimBytes is the optimizer state per trainable parameter.
func (p Precision) optimBytes() int64 {
	if p.Weight < 4 {
		return 12 // exp_avg, exp_avg_sq, fp32 master
	}
	return 8
}

const (
	f32Bytes = 4 // statistics kept in fp32
	i32Bytes = 4 // indices
)

// decoderActBytes is what one decoder layer keeps per micro-batch from its forward until its
// weight gradients are done, per token (T = B·S tokens; a = Precision.Act, f = 4 B, i = 4 B):
//
//	layer input x, input_layernorm output h1, post-attention x1 and its norm h2   4·D·a
//	norm rstd ×2                                                                 2·f
//	q, k, v, attention output o (before o_proj)                                  (2·H + 2·K)·Dh·a
//	attention log-sum-exp                                                        H·f
//	dense MLP: gate, up, silu(gate)·up                                           3·I·a
//	MoE: router logits and scores                                                2·E·f
//	     chosen experts and their weights                                        k·(i + f)
//	     permutation (source row, position)                                      2·k·i
//	     permuted input, gate+up, activation, expert outputs over k rows         k·(D + 2F + F + D)·a
//	     shared expert gate, up, activation                                      3·Fs·a
//	LoRA: each adapter's rank-r intermediate x·Aᵀ (routed experts: per row)      r·a per targeted linear
//
// With recompute the layer keeps only its input (D·a) and, for MoE layers, the chosen experts
// (k·i), and rebuilds the rest in the backward.
func decoderActBytes(c *glm4v.TextConfig, layer int, s Shape, tr Training, p Precision, recompute bool) int64 {
	T := s.T()
	a := int64(p.Act)
	D, H, K, Dh := int64(c.HiddenSize), int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads), int64(c.HeadDim)
	moe := c.IsMoELayer(layer)
	k := int64(c.NumExpertsPerTok)
	if recompute {
		n := D * a
		if moe {
			n += k * i32Bytes
		}
		return T * n
	}
	r := int64(tr.Rank)
	adapters := int64(0) // adapter intermediates per token row
	if r > 0 {
		for _, on := range []bool{tr.Targets.QKV, tr.Targets.Q, tr.Targets.K, tr.Targets.V, tr.Targets.O} {
			if on {
				adapters += r
			}
		}
	}
	mlpAdapters := int64(0)
	if r > 0 {
		for _, on := range []bool{tr.Targets.FC1, tr.Targets.Gate, tr.Targets.Up, tr.Targets.FC2} {
			if on {
				mlpAdapters += r
			}
		}
	}
	n := 4*D*a + 2*f32Bytes + (2*H+2*K)*Dh*a + H*f32Bytes + adapters*a
	if !moe {
		n += 3*int64(c.IntermediateSize)*a + mlpAdapters*a
		return T * n
	}
	E, F, Fs := int64(c.NRoutedExperts), int64(c.MoEIntermediateSize), int64(c.MoEIntermediateSize)*int64(c.NSharedExperts)
	n += 2*E*f32Bytes + k*(i32Bytes+f32Bytes) + 2*k*i32Bytes + k*(2*D+3*F)*a + k*mlpAdapters*a
	if Fs > 0 {
		n += 3*Fs*a + mlpAdapters*a
	}
	return T * n
}

// visionActBytes is what the vision tower keeps per micro-batch (P patch rows, M = P/m²
// merged rows; a = Precision.Act, f = 4 B):
//
//	pixel rows (input of the patch-embed weight gradient)       P·C·Tp·p²·a
//	patch embedding, post_conv_layernorm output and rstd         P·(2·Dv·a + f)
//	per block: x, norm1 out, q, k, v, o, x1, norm2 out           P·8·Dv·a
//	           rstd ×2, attention log-sum-exp per head           P·(2 + heads)·f
//	           gate, up, activation                              P·3·Do·a
//	post_layernorm output and rstd                               P·(Dv·a + f)
//	merger: downsample out, proj out, LayerNorm out, GELU out    M·4·Do·a
//	        LayerNorm mean and rstd                              M·2·f
//	        gate, up, activation                                 M·3·Iv·a
//
// A frozen tower (LoRA) keeps nothing; with recompute it keeps only its input rows.
func visionActBytes(c *glm4v.VisionConfig, s Shape, tr Training, p Precision, recompute bool) int64 {
	if s.Images == 0 || s.ImagePatches == 0 || tr.frozenAll() {
		return 0
	}
	P := int64(s.Images) * int64(s.ImagePatches)
	M := P / int64(c.SpatialMergeSize*c.SpatialMergeSize)
	a := int64(p.Act)
	Dv, Do, Iv := int64(c.HiddenSize), int64(c.OutHiddenSize), int64(c.IntermediateSize)
	in := P * int64(c.PatchDim()) * a
	if recompute {
		return in
	}
	perPatch := 2*Dv*a + f32Bytes + Dv*a + f32Bytes
	perPatch += int64(c.Depth) * (8*Dv*a + (2+int64(c.NumHeads))*f32Bytes + 3*Do*a)
	return in + P*perPatch + M*(4*Do*a+2*f32Bytes+3*Iv*a)
}

// embedActBytes: the embedding keeps the token ids it gathered (T·i; the pad and image rows
// get no gradient).
func embedActBytes(s Shape) int64 { return s.T() * i32Bytes }

// headActBytes: the head keeps its input and final-norm output (T·2·D·a), the norm's rstd
// (T·f), the fp32 logits of the LossRows rows with a target (R·V·f; their gradient
// overwrites them), the cross-entropy statistics (R·2·f) and targets (R·i). With recompute:
// its input and labels only.
func headActBytes(c *glm4v.TextConfig, s Shape, p Precision, recompute bool) int64 {
	T, R := s.T(), int64(s.LossRows)
	D, V, a := int64(c.HiddenSize), int64(c.VocabSize), int64(p.Act)
	if recompute {
		return T * (D*a + i32Bytes)
	}
	return T*(2*D*a+f32Bytes) + R*(V*f32Bytes+2*f32Bytes+i32Bytes)
}
