package attention

import "math"

var (
	negInf = float32(math.Inf(-1))
	posInf = float32(math.Inf(1))
)

// scratch is one worker's tile memory. R = G·br rows: (token, head) pairs of one query block,
// row r·G + g is token lo+r of query head kh·G + g.
type scratch struct {
	qs, dos []float32 // [R, Dh] gathered q (and do) rows of the query block
	s, dp   []float32 // [R, max(bc, bcFwd)] scores → probabilities → dS; [R, bc] dP
	acc     []float32 // [R, Dh] forward output accumulator, or dQ
	gk, gv  []float32 // [bc, Dh] dK, dV accumulators
	m, l    []float32 // [R] forward: running max and sum; backward: lse and D of each row
	al, rs  []float32 // [R] forward: rescale factor exp(m_old − m_new) and tile row sum
}

func (p *plan) newScratch() *scratch {
	R, Dh := p.groups*p.br, p.Dh
	return &scratch{
		qs: make([]float32, R*Dh), dos: make([]float32, R*Dh),
		s: make([]float32, R*max(p.bc, p.bcFwd)), dp: make([]float32, R*p.bc),
		acc: make([]float32, R*Dh),
		gk:  make([]float32, p.bc*Dh), gv: make([]float32, p.bc*Dh),
		m: make([]float32, R), l: make([]float32, R),
		al: make([]float32, R), rs: make([]float32, R),
	}
}

// gather copies the G·Dh floats of kv group kh for tokens [i0, i0+n) of x [T, H, Dh] into
// dst [n·G, Dh] (one contiguous run per token).
func (p *plan) gather(dst, x []float32, i0, n, kh int) {
	w := p.groups * p.Dh
	for r := range n {
		off := (i0+r)*p.H*p.Dh + kh*w
		copy(dst[r*w:(r+1)*w], x[off:off+w])
	}
}

// scatter is the inverse of gather: rows of src [n·G, Dh] go to x [T, H, Dh].
func (p *plan) scatter(x, src []float32, i0, n, kh int) {
	w := p.groups * p.Dh
	for r := range n {
		off := (i0+r)*p.H*p.Dh + kh*w
		copy(x[off:off+w], src[r*w:(r+1)*w])
	}
}

// gatherRows copies the per-(head, token) statistic st [H, T] of the block's rows into dst [n·G].
func (p *plan) gatherRows(dst, st []float32, i0, n, kh int) {
	G := p.groups
	for r := range n {
		for g := range G {
			dst[r*G+g] = st[(kh*G+g)*p.T+i0+r]
		}
	}
}

// keyRange returns the keys [j0, j1) that query block b can see.
func (p *plan) keyRange(b block) (int, int) {
	if p.Causal {
		return b.s0, b.hi
	}
	return b.s0, b.s1
}

// scores fills s [R, nc] (R = n·G rows, leading dim nc) with scale·qs·k_jᵀ for the block's
// gathered queries (tokens [i0, i0+n)) and keys [j0, j0+nc) of kv head kh, then sets masked
// entries to −Inf.
func (p *plan) scores(s, qs, k []float32, i0, n, j0, nc, kh int) {
	G, ldk := p.groups, p.K*p.Dh
	R := n * G
	mm(false, true, R, nc, p.Dh, p.scale, qs, p.Dh, k[j0*ldk+kh*p.Dh:], ldk, 0, s, nc)
	if p.Causal && j0+nc-1 > i0 { // tile crosses the diagonal
		for r := range R {
			if c0 := i0 + r/G + 1 - j0; c0 < nc {
				row := s[r*nc : (r+1)*nc]
				for c := max(c0, 0); c < nc; c++ {
					row[c] = negInf
				}
			}
		}
	}
	if p.padded(j0, j0+nc) > 0 {
		for c, pad := range p.KeyPad[j0 : j0+nc] {
			if pad {
				for r := range R {
					s[r*nc+c] = negInf
				}
			}
		}
	}
}

// forward computes the output rows of tokens b.lo..b.hi for the G query heads of kv head kh.
func (s *scratch) forward(p *plan, o, lse, q, k, v []float32, b block, kh int) {
	G, Dh, ldk := p.groups, p.Dh, p.K*p.Dh
	n := b.hi - b.lo
	R := n * G
	acc, m, l := s.acc[:R*Dh], s.m[:R], s.l[:R]
	p.gather(s.qs, q, b.lo, n, kh)
	clear(acc)
	clear(l)
	for r := range m {
		m[r] = negInf
	}
	kLo, kHi := p.keyRange(b)
	for j0 := kLo; j0 < kHi; j0 += p.bcFwd {
		nc := min(p.bcFwd, kHi-j0)
		if p.padded(j0, j0+nc) == nc {
			continue
		}
		st := s.s[:R*nc]
		p.scores(st, s.qs, k, b.lo, n, j0, nc, kh)
		al, rs := s.al[:R], s.rs[:R]
		for r := range R {
			row := st[r*nc : (r+1)*nc]
			mNew := max(m[r], rowMax(row))
			if mNew == negInf { // nothing visible yet in this row: P = 0, l and acc stay 0
				clear(row)
				al[r], rs[r] = 0, 0
				continue
			}
			expShift(row, mNew)
			rs[r] = rowSum(row)
			al[r] = m[r] - mNew // exp → 0 when m[r] = −Inf
			m[r] = mNew
		}
		expRow(al)
		for r := range R {
			l[r] = l[r]*al[r] + rs[r]
			if al[r] != 1 {
				scale(al[r], acc[r*Dh:(r+1)*Dh])
			}
		}
		mm(false, false, R, Dh, nc, 1, st, nc, v[j0*ldk+kh*Dh:], ldk, 1, acc, Dh)
	}
	for r := range R {
		i, h := b.lo+r/G, kh*G+r%G
		out := acc[r*Dh : (r+1)*Dh]
		if l[r] == 0 {
			clear(out)
			lse[h*p.T+i] = posInf
			continue
		}
		scale(1/l[r], out)
		lse[h*p.T+i] = m[r] + float32(math.Log(float64(l[r])))
	}
	p.scatter(o, acc, b.lo, n, kh)
}

// probsAndDS, with s.qs, s.dos, s.m (= lse) and s.l (= D) holding the rows of tokens
// [i0, i0+n), recomputes P = exp(S − lse) against keys [j0, j0+nc), adds Pᵀ·dO to dv when dv is
// not nil, and leaves dS = P ⊙ (dO·Vᵀ − D) in s.s [R, nc].
func (s *scratch) probsAndDS(p *plan, k, v, dv []float32, i0, n, j0, nc, kh int) {
	Dh, ldk := p.Dh, p.K*p.Dh
	R := n * p.groups
	P, dP := s.s[:R*nc], s.dp[:R*nc]
	p.scores(P, s.qs, k, i0, n, j0, nc, kh)
	for r := range R {
		expShift(P[r*nc:(r+1)*nc], s.m[r]) // lse = +Inf → 0
	}
	if dv != nil {
		mm(true, false, nc, Dh, R, 1, P, nc, s.dos, Dh, 1, dv, Dh)
	}
	mm(false, true, R, nc, Dh, 1, s.dos, Dh, v[j0*ldk+kh*Dh:], ldk, 0, dP, nc)
	for r := range R {
		dsRow(P[r*nc:(r+1)*nc], dP[r*nc:(r+1)*nc], s.l[r])
	}
}

// loadRows gathers q, do, lse and D of tokens [i0, i0+n) of kv group kh into the scratch.
func (s *scratch) loadRows(p *plan, q, do, lse, D []float32, i0, n, kh int) {
	p.gather(s.qs, q, i0, n, kh)
	p.gather(s.dos, do, i0, n, kh)
	p.gatherRows(s.m, lse, i0, n, kh)
	p.gatherRows(s.l, D, i0, n, kh)
}

// backwardKV computes dk, dv rows b.lo..b.hi of kv head kh, summing over the group's query
// heads and all query blocks; the order is fixed (query blocks in order, each reduction inside
// one GEMM call over its (token, head) rows).
func (s *scratch) backwardKV(p *plan, dk, dv, do, q, k, v, lse, D []float32, b block, kh int) {
	G, Dh, ldk := p.groups, p.Dh, p.K*p.Dh
	nc := b.hi - b.lo
	gk, gv := s.gk[:nc*Dh], s.gv[:nc*Dh]
	clear(gk)
	clear(gv)
	if p.padded(b.lo, b.hi) < nc {
		qLo := b.s0
		if p.Causal { // earlier query blocks see none of these keys
			qLo = b.s0 + (b.lo-b.s0)/p.br*p.br
		}
		for i0 := qLo; i0 < b.s1; i0 += p.br {
			n := min(p.br, b.s1-i0)
			s.loadRows(p, q, do, lse, D, i0, n, kh)
			s.probsAndDS(p, k, v, gv, i0, n, b.lo, nc, kh)
			mm(true, false, nc, Dh, n*G, p.scale, s.s, nc, s.qs, Dh, 1, gk, Dh)
		}
	}
	for c := range nc {
		off := (b.lo+c)*ldk + kh*Dh
		copy(dk[off:off+Dh], gk[c*Dh:(c+1)*Dh])
		copy(dv[off:off+Dh], gv[c*Dh:(c+1)*Dh])
	}
}

// backwardQ computes dq rows of tokens b.lo..b.hi for the G query heads of kv head kh.
func (s *scratch) backwardQ(p *plan, dq, do, q, k, v, lse, D []float32, b block, kh int) {
	G, Dh, ldk := p.groups, p.Dh, p.K*p.Dh
	n := b.hi - b.lo
	R := n * G
	g := s.acc[:R*Dh]
	clear(g)
	s.loadRows(p, q, do, lse, D, b.lo, n, kh)
	kLo, kHi := p.keyRange(b)
	for j0 := kLo; j0 < kHi; j0 += p.bc {
		nc := min(p.bc, kHi-j0)
		if p.padded(j0, j0+nc) == nc {
			continue
		}
		s.probsAndDS(p, k, v, nil, b.lo, n, j0, nc, kh)
		mm(false, false, R, Dh, nc, p.scale, s.s, nc, k[j0*ldk+kh*Dh:], ldk, 1, g, Dh)
	}
	p.scatter(dq, g, b.lo, n, kh)
}
