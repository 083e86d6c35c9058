package softmax

import "math"

// RefForward is the float64 reference of Forward.
//
//	y, x [R, C]
func RefForward(y, x []float64, R, C int) {
	for r := range R {
		xr, yr := x[r*C:(r+1)*C], y[r*C:(r+1)*C]
		m := math.Inf(-1)
		for _, v := range xr {
			m = math.Max(m, v)
		}
		s := 0.0
		for j, v := range xr {
			yr[j] = math.Exp(v - m)
			s += yr[j]
		}
		for j := range yr {
			yr[j] /= s
		}
	}
}

// RefBackward is the float64 reference of Backward: dx = y ⊙ (dy − Σ dy⊙y).
//
//	dx, y, dy [R, C]
func RefBackward(dx, y, dy []float64, R, C int) {
	for r := range R {
		yr, dyr, dxr := y[r*C:(r+1)*C], dy[r*C:(r+1)*C], dx[r*C:(r+1)*C]
		d := 0.0
		for j := range yr {
			d += dyr[j] * yr[j]
		}
		for j := range yr {
			dxr[j] = yr[j] * (dyr[j] - d)
		}
	}
}

// RefLogSumExp is logsumexp of each row of logits [T, V] in float64 (−Inf-safe max shift).
func RefLogSumExp(lse, logits []float64, T, V int) {
	for t := range T {
		x := logits[t*V : (t+1)*V]
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, v)
		}
		s := 0.0
		for _, v := range x {
			s += math.Exp(v - m)
		}
		lse[t] = m + math.Log(s)
	}
}

// RefCrossEntropy is the float64 reference of CrossEntropyForward: the loss sum over
// non-ignored tokens and their count.
//
//	logits [T, V]; targets [T]
func RefCrossEntropy(logits []float64, targets []int32, T, V int) (lossSum float64, count int) {
	lse := make([]float64, T)
	RefLogSumExp(lse, logits, T, V)
	for t, tg := range targets {
		if tg == IgnoreIndex {
			continue
		}
		lossSum += lse[t] - logits[t*V+int(tg)]
		count++
	}
	return lossSum, count
}

// RefCrossEntropyBackward is the float64 reference of CrossEntropyBackward:
// dlogits = (softmax − onehot)·gradScale, zero rows for ignored tokens.
//
//	dlogits, logits [T, V]; targets [T]
func RefCrossEntropyBackward(dlogits, logits []float64, targets []int32, T, V int, gradScale float64) {
	lse := make([]float64, T)
	RefLogSumExp(lse, logits, T, V)
	for t, tg := range targets {
		d := dlogits[t*V : (t+1)*V]
		if tg == IgnoreIndex {
			clear(d)
			continue
		}
		for j := range d {
			d[j] = math.Exp(logits[t*V+j]-lse[t]) * gradScale
		}
		d[tg] -= gradScale
	}
}

// RefLogits is logits = h·Wᵀ in float64.
//
//	logits [T, V]; h [T, D]; w [V, D]
func RefLogits(logits, h, w []float64, T, D, V int) {
	for t := range T {
		for v := range V {
			s := 0.0
			for k := range D {
				s += h[t*D+k] * w[v*D+k]
			}
			logits[t*V+v] = s
		}
	}
}

// RefLMHeadBackward is the float64 reference of LMHeadBackward: dh = d(logits)·W (overwritten)
// and dw += d(logits)ᵀ·h.
//
//	dh, h [T, D]; dw, w [V, D]; targets [T]
func RefLMHeadBackward(dh, dw, h, w []float64, targets []int32, T, D, V int, gradScale float64) {
	logits := make([]float64, T*V)
	RefLogits(logits, h, w, T, D, V)
	dl := make([]float64, T*V)
	RefCrossEntropyBackward(dl, logits, targets, T, V, gradScale)
	for t := range T {
		for k := range D {
			s := 0.0
			for v := range V {
				s += dl[t*V+v] * w[v*D+k]
			}
			dh[t*D+k] = s
		}
	}
	for v := range V {
		for k := range D {
			s := 0.0
			for t := range T {
				s += dl[t*V+v] * h[t*D+k]
			}
			dw[v*D+k] += s
		}
	}
}
