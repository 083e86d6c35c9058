package attention

import "math"

// visible reports whether query i may attend to key j under p (float64 reference semantics).
func visible(p *plan, seg []int, i, j int) bool {
	if seg[i] != seg[j] || (p.Causal && j > i) {
		return false
	}
	return p.KeyPad == nil || !p.KeyPad[j]
}

func segments(p *plan) []int {
	seg := make([]int, p.T)
	cu := p.CuSeqlens
	if cu == nil {
		return seg
	}
	for s := 1; s < len(cu); s++ {
		for t := cu[s-1]; t < cu[s]; t++ {
			seg[t] = s - 1
		}
	}
	return seg
}

// refProbs returns P [T, T] of head h (rows with no visible key are all zero) and the row lse.
func refProbs(p *plan, seg []int, q, k []float64, h int) (P, lse []float64) {
	T, Dh := p.T, p.Dh
	kh := h / p.groups
	P, lse = make([]float64, T*T), make([]float64, T)
	for i := range T {
		row := P[i*T : (i+1)*T]
		m := math.Inf(-1)
		for j := range T {
			row[j] = math.Inf(-1)
			if !visible(p, seg, i, j) {
				continue
			}
			s := 0.0
			for d := range Dh {
				s += q[(i*p.H+h)*Dh+d] * k[(j*p.K+kh)*Dh+d]
			}
			row[j] = float64(p.scale) * s
			m = max(m, row[j])
		}
		if math.IsInf(m, -1) {
			clear(row)
			lse[i] = math.Inf(1)
			continue
		}
		sum := 0.0
		for j := range T {
			row[j] = math.Exp(row[j] - m)
			sum += row[j]
		}
		for j := range T {
			row[j] /= sum
		}
		lse[i] = m + math.Log(sum)
	}
	return P, lse
}

// RefForward is the float64 reference of Forward; it materialises [T, T] per head (tests only).
// Shapes as Forward. It returns an error only for invalid Params.
func RefForward(o, lse, q, k, v []float64, p Params) error {
	pl, err := newPlan("attention.RefForward", p)
	if err != nil {
		return err
	}
	seg := segments(pl)
	T, Dh := p.T, p.Dh
	for h := range p.H {
		kh := h / pl.groups
		P, l := refProbs(pl, seg, q, k, h)
		copy(lse[h*T:(h+1)*T], l)
		for i := range T {
			for d := range Dh {
				s := 0.0
				for j := range T {
					s += P[i*T+j] * v[(j*p.K+kh)*Dh+d]
				}
				o[(i*p.H+h)*Dh+d] = s
			}
		}
	}
	return nil
}

// RefBackward is the float64 reference of Backward (dq, dk, dv overwritten), written as the
// textbook softmax backward: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)),
// dQ = scale·dS·K, dK = scale·dSᵀ·Q (summed over the query heads of each kv head).
func RefBackward(dq, dk, dv, do, q, k, v []float64, p Params) error {
	pl, err := newPlan("attention.RefBackward", p)
	if err != nil {
		return err
	}
	seg := segments(pl)
	T, Dh := p.T, p.Dh
	sc := float64(pl.scale)
	clear(dq)
	clear(dk)
	clear(dv)
	dS := make([]float64, T*T)
	for h := range p.H {
		kh := h / pl.groups
		P, _ := refProbs(pl, seg, q, k, h)
		for i := range T {
			rs := 0.0
			for j := range T {
				dp := 0.0
				for d := range Dh {
					dp += do[(i*p.H+h)*Dh+d] * v[(j*p.K+kh)*Dh+d]
				}
				dS[i*T+j] = dp
				rs += P[i*T+j] * dp
			}
			for j := range T {
				dS[i*T+j] = P[i*T+j] * (dS[i*T+j] - rs)
			}
		}
		for i := range T {
			for j := range T {
				pij, sij := P[i*T+j], dS[i*T+j]
				for d := range Dh {
					qi, kj := (i*p.H+h)*Dh+d, (j*p.K+kh)*Dh+d
					dv[kj] += pij * do[qi]
					dq[qi] += sc * sij * k[kj]
					dk[kj] += sc * sij * q[qi]
				}
			}
		}
	}
	return nil
}
