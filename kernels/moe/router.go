package moe

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels/vec" // Sigmoid
)

// RouterConfig is the routing part of a GLM-4.5 / DeepSeek-V3 MoE config.
type RouterConfig struct {
	E             int     // routed experts (n_routed_experts)
	K             int     // experts per token (num_experts_per_tok)
	NGroup        int     // expert groups (n_group); 0 or 1: no group limiting
	TopKGroup     int     // groups kept per token (topk_group); ignored when NGroup ≤ 1
	NormTopK      bool    // norm_topk_prob: divide the k weights by their sum (+1e-20)
	Scale         float32 // routed_scaling_factor, applied after normalisation
	GroupMaskZero bool    // legacy HF: experts of dropped groups get selection score 0, not −Inf
}

// GLM45V is GLM-4.5V's text_config routing: 128 experts, top-8, one group, normalised, ×1.
func GLM45V() RouterConfig {
	return RouterConfig{E: 128, K: 8, NGroup: 1, TopKGroup: 1, NormTopK: true, Scale: 1}
}

// Validate checks the config (HF would fail on the same group shapes in torch.topk).
func (c *RouterConfig) Validate() error {
	switch {
	case c.E < 1:
		return fmt.Errorf("moe: router: E = %d, want ≥ 1", c.E)
	case c.K < 1 || c.K > c.E:
		return fmt.Errorf("moe: router: K = %d, want 1..E (%d)", c.K, c.E)
	case math.IsNaN(float64(c.Scale)) || math.IsInf(float64(c.Scale), 0):
		return fmt.Errorf("moe: router: Scale = %v", c.Scale)
	}
	if c.NGroup > 1 {
		switch {
		case c.E%c.NGroup != 0:
			return fmt.Errorf("moe: router: E = %d not divisible by NGroup = %d", c.E, c.NGroup)
		case c.E/c.NGroup < 2:
			return fmt.Errorf("moe: router: %d experts per group, want ≥ 2 (group score is a top-2 sum)", c.E/c.NGroup)
		case c.TopKGroup < 1 || c.TopKGroup > c.NGroup:
			return fmt.Errorf("moe: router: TopKGroup = %d, want 1..NGroup (%d)", c.TopKGroup, c.NGroup)
		case !c.GroupMaskZero && c.K > c.TopKGroup*(c.E/c.NGroup):
			return fmt.Errorf("moe: router: K = %d exceeds the %d experts of the kept groups", c.K, c.TopKGroup*(c.E/c.NGroup))
		}
	}
	return nil
}

func checkLen(op, name string, s int, want int) error {
	if s != want {
		return fmt.Errorf("moe: %s: len(%s) = %d, want %d", op, name, s, want)
	}
	return nil
}

func checkDims(op string, dims ...any) error {
	for i := 0; i+1 < len(dims); i += 2 {
		if v := dims[i+1].(int); v < 0 {
			return fmt.Errorf("moe: %s: %s = %d < 0", op, dims[i], v)
		}
	}
	return nil
}

// Token tile of the routing and score-backward loops: tiles depend on the shapes only.
const routerRowTile = 64

// RouterForward computes router logits, sigmoid scores, the chosen experts and their weights.
//
//	x      [T,D]  input rows (fp32)
//	wGate  [E,D]  router weight (mlp.gate.weight)
//	bias   [E]    e_score_correction_bias (selection only); nil = zeros
//	logits [T,E]  out: x·wGateᵀ
//	scores [T,E]  out: sigmoid(logits); RouterBackward needs it
//	topIdx [T,k]  out: chosen experts, best (by biased score) first, ties to the lower index
//	topW   [T,k]  out: combination weights from the un-biased scores (see package doc)
func RouterForward(cfg RouterConfig, T, D int, x, wGate, bias, logits, scores []float32, topIdx []int32, topW []float32) error {
	const op = "RouterForward"
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkDims(op, "T", T, "D", D); err != nil {
		return err
	}
	E, k := cfg.E, cfg.K
	for _, c := range []struct {
		n    string
		l, w int
	}{{"x", len(x), T * D}, {"wGate", len(wGate), E * D}, {"logits", len(logits), T * E},
		{"scores", len(scores), T * E}, {"topIdx", len(topIdx), T * k}, {"topW", len(topW), T * k}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	if bias != nil {
		if err := checkLen(op, "bias", len(bias), E); err != nil {
			return err
		}
	}
	mm(false, true, T, E, D, x, D, wGate, D, 0, logits, E)
	parallelFor(tiles(T, routerRowTile), 16*T*E, func(ti int) {
		sel := make([]float32, E)
		grp := make([]float32, max(cfg.NGroup, 1))
		gidx := make([]int32, max(cfg.TopKGroup, 1))
		for t := ti * routerRowTile; t < min(T, (ti+1)*routerRowTile); t++ {
			routeToken(&cfg, logits[t*E:(t+1)*E], bias, scores[t*E:(t+1)*E], sel, grp, gidx,
				topIdx[t*k:(t+1)*k], topW[t*k:(t+1)*k])
		}
	})
	return nil
}

func routeToken(cfg *RouterConfig, logits, bias, scores, sel, grp []float32, gidx, idx []int32, w []float32) {
	vec.Sigmoid(scores, logits)
	copy(sel, scores)
	if bias != nil {
		for e, b := range bias {
			sel[e] += b
		}
	}
	selectExperts(cfg, sel, idx, grp, gidx)
	var sum float32
	for j, e := range idx {
		w[j] = scores[e]
		sum += w[j]
	}
	if cfg.NormTopK {
		den := sum + 1e-20
		for j := range w {
			w[j] /= den
		}
	}
	for j := range w {
		w[j] *= cfg.Scale
	}
}

// RouterBackward is RouterScoresBackward, then RouterBackwardInput (if dx != nil) and
// RouterBackwardWeight (if dWGate != nil).
//
//	dTopW   [T,k]  gradient of the loss w.r.t. topW (UnpermuteBackward)
//	dScores [T,E]  extra gradient w.r.t. scores (SeqAuxLossBackward), or nil
//	dLogits [T,E]  out: gradient w.r.t. logits (also the caller's place to add a logits-level
//	               aux gradient before calling the Input/Weight halves itself)
//	dx      [T,D]  out (overwritten), or nil
//	dWGate  [E,D]  accumulated (+=), or nil
func RouterBackward(cfg RouterConfig, T, D int, x, wGate, scores []float32, topIdx []int32, dTopW, dScores, dLogits, dx, dWGate []float32) error {
	if err := RouterScoresBackward(cfg, T, scores, topIdx, dTopW, dScores, dLogits); err != nil {
		return err
	}
	if dx != nil {
		if err := RouterBackwardInput(T, D, cfg.E, dLogits, wGate, dx); err != nil {
			return err
		}
	}
	if dWGate != nil {
		return RouterBackwardWeight(T, D, cfg.E, dLogits, x, dWGate)
	}
	return nil
}

// RouterScoresBackward maps d(topW) (and an optional d(scores)) to d(logits) [T,E], overwritten:
// through the scaling, the renormalisation w_j = c·s_j/(Σs+1e-20) (ds_i = c·(g_i − Σ_j g_j·s_j/S)/S)
// and the sigmoid (dl = ds·s·(1−s)). The selection and the bias get no gradient.
func RouterScoresBackward(cfg RouterConfig, T int, scores []float32, topIdx []int32, dTopW, dScores, dLogits []float32) error {
	const op = "RouterScoresBackward"
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkDims(op, "T", T); err != nil {
		return err
	}
	E, k := cfg.E, cfg.K
	for _, c := range []struct {
		n    string
		l, w int
	}{{"scores", len(scores), T * E}, {"topIdx", len(topIdx), T * k}, {"dTopW", len(dTopW), T * k}, {"dLogits", len(dLogits), T * E}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	if dScores != nil {
		if err := checkLen(op, "dScores", len(dScores), T*E); err != nil {
			return err
		}
	}
	for i, e := range topIdx {
		if e < 0 || int(e) >= E {
			return fmt.Errorf("moe: %s: topIdx[%d] = %d, want 0..%d", op, i, e, E-1)
		}
	}
	parallelFor(tiles(T, routerRowTile), 8*T*E, func(ti int) {
		for t := ti * routerRowTile; t < min(T, (ti+1)*routerRowTile); t++ {
			s, g, idx := scores[t*E:(t+1)*E], dTopW[t*k:(t+1)*k], topIdx[t*k:(t+1)*k]
			dl := dLogits[t*E : (t+1)*E]
			if dScores != nil {
				copy(dl, dScores[t*E:(t+1)*E])
			} else {
				clear(dl)
			}
			if cfg.NormTopK {
				var sum, gs float32
				for j, e := range idx {
					sum += s[e]
					gs += g[j] * s[e]
				}
				den := sum + 1e-20
				m := gs / den
				for j, e := range idx {
					dl[e] += cfg.Scale * (g[j] - m) / den
				}
			} else {
				for j, e := range idx {
					dl[e] += cfg.Scale * g[j]
				}
			}
			for e, se := range s {
				dl[e] *= se * (1 - se)
			}
		}
	})
	return nil
}

// RouterBackwardInput writes dx [T,D] = dLogits [T,E] · wGate [E,D] (overwritten).
func RouterBackwardInput(T, D, E int, dLogits, wGate, dx []float32) error {
	const op = "RouterBackwardInput"
	if err := checkDims(op, "T", T, "D", D, "E", E); err != nil {
		return err
	}
	if err := checkLen(op, "dLogits", len(dLogits), T*E); err != nil {
		return err
	}
	if err := checkLen(op, "wGate", len(wGate), E*D); err != nil {
		return err
	}
	if err := checkLen(op, "dx", len(dx), T*D); err != nil {
		return err
	}
	mm(false, false, T, D, E, dLogits, E, wGate, D, 0, dx, D)
	return nil
}

// RouterBackwardWeight accumulates dWGate [E,D] += dLogitsᵀ [E,T] · x [T,D].
func RouterBackwardWeight(T, D, E int, dLogits, x, dWGate []float32) error {
	const op = "RouterBackwardWeight"
	if err := checkDims(op, "T", T, "D", D, "E", E); err != nil {
		return err
	}
	if err := checkLen(op, "dLogits", len(dLogits), T*E); err != nil {
		return err
	}
	if err := checkLen(op, "x", len(x), T*D); err != nil {
		return err
	}
	if err := checkLen(op, "dWGate", len(dWGate), E*D); err != nil {
		return err
	}
	mm(true, false, E, D, T, dLogits, E, x, D, 1, dWGate, D)
	return nil
}
