package moe

import (
	"math"
	"sort"
)

// Float64 references: naive loops, written independently of the fp32 kernels (selection by a
// full sort, the MoE layer as a per-token loop over its chosen experts). Tests compare the fp32
// kernels against them and check their gradients by finite differences.

// RefRoute is the float64 router: logits [T,E], scores [T,E], topIdx [T,k], topW [T,k].
func RefRoute(cfg RouterConfig, T, D int, x, wGate, bias []float64) (logits, scores []float64, topIdx []int32, topW []float64) {
	E, k := cfg.E, cfg.K
	logits = make([]float64, T*E)
	scores = make([]float64, T*E)
	topIdx = make([]int32, T*k)
	topW = make([]float64, T*k)
	for t := range T {
		for e := range E {
			s := 0.0
			for d := range D {
				s += x[t*D+d] * wGate[e*D+d]
			}
			logits[t*E+e] = s
			scores[t*E+e] = 1 / (1 + math.Exp(-s))
		}
		sel := make([]float64, E)
		for e := range E {
			sel[e] = scores[t*E+e]
			if bias != nil {
				sel[e] += bias[e]
			}
		}
		copy(topIdx[t*k:(t+1)*k], RefSelect(cfg, sel))
		sum := 0.0
		for j := range k {
			topW[t*k+j] = scores[t*E+int(topIdx[t*k+j])]
			sum += topW[t*k+j]
		}
		for j := range k {
			if cfg.NormTopK {
				topW[t*k+j] /= sum + 1e-20
			}
			topW[t*k+j] *= float64(cfg.Scale)
		}
	}
	return
}

// RefSelect returns the k experts chosen from one token's selection scores sel [E] (group
// limiting included), best first, ties to the lower index.
func RefSelect(cfg RouterConfig, sel []float64) []int32 {
	E := cfg.E
	sel = append([]float64(nil), sel...)
	if cfg.NGroup > 1 {
		gs := E / cfg.NGroup
		gsc := make([]float64, cfg.NGroup)
		for g := range cfg.NGroup {
			o := sortedDesc(sel[g*gs : (g+1)*gs])
			gsc[g] = sel[g*gs+o[0]] + sel[g*gs+o[1]]
		}
		keep := sortedDesc(gsc)[:cfg.TopKGroup]
		fill := math.Inf(-1)
		if cfg.GroupMaskZero {
			fill = 0
		}
		for g := range cfg.NGroup {
			kept := false
			for _, kg := range keep {
				kept = kept || kg == g
			}
			if !kept {
				for i := g * gs; i < (g+1)*gs; i++ {
					sel[i] = fill
				}
			}
		}
	}
	o := sortedDesc(sel)[:cfg.K]
	out := make([]int32, cfg.K)
	for j, i := range o {
		out[j] = int32(i)
	}
	return out
}

// sortedDesc returns the indices of v ordered by value descending, equal values by index.
func sortedDesc(v []float64) []int {
	o := make([]int, len(v))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return v[o[a]] > v[o[b]] })
	return o
}

// RefRouterBackward returns dx [T,D] and dWGate [E,D] from dTopW [T,k] and an optional extra
// dScores [T,E] (nil = none), by the chain rule written out per token.
func RefRouterBackward(cfg RouterConfig, T, D int, x, wGate, scores []float64, topIdx []int32, dTopW, dScores []float64) (dx, dWGate []float64) {
	E, k := cfg.E, cfg.K
	dx = make([]float64, T*D)
	dWGate = make([]float64, E*D)
	c := float64(cfg.Scale)
	for t := range T {
		ds := make([]float64, E)
		if dScores != nil {
			copy(ds, dScores[t*E:(t+1)*E])
		}
		S := 1e-20
		for j := range k {
			S += scores[t*E+int(topIdx[t*k+j])]
		}
		for i := range k { // d topW_j / d s_{e_i}
			ei := int(topIdx[t*k+i])
			for j := range k {
				var der float64
				if !cfg.NormTopK {
					if i == j {
						der = c
					}
				} else {
					sj := scores[t*E+int(topIdx[t*k+j])]
					der = -c * sj / (S * S)
					if i == j {
						der += c / S
					}
				}
				ds[ei] += dTopW[t*k+j] * der
			}
		}
		for e := range E {
			s := scores[t*E+e]
			dl := ds[e] * s * (1 - s)
			for d := range D {
				dx[t*D+d] += dl * wGate[e*D+d]
				dWGate[e*D+d] += dl * x[t*D+d]
			}
		}
	}
	return
}

// RefMoEForward is the routed part of the MoE layer: out [T,D] = Σ_j topW[t,j]·expert_{e_j}(x[t])
// with SwiGLU experts wGateUp [E,2F,D] (gate rows, then up rows) and wDown [E,D,F].
func RefMoEForward(cfg RouterConfig, T, D, F int, x, wGate, bias, wGateUp, wDown []float64) (out []float64, topIdx []int32) {
	_, _, topIdx, topW := RefRoute(cfg, T, D, x, wGate, bias)
	out = make([]float64, T*D)
	for t := range T {
		for j := range cfg.K {
			e := int(topIdx[t*cfg.K+j])
			y, _, _, _ := refExpert(D, F, x[t*D:(t+1)*D], wGateUp[e*2*F*D:(e+1)*2*F*D], wDown[e*D*F:(e+1)*D*F])
			for d := range D {
				out[t*D+d] += topW[t*cfg.K+j] * y[d]
			}
		}
	}
	return
}

// refExpert runs one SwiGLU expert on one row; returns y [D] and the pre-activations g, u and
// h = silu(g)·u [F].
func refExpert(D, F int, x, wgu, wd []float64) (y, g, u, h []float64) {
	g, u, h = make([]float64, F), make([]float64, F), make([]float64, F)
	for f := range F {
		for d := range D {
			g[f] += wgu[f*D+d] * x[d]
			u[f] += wgu[(F+f)*D+d] * x[d]
		}
		h[f] = g[f] / (1 + math.Exp(-g[f])) * u[f]
	}
	y = make([]float64, D)
	for d := range D {
		for f := range F {
			y[d] += wd[d*F+f] * h[f]
		}
	}
	return
}

// RefMoEBackward returns the gradients of Σ dOut·RefMoEForward w.r.t. x [T,D], wGate [E,D],
// wGateUp [E,2F,D] and wDown [E,D,F] (selection held fixed; the bias gets none).
func RefMoEBackward(cfg RouterConfig, T, D, F int, x, wGate, bias, wGateUp, wDown, dOut []float64) (dx, dWGate, dWGateUp, dWDown []float64) {
	E, k := cfg.E, cfg.K
	_, scores, topIdx, topW := RefRoute(cfg, T, D, x, wGate, bias)
	dx = make([]float64, T*D)
	dWGateUp = make([]float64, E*2*F*D)
	dWDown = make([]float64, E*D*F)
	dTopW := make([]float64, T*k)
	for t := range T {
		xt, g0 := x[t*D:(t+1)*D], dOut[t*D:(t+1)*D]
		for j := range k {
			e := int(topIdx[t*k+j])
			wgu, wd := wGateUp[e*2*F*D:(e+1)*2*F*D], wDown[e*D*F:(e+1)*D*F]
			y, g, u, h := refExpert(D, F, xt, wgu, wd)
			w := topW[t*k+j]
			for d := range D {
				dTopW[t*k+j] += g0[d] * y[d]
			}
			dh := make([]float64, F)
			for d := range D {
				dy := w * g0[d]
				for f := range F {
					dh[f] += wd[d*F+f] * dy
					dWDown[e*D*F+d*F+f] += dy * h[f]
				}
			}
			for f := range F {
				sg := 1 / (1 + math.Exp(-g[f]))
				dg := dh[f] * u[f] * sg * (1 + g[f]*(1-sg))
				du := dh[f] * g[f] * sg
				for d := range D {
					dx[t*D+d] += dg*wgu[f*D+d] + du*wgu[(F+f)*D+d]
					dWGateUp[e*2*F*D+f*D+d] += dg * xt[d]
					dWGateUp[e*2*F*D+(F+f)*D+d] += du * xt[d]
				}
			}
		}
	}
	rdx, dWGate := RefRouterBackward(cfg, T, D, x, wGate, scores, topIdx, dTopW, nil)
	for i := range dx {
		dx[i] += rdx[i]
	}
	return
}

// RefGroupedLinear is y[r] = x[r]·w[e(r)]ᵀ for the expert e(r) owning row r: x [R,K], w [E,N,K].
func RefGroupedLinear(E, R, N, K int, x, w []float64, offs []int32) []float64 {
	y := make([]float64, R*N)
	for e := range E {
		for r := int(offs[e]); r < int(offs[e+1]); r++ {
			for n := range N {
				for kk := range K {
					y[r*N+n] += x[r*K+kk] * w[e*N*K+n*K+kk]
				}
			}
		}
	}
	return y
}

// RefSeqAuxLoss is SeqAuxLoss in float64 (scores [B·S,E]).
func RefSeqAuxLoss(B, S, E, k int, coeff float64, scores []float64) float64 {
	loss := 0.0
	for b := range B {
		cnt := make([]float64, E)
		P := make([]float64, E)
		for s := range S {
			p := refNorm(scores[(b*S+s)*E : (b*S+s+1)*E])
			for _, e := range sortedDesc(p)[:k] {
				cnt[e]++
			}
			for e := range E {
				P[e] += p[e] / float64(S)
			}
		}
		for e := range E {
			loss += cnt[e] / (float64(S) * float64(k) / float64(E)) * P[e]
		}
	}
	return coeff * loss / float64(B)
}

// RefSeqAuxLossBackward is the gradient of RefSeqAuxLoss w.r.t. scores (routing map fixed).
func RefSeqAuxLossBackward(B, S, E, k int, coeff float64, scores []float64) []float64 {
	ds := make([]float64, B*S*E)
	for b := range B {
		cnt := make([]float64, E)
		for s := range S {
			for _, e := range sortedDesc(refNorm(scores[(b*S+s)*E : (b*S+s+1)*E]))[:k] {
				cnt[e]++
			}
		}
		for s := range S {
			t := b*S + s
			sc := scores[t*E : (t+1)*E]
			sum := 1e-20
			for _, v := range sc {
				sum += v
			}
			for i := range E { // dL/ds_i = Σ_e dL/dp_e · (δ_ei/sum − s_e/sum²)
				for e := range E {
					dp := coeff / float64(B) * cnt[e] * float64(E) / (float64(S) * float64(k)) / float64(S)
					der := -sc[e] / (sum * sum)
					if e == i {
						der += 1 / sum
					}
					ds[t*E+i] += dp * der
				}
			}
		}
	}
	return ds
}

func refNorm(s []float64) []float64 {
	sum := 1e-20
	for _, v := range s {
		sum += v
	}
	p := make([]float64, len(s))
	for i, v := range s {
		p[i] = v / sum
	}
	return p
}

func refSoftmax(l []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range l {
		mx = math.Max(mx, v)
	}
	p := make([]float64, len(l))
	sum := 0.0
	for i, v := range l {
		p[i] = math.Exp(v - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// RefLoadBalanceLoss is HF's load_balancing_loss_func over the layers' logits (each [T_l,E]),
// concatenated: E · Σ_e mean_rows(#top-k hits of e) · mean_rows(softmax_e).
func RefLoadBalanceLoss(E, k int, layers [][]float64) float64 {
	cnt := make([]float64, E)
	P := make([]float64, E)
	N := 0
	for _, l := range layers {
		for t := 0; t < len(l)/E; t++ {
			p := refSoftmax(l[t*E : (t+1)*E])
			for _, e := range sortedDesc(p)[:k] {
				cnt[e]++
			}
			for e := range E {
				P[e] += p[e]
			}
			N++
		}
	}
	loss := 0.0
	for e := range E {
		loss += cnt[e] / float64(N) * P[e] / float64(N)
	}
	return float64(E) * loss
}

// RefLoadBalanceLossBackward is the gradient of RefLoadBalanceLoss w.r.t. each layer's logits.
func RefLoadBalanceLossBackward(E, k int, layers [][]float64) [][]float64 {
	cnt := make([]float64, E)
	N := 0
	for _, l := range layers {
		for t := 0; t < len(l)/E; t++ {
			for _, e := range sortedDesc(refSoftmax(l[t*E : (t+1)*E]))[:k] {
				cnt[e]++
			}
			N++
		}
	}
	out := make([][]float64, len(layers))
	for li, l := range layers {
		out[li] = make([]float64, len(l))
		for t := 0; t < len(l)/E; t++ {
			p := refSoftmax(l[t*E : (t+1)*E])
			for i := range E { // dp_e/dl_i = p_e(δ_ei − p_i)
				for e := range E {
					g := float64(E) * cnt[e] / (float64(N) * float64(N))
					der := -p[e] * p[i]
					if e == i {
						der += p[e]
					}
					out[li][t*E+i] += g * der
				}
			}
		}
	}
	return out
}
