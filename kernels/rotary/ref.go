package rotary

// RefForward is the float64 reference of Forward, written the way HF writes it:
// emb = cat(cos, cos) over R dims, out = x·emb_cos + rotate_half(x)·emb_sin on the first R dims,
// with rotate_half(y) = cat(−y[R/2:], y[:R/2]); dims [R, Dh) pass through.
//
//	out, x [T, H, Dh]; cos, sin [T, R/2]
func RefForward(out, x, cos, sin []float64, T, H, Dh, R int) {
	half := R / 2
	ec, es := make([]float64, R), make([]float64, R)
	rh := make([]float64, R)
	for t := range T {
		copy(ec, cos[t*half:(t+1)*half])
		copy(ec[half:], cos[t*half:(t+1)*half])
		copy(es, sin[t*half:(t+1)*half])
		copy(es[half:], sin[t*half:(t+1)*half])
		for h := range H {
			b := (t*H + h) * Dh
			xr := x[b : b+Dh]
			for i := range half {
				rh[i] = -xr[half+i]
				rh[half+i] = xr[i]
			}
			for i := range R {
				out[b+i] = xr[i]*ec[i] + rh[i]*es[i]
			}
			copy(out[b+R:b+Dh], xr[R:])
		}
	}
}

// RefBackward is the float64 reference of Backward: the transpose of RefForward's linear map,
// dx = emb_cos·dout + rotate_halfᵀ(emb_sin·dout) with rotate_halfᵀ(y) = cat(y[R/2:], −y[:R/2]).
//
//	dx, dout [T, H, Dh]; cos, sin [T, R/2]
func RefBackward(dx, dout, cos, sin []float64, T, H, Dh, R int) {
	half := R / 2
	for t := range T {
		for h := range H {
			b := (t*H + h) * Dh
			for i := range R {
				dx[b+i] = cos[t*half+i%half] * dout[b+i]
			}
			for i := range half {
				j := t*half + i
				dx[b+i] += sin[j] * dout[b+half+i]
				dx[b+half+i] -= sin[j] * dout[b+i]
			}
			copy(dx[b+R:b+Dh], dout[b+R:b+Dh])
		}
	}
}
