package plan

import (
	"github.com/glmflow/glmflow/stages/glm4v"
)

// Shape is the micro-batch the costs are computed for.
type Shape struct {
	B, S int // sequences per micro-batch and tokens per sequence (T = B·S)
	// Images per micro-batch and patches per image (pre-merge rows of pixel_values, t·h·w);
	// each image is one attention segment of the vision tower.
	Images, ImagePatches int
	// LossRows is the number of token rows with a target: the rows the head runs lm_head on
	// (glm4v.head skips the others). The planner uses B·(S−1), every position but the last.
	LossRows int
}

// T is the number of token rows, B·S.
func (s Shape) T() int64 { return int64(s.B) * int64(s.S) }

// FLOPs of one micro-batch through one unit, split the way a zero-bubble schedule splits the
// backward: F forward, B input gradients (the critical path), W weight gradients. Only
// matrix products count (2 FLOPs per multiply-add); norms, activations, softmax, rotary,
// routing top-k, gathers and the loss are elementwise and left out.
type FLOPs struct{ F, B, W int64 }

// Add returns x + y.
func (x FLOPs) Add(y FLOPs) FLOPs { return FLOPs{x.F + y.F, x.B + y.B, x.W + y.W} }

// Total is F + B + W.
func (x FLOPs) Total() int64 { return x.F + x.B + x.W }

// linearFLOPs is a linear layer over rows tokens, in → out: 2·rows·in·out for the forward, the
// same for the input gradient (when dx) and for the weight gradient (when trainable).
func linearFLOPs(rows, in, out int64, dx, trainable bool) FLOPs {
	f := 2 * rows * in * out
	x := FLOPs{F: f}
	if dx {
		x.B = f
	}
	if trainable {
		x.W = f
	}
	return x
}

// attnFLOPs is the attention core over heads·dh = width channels and the given number of
// (query, key) pairs: QKᵀ and P·V in the forward (4·pairs·width), dQ, dK, dV and dP in the
// backward (8·pairs·width, all input gradients); no weights.
func attnFLOPs(pairs, width int64) FLOPs {
	return FLOPs{F: 4 * pairs * width, B: 8 * pairs * width}
}

// adapterFLOPs is a LoRA adapter of rank r on a linear in → out over rows tokens: x·Aᵀ then
// ·Bᵀ, 2·rows·r·(in+out) in each of F, B and W (the adapter is trainable).
func adapterFLOPs(rows, r, in, out int64) FLOPs {
	f := 2 * rows * r * (in + out)
	return FLOPs{F: f, B: f, W: f}
}

// Training says which parameters get gradients. Base weights of the vision tower and the
// language model are trainable unless frozen; LoRA/DoRA freeze every base weight and add
// adapters of rank Rank on the decoder linears in Targets.
type Training struct {
	FreezeVision     bool // patch embed and blocks (model.visual.patch_embed, blocks)
	FreezeProjection bool // the merger (model.visual.merger)
	FreezeLanguage   bool // embedding, decoder layers, final norm, lm_head
	// Adapters: LoRA (or DoRA) of rank Rank on the decoder linears in Targets; every base
	// weight is then frozen. Rank 0: no adapters.
	Rank    int
	Targets Linears
	DoRA    bool // adapters also learn a magnitude per output row
	// ExpertParallel splits the routed experts (and their adapters) of every MoE layer over
	// this many devices (≥ 1).
	ExpertParallel int
}

// frozenAll reports whether every base weight is frozen (LoRA/DoRA).
func (tr Training) frozenAll() bool { return tr.Rank > 0 }

// Linears are the decoder linears LoRA may target. The fused qkv and gate+up count as one
// adapter each (Megatron's linear_qkv, linear_fc1); the HF names put one adapter on each
// projection.
type Linears struct {
	QKV, Q, K, V, O bool // linear_qkv (fused q/k/v), q_proj, k_proj, v_proj, linear_proj or o_proj
	FC1, Gate, Up   bool // linear_fc1 (fused gate+up), gate_proj, up_proj
	FC2             bool // linear_fc2 or down_proj
}

// decoderLayerFLOPs is one decoder layer (glm45v.md §3.3–3.7) for shape s:
//
//	attention projections  q: 2T·D·H·Dh   k, v: 2T·D·K·Dh each   o: 2T·H·Dh·D
//	attention core         4·H·Dh·pairs forward, 8·H·Dh·pairs backward,
//	                       pairs = B·S(S+1)/2 (causal, one segment per sequence)
//	dense MLP (layer < first_k_dense_replace)   gate, up: 2T·D·I   down: 2T·I·D
//	MoE   router 2T·D·E; routed experts over T·k rows: gate+up 2Tk·D·2F, down 2Tk·F·D;
//	      shared experts 2T·D·2Fs + 2T·Fs·D (Fs = F·n_shared_experts)
//
// B is each linear again (its input gradient) plus twice the attention core; W is each
// trainable linear again. LoRA adds adapterFLOPs per targeted linear (routed experts: over
// the T·k rows).
func decoderLayerFLOPs(c *glm4v.TextConfig, layer int, s Shape, tr Training) FLOPs {
	T := s.T()
	D, H, K, Dh := int64(c.HiddenSize), int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads), int64(c.HeadDim)
	train := !tr.FreezeLanguage && !tr.frozenAll()
	r := int64(tr.Rank)
	lin := func(rows, in, out int64) FLOPs { return linearFLOPs(rows, in, out, true, train) }
	ad := func(on bool, rows, in, out int64) FLOPs {
		if !on || r == 0 {
			return FLOPs{}
		}
		return adapterFLOPs(rows, r, in, out)
	}
	x := lin(T, D, H*Dh).Add(lin(T, D, K*Dh)).Add(lin(T, D, K*Dh)).Add(lin(T, H*Dh, D))
	x = x.Add(ad(tr.Targets.QKV, T, D, (H+2*K)*Dh)).Add(ad(tr.Targets.Q, T, D, H*Dh)).
		Add(ad(tr.Targets.K, T, D, K*Dh)).Add(ad(tr.Targets.V, T, D, K*Dh)).Add(ad(tr.Targets.O, T, H*Dh, D))
	S := int64(s.S)
	x = x.Add(attnFLOPs(int64(s.B)*S*(S+1)/2, H*Dh))
	mlp := func(rows, width int64) FLOPs {
		y := lin(rows, D, width).Add(lin(rows, D, width)).Add(lin(rows, width, D))
		return y.Add(ad(tr.Targets.FC1, rows, D, 2*width)).Add(ad(tr.Targets.Gate, rows, D, width)).
			Add(ad(tr.Targets.Up, rows, D, width)).Add(ad(tr.Targets.FC2, rows, width, D))
	}
	if !c.IsMoELayer(layer) {
		return x.Add(mlp(T, int64(c.IntermediateSize)))
	}
	E, F, k := int64(c.NRoutedExperts), int64(c.MoEIntermediateSize), int64(c.NumExpertsPerTok)
	x = x.Add(lin(T, D, E)) // router logits
	x = x.Add(mlp(T*k, F))  // routed experts: every token through k experts
	if c.NSharedExperts > 0 {
		x = x.Add(mlp(T, F*int64(c.NSharedExperts)))
	}
	return x
}

// visionFLOPs is the vision tower (glm45v.md §2) for s.Images images of s.ImagePatches patches
// (P = Images·ImagePatches rows, M = P/m² merged rows):
//
//	patch embed   2P·(C·Tp·p²)·Dv              (no input gradient: pixels need none)
//	per block     qkv 2P·Dv·3Dv, proj 2P·Dv², MLP 3·2P·Dv·Do,
//	              attention core over Images·ImagePatches² pairs (non-causal, per image), width Dv
//	merge blocks  2P·Dv·m² in F and B: glmflow's vision stage transposes each 2×2 block with
//	              a batched product by the m²×m² identity (exact, and counted as it runs)
//	downsample    2M·(m²·Dv)·Do
//	merger        proj 2M·Do², MLP 3·2M·Do·Iv
//
// B is every linear but the patch embed again plus twice the attention core, W every
// trainable linear again; with every vision weight frozen (LoRA) the stage runs no backward.
func visionFLOPs(c *glm4v.VisionConfig, s Shape, tr Training) FLOPs {
	if s.Images == 0 || s.ImagePatches == 0 {
		return FLOPs{}
	}
	P := int64(s.Images) * int64(s.ImagePatches)
	m2 := int64(c.SpatialMergeSize * c.SpatialMergeSize)
	M := P / m2
	Dv, Do, Iv := int64(c.HiddenSize), int64(c.OutHiddenSize), int64(c.IntermediateSize)
	tower := !tr.FreezeVision && !tr.frozenAll() // patch embed and blocks
	proj := !tr.FreezeProjection && !tr.frozenAll()
	rest := !tr.frozenAll() // downsample: trained unless every base weight is frozen (megatron-bridge.md 1.6)
	x := linearFLOPs(P, int64(c.PatchDim()), Dv, false, tower)
	for range c.Depth {
		x = x.Add(linearFLOPs(P, Dv, 3*Dv, true, tower)).Add(linearFLOPs(P, Dv, Dv, true, tower))
		x = x.Add(linearFLOPs(P, Dv, Do, true, tower)).Add(linearFLOPs(P, Dv, Do, true, tower)).Add(linearFLOPs(P, Do, Dv, true, tower))
		x = x.Add(attnFLOPs(int64(s.Images)*int64(s.ImagePatches)*int64(s.ImagePatches), Dv))
	}
	x = x.Add(FLOPs{F: 2 * P * Dv * m2, B: 2 * P * Dv * m2}) // merge-block transpose
	x = x.Add(linearFLOPs(M, m2*Dv, Do, true, rest))
	x = x.Add(linearFLOPs(M, Do, Do, true, proj))
	x = x.Add(linearFLOPs(M, Do, Iv, true, proj)).Add(linearFLOPs(M, Do, Iv, true, proj)).Add(linearFLOPs(M, Iv, Do, true, proj))
	if tr.frozenAll() {
		x.B = 0 // a frozen vision stage runs no backward: nothing upstream needs a gradient
	}
	return x
}

// headFLOPs is lm_head over the LossRows rows with a target: 2R·D·V in F, B and W (W only
// when trainable). The embedding is a lookup: no FLOPs.
func headFLOPs(c *glm4v.TextConfig, s Shape, tr Training) FLOPs {
	return linearFLOPs(int64(s.LossRows), int64(c.HiddenSize), int64(c.VocabSize), true, !tr.FreezeLanguage && !tr.frozenAll())
}
