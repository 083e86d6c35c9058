package moe

import (
	"fmt"
	"math"
)

// Auxiliary load-balancing losses. Both return a float64 scalar (their per-expert statistics are
// tiny [E] vectors, kept in float64) and have a backward that produces an fp32 gradient for the
// router: SeqAuxLossBackward w.r.t. the sigmoid scores (pass it as RouterBackward's dScores),
// LoadBalanceLossBackward w.r.t. the logits (add it to RouterScoresBackward's dLogits).

// SeqAuxLoss is Megatron-Core's seq_aux_loss for sigmoid routing (moe_router_load_balancing_type
// "seq_aux_loss", as Megatron-Bridge configures GLM-4.5V with coeff 1e-3), the per-sequence
// balance loss of DeepSeek-V2/V3:
//
//	p[t,e]    = s[t,e] / (Σ_e s[t,e] + 1e-20)              (s = sigmoid scores, no bias)
//	map[t,e]  = e ∈ top-k of p[t,:]                         (no bias, no groups; ties → lower e)
//	cost[b,e] = Σ_{t∈b} map[t,e] / (S·k/E)
//	P[b,e]    = (1/S) Σ_{t∈b} p[t,e]
//	loss      = coeff · (1/B) Σ_b Σ_e cost[b,e]·P[b,e]
//
// Megatron lays tokens out [S,B]; here tokens are batch-major: token t = b·S + s.
//
//	scores [B·S,E]  sigmoid scores (RouterForward)
//	counts [B,E]    out: Σ_{t∈b} map[t,e], needed by SeqAuxLossBackward
func SeqAuxLoss(B, S, E, k int, coeff float32, scores []float32, counts []int32) (float64, error) {
	const op = "SeqAuxLoss"
	if err := seqAuxChecks(op, B, S, E, k, scores, counts); err != nil {
		return 0, err
	}
	p := make([]float32, E)
	idx := make([]int32, k)
	colSum := make([]float64, E)
	total := 0.0
	for b := range B {
		cnt := counts[b*E : (b+1)*E]
		clear(cnt)
		clear(colSum)
		for s := range S {
			t := b*S + s
			normScores(scores[t*E:(t+1)*E], p)
			topK(p, idx)
			for _, e := range idx {
				cnt[e]++
			}
			for e, v := range p {
				colSum[e] += float64(v)
			}
		}
		for e := range E {
			total += float64(cnt[e]) * colSum[e]
		}
	}
	// Σ_e cost·P = Σ_e cnt·E/(S·k) · colSum/S.
	return float64(coeff) * total * float64(E) / (float64(S) * float64(S) * float64(k) * float64(B)), nil
}

// SeqAuxLossBackward writes dScores [B·S,E] (overwritten), the gradient of dLoss·SeqAuxLoss
// w.r.t. the sigmoid scores: dp[t,e] = dLoss·coeff·counts[b,e]·E/(B·S²·k), then through the
// normalisation ds = (dp − Σ_e dp·p) / (Σ_e s + 1e-20). The routing map gets no gradient.
func SeqAuxLossBackward(B, S, E, k int, coeff float32, scores []float32, counts []int32, dLoss float32, dScores []float32) error {
	const op = "SeqAuxLossBackward"
	if err := seqAuxChecks(op, B, S, E, k, scores, counts); err != nil {
		return err
	}
	if err := checkLen(op, "dScores", len(dScores), B*S*E); err != nil {
		return err
	}
	c := float32(float64(dLoss) * float64(coeff) * float64(E) / (float64(B) * float64(S) * float64(S) * float64(k)))
	parallelFor(B, 8*B*S*E, func(b int) {
		dp := make([]float32, E)
		for e := range E {
			dp[e] = c * float32(counts[b*E+e])
		}
		for s := range S {
			t := b*S + s
			sc, ds := scores[t*E:(t+1)*E], dScores[t*E:(t+1)*E]
			var sum float32
			for _, v := range sc {
				sum += v
			}
			den := sum + 1e-20
			var m float32 // Σ dp·p
			for e, v := range sc {
				m += dp[e] * (v / den)
			}
			for e := range sc {
				ds[e] = (dp[e] - m) / den
			}
		}
	})
	return nil
}

func seqAuxChecks(op string, B, S, E, k int, scores []float32, counts []int32) error {
	if B < 1 || S < 1 || E < 1 || k < 1 || k > E {
		return fmt.Errorf("moe: %s: B = %d, S = %d, E = %d, k = %d, want B, S ≥ 1 and 1 ≤ k ≤ E", op, B, S, E, k)
	}
	if err := checkLen(op, "scores", len(scores), B*S*E); err != nil {
		return err
	}
	return checkLen(op, "counts", len(counts), B*E)
}

// normScores writes p = s / (Σ s + 1e-20) in fp32 (Σ in index order).
func normScores(s, p []float32) {
	var sum float32
	for _, v := range s {
		sum += v
	}
	den := sum + 1e-20
	for e, v := range s {
		p[e] = v / den
	}
}

// LoadBalanceStats accumulates the statistics of HF's load_balancing_loss_func (Switch style,
// what Glm4vMoeForConditionalGeneration adds with router_aux_loss_coef when
// output_router_logits=True) for one MoE layer's router logits [T,E]:
//
//	p[t]       = softmax(logits[t])                       (softmax, although routing is sigmoid)
//	counts[e] += #{(t, j): e is the j-th of top-k(p[t])}  (ties → lower e)
//	probSum[e]+= Σ_t p[t,e]
//
// HF concatenates all layers' logits before averaging, so call this once per layer with the same
// counts/probSum [E] (zero them first) and pass N = Σ T over layers to LoadBalanceLoss. HF's
// attention-mask weighting equals passing only the non-padding rows.
func LoadBalanceStats(T, E, k int, logits []float32, counts, probSum []float64) error {
	const op = "LoadBalanceStats"
	if T < 0 || E < 1 || k < 1 || k > E {
		return fmt.Errorf("moe: %s: T = %d, E = %d, k = %d, want T ≥ 0 and 1 ≤ k ≤ E", op, T, E, k)
	}
	for _, c := range []struct {
		n    string
		l, w int
	}{{"logits", len(logits), T * E}, {"counts", len(counts), E}, {"probSum", len(probSum), E}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	p := make([]float32, E)
	idx := make([]int32, k)
	for t := range T {
		softmax(logits[t*E:(t+1)*E], p)
		topK(p, idx)
		for _, e := range idx {
			counts[e]++
		}
		for e, v := range p {
			probSum[e] += float64(v)
		}
	}
	return nil
}

// LoadBalanceLoss is HF's loss from the accumulated statistics: E · Σ_e (counts[e]/N)·(probSum[e]/N)
// (equal to k when routing is uniform). Multiply by router_aux_loss_coef (GLM-4.5V 1e-4) outside.
func LoadBalanceLoss(E, N int, counts, probSum []float64) (float64, error) {
	const op = "LoadBalanceLoss"
	if E < 1 || N < 1 {
		return 0, fmt.Errorf("moe: %s: E = %d, N = %d, want ≥ 1", op, E, N)
	}
	if err := checkLen(op, "counts", len(counts), E); err != nil {
		return 0, err
	}
	if err := checkLen(op, "probSum", len(probSum), E); err != nil {
		return 0, err
	}
	s := 0.0
	for e := range E {
		s += counts[e] * probSum[e]
	}
	return float64(E) * s / (float64(N) * float64(N)), nil
}

// LoadBalanceLossBackward writes dLogits [T,E] (overwritten) for one layer's logits, the gradient
// of dLoss·LoadBalanceLoss: g[e] = dLoss·E·counts[e]/N² for every row, then through the softmax
// dl = p ⊙ (g − Σ_e g·p). counts are the totals over all layers.
func LoadBalanceLossBackward(T, E, N int, logits []float32, counts []float64, dLoss float32, dLogits []float32) error {
	const op = "LoadBalanceLossBackward"
	if T < 0 || E < 1 || N < 1 {
		return fmt.Errorf("moe: %s: T = %d, E = %d, N = %d", op, T, E, N)
	}
	for _, c := range []struct {
		n    string
		l, w int
	}{{"logits", len(logits), T * E}, {"counts", len(counts), E}, {"dLogits", len(dLogits), T * E}} {
		if err := checkLen(op, c.n, c.l, c.w); err != nil {
			return err
		}
	}
	g := make([]float32, E)
	for e := range E {
		g[e] = float32(float64(dLoss) * float64(E) * counts[e] / (float64(N) * float64(N)))
	}
	parallelFor(tiles(T, routerRowTile), 16*T*E, func(ti int) {
		for t := ti * routerRowTile; t < min(T, (ti+1)*routerRowTile); t++ {
			dl := dLogits[t*E : (t+1)*E]
			softmax(logits[t*E:(t+1)*E], dl)
			var m float32
			for e, pe := range dl {
				m += g[e] * pe
			}
			for e, pe := range dl {
				dl[e] = pe * (g[e] - m)
			}
		}
	})
	return nil
}

// softmax writes p = softmax(l) in fp32 (max-subtracted; exp evaluated in float64).
func softmax(l, p []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range l {
		mx = max(mx, v)
	}
	var sum float32
	for e, v := range l {
		p[e] = float32(math.Exp(float64(v - mx)))
		sum += p[e]
	}
	for e := range p {
		p[e] /= sum
	}
}
