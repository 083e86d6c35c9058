package plan

import (
	"fmt"
	"strings"

	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/stages/glm4v"
)

// UnitCost is the cost model of one layout unit (V, E, one decoder layer t, L) for one
// micro-batch: exact parameter counts from the checkpoint's tensor list, analytic FLOPs and
// activation bytes, and the bytes its parameters take on one device.
type UnitCost struct {
	Kind  layout.Kind
	Layer int // decoder layer index of a t unit; −1 otherwise
	// Tensors and Params count the unit's checkpoint tensors and their elements.
	Tensors int
	Params  int64
	// Adapters counts the LoRA/DoRA adapter parameters added to the unit; Trainable the
	// parameters that get gradients (trainable base weights plus adapters).
	Adapters, Trainable int64
	FLOPs               FLOPs
	// Weights, Grads and Optim are bytes on one device: routed experts and their adapters
	// are divided over Training.ExpertParallel devices.
	Weights, Grads, Optim int64
	// Act is the activation bytes one micro-batch keeps from its forward to its weight
	// gradients (memory.go).
	Act int64
}

// Static is Weights + Grads + Optim.
func (u UnitCost) Static() int64 { return u.Weights + u.Grads + u.Optim }

// String names the unit: "V", "E", "t12", "L".
func (u UnitCost) String() string {
	if u.Kind == layout.Decoder {
		return fmt.Sprintf("t%d", u.Layer)
	}
	return u.Kind.String()
}

// unitOf maps a checkpoint tensor name to its unit index in model order: V 0, E 1, layer i
// 2+i, L 2+layers.
func unitOf(name string, layers int) (int, bool) {
	switch {
	case strings.HasPrefix(name, glm4v.VisionPrefix):
		return 0, true
	case strings.HasPrefix(name, glm4v.EmbedPrefix):
		return 1, true
	case strings.HasPrefix(name, glm4v.NormPrefix), strings.HasPrefix(name, glm4v.LMHeadPrefix):
		return 2 + layers, true
	}
	if i, ok := glm4v.LayerIndex(name); ok && i < layers {
		return 2 + i, true
	}
	return 0, false
}

// trainableBase reports whether checkpoint tensor name gets gradients under tr (the freeze
// flags of megatron-bridge.md 1.6; e_score_correction_bias is a buffer, never trained).
func trainableBase(name string, tr Training) bool {
	switch {
	case tr.frozenAll(), strings.HasSuffix(name, ".e_score_correction_bias"):
		return false
	case strings.HasPrefix(name, glm4v.VisionPrefix+"patch_embed."), strings.HasPrefix(name, glm4v.VisionPrefix+"blocks."):
		return !tr.FreezeVision
	case strings.HasPrefix(name, glm4v.VisionPrefix+"merger."):
		return !tr.FreezeProjection
	case strings.HasPrefix(name, glm4v.VisionPrefix):
		return true // embeddings, post_conv_layernorm, downsample, post_layernorm: no flag covers them
	}
	return !tr.FreezeLanguage
}

// routedExpert reports whether name is a routed expert's weight (split over EP devices).
func routedExpert(name string) bool { return strings.Contains(name, ".mlp.experts.") }

// adapter is one LoRA adapter: in → out, on n linears (routed experts: one per expert).
type adapter struct {
	in, out, n int64
	routed     bool
}

// adapters lists the adapters of decoder layer i: A [r, in] and B [out, r] each, r·(in+out)
// parameters (DoRA: + out for the magnitude). The routed experts get one adapter per expert
// and linear.
func adapters(c *glm4v.TextConfig, layer int, t Linears) []adapter {
	D, H, K, Dh := int64(c.HiddenSize), int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads), int64(c.HeadDim)
	var out []adapter
	add := func(on bool, a adapter) {
		if on {
			out = append(out, a)
		}
	}
	add(t.QKV, adapter{in: D, out: (H + 2*K) * Dh, n: 1})
	add(t.Q, adapter{in: D, out: H * Dh, n: 1})
	add(t.K, adapter{in: D, out: K * Dh, n: 1})
	add(t.V, adapter{in: D, out: K * Dh, n: 1})
	add(t.O, adapter{in: H * Dh, out: D, n: 1})
	mlp := func(width, n int64, routed bool) {
		add(t.FC1, adapter{in: D, out: 2 * width, n: n, routed: routed})
		add(t.Gate, adapter{in: D, out: width, n: n, routed: routed})
		add(t.Up, adapter{in: D, out: width, n: n, routed: routed})
		add(t.FC2, adapter{in: width, out: D, n: n, routed: routed})
	}
	if !c.IsMoELayer(layer) {
		mlp(int64(c.IntermediateSize), 1, false)
		return out
	}
	mlp(int64(c.MoEIntermediateSize), int64(c.NRoutedExperts), true)
	if c.NSharedExperts > 0 {
		mlp(int64(c.MoEIntermediateSize)*int64(c.NSharedExperts), 1, false)
	}
	return out
}

// Units computes the cost of every unit of the model in model order (V, E, t0 … t(L−1), L)
// from the parameter tree p (its tensor list; no values needed), for micro-batch shape s.
// Nothing proportional to the model's size is allocated.
func Units(p *glm4v.Params, s Shape, tr Training, prec Precision, recompute bool) ([]UnitCost, error) {
	c := &p.Config
	L := c.Text.NumHiddenLayers
	ep := int64(max(tr.ExpertParallel, 1))
	if E := c.Text.NRoutedExperts; E > 0 && int64(E)%ep != 0 {
		return nil, fmt.Errorf("plan: expert parallel size %d does not divide the %d routed experts", ep, E)
	}
	units := make([]UnitCost, L+3)
	units[0] = UnitCost{Kind: layout.Vision, Layer: -1}
	units[1] = UnitCost{Kind: layout.Embedding, Layer: -1}
	for i := range L {
		units[2+i] = UnitCost{Kind: layout.Decoder, Layer: i}
	}
	units[L+2] = UnitCost{Kind: layout.Loss, Layer: -1}
	opt := prec.optimBytes()
	var bad []string
	for _, t := range p.Specs() { // the checkpoint's tensors, routed experts per expert
		u, ok := unitOf(t.Name, L)
		if !ok {
			bad = append(bad, t.Name)
			continue
		}
		n := t.Numel()
		x := &units[u]
		x.Tensors++
		x.Params += n
		bytes := n * int64(prec.Weight)
		if strings.HasSuffix(t.Name, ".e_score_correction_bias") {
			bytes = n * int64(t.DType.Size()) // an fp32 buffer in every precision
		}
		share := int64(1)
		if routedExpert(t.Name) {
			share = ep
		}
		x.Weights += bytes / share
		if trainableBase(t.Name, tr) {
			x.Trainable += n
			x.Grads += n * 4 / share
			x.Optim += n * opt / share
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("plan: %d tensor(s) belong to no layout unit: %s", len(bad), strings.Join(bad[:min(len(bad), 5)], ", "))
	}
	r := int64(tr.Rank)
	for i := range L {
		x := &units[2+i]
		if r > 0 {
			for _, a := range adapters(&c.Text, i, tr.Targets) {
				n := a.n * r * (a.in + a.out)
				if tr.DoRA {
					n += a.n * a.out
				}
				share := int64(1)
				if a.routed {
					share = ep
				}
				x.Adapters += n
				x.Trainable += n
				x.Weights += n * int64(prec.Weight) / share
				x.Grads += n * 4 / share
				x.Optim += n * opt / share
			}
		}
		x.FLOPs = decoderLayerFLOPs(&c.Text, i, s, tr)
		x.Act = decoderActBytes(&c.Text, i, s, tr, prec, recompute)
	}
	units[0].FLOPs = visionFLOPs(&c.Vision, s, tr)
	units[0].Act = visionActBytes(&c.Vision, s, tr, prec, recompute)
	units[1].Act = embedActBytes(s)
	units[L+2].FLOPs = headFLOPs(&c.Text, s, tr)
	units[L+2].Act = headActBytes(&c.Text, s, prec, recompute)
	return units, nil
}
