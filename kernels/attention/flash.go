package attention

import (
	"math"
	"runtime"

	"github.com/glmflow/glmflow/kernels/gemm"
)

var (
	negInf = float32(math.Inf(-1))
	posInf = float32(math.Inf(1))
)

// ldt is the row stride of the score tiles and of the gathered q / do rows: gemm.PackedLD, at
// which gemm.SgemmPackedB reads its A operand in place, so no tile product copies A.
const ldt = gemm.PackedLD

// scratch is one worker's tile memory. R = G·br rows: (token, head) pairs of one query block,
// row r·G + g is token lo+r of query head kh·G + g.
type scratch struct {
	qs, dos []float32 // [R, ldq] gathered q (and do) rows of the query block
	s, dp   []float32 // [R, ldt] scores → probabilities; dP → dS
	acc     []float32 // [rows, Dh] output accumulators (forward) or dQ (backward) of the task's rows
	m, l    []float32 // [rows] forward: running max and sum; backward: lse and D of the query block
	al      []float32 // [2R] forward: rescale factors and row sums of one tile
	gk, gv  []float32 // [bc, Dh] dK, dV accumulators

	kT, vB, vT, kB packed // packed tiles: Kᵀ, V (forward); Kᵀ, Vᵀ, K (backward)

	// Params.BF16 (bf16.go): the gathered q (and do) rows [R, Dh] and the offset of the
	// current key block in the bf16 k and v.
	qs16, dos16 []uint16
	kv0         int
}

func (p *plan) newScratch() *scratch {
	R, Dh := p.groups*p.br, p.Dh
	s := &scratch{
		s: make([]float32, R*ldt), dp: make([]float32, R*ldt),
		m: make([]float32, R), l: make([]float32, R), al: make([]float32, 2*R),
		gk: make([]float32, p.bc*Dh), gv: make([]float32, p.bc*Dh),
	}
	if p.in16 != nil {
		s.ensure16(p)
	} else {
		s.qs, s.dos = make([]float32, R*p.ldq), make([]float32, R*p.ldq)
	}
	return s
}

// grow returns x resized to n elements, reallocating only when it is too small.
func grow(x []float32, n int) []float32 {
	if cap(x) < n {
		return make([]float32, n)
	}
	return x[:n]
}

// gather copies the G·Dh floats of kv group kh for tokens [i0, i0+n) of x [T, H, Dh] into
// dst [n·G, ld] (ld = Dh: one contiguous run per token).
func (p *plan) gather(dst []float32, ld int, x []float32, i0, n, kh int) {
	G, Dh := p.groups, p.Dh
	w := G * Dh
	for r := range n {
		src := x[(i0+r)*p.H*Dh+kh*w:]
		if ld == Dh {
			copy(dst[r*w:(r+1)*w], src[:w])
			continue
		}
		for g := range G {
			copy(dst[(r*G+g)*ld:(r*G+g)*ld+Dh], src[g*Dh:(g+1)*Dh])
		}
	}
}

// scatter copies rows of src [n·G, Dh] to x [T, H, Dh] (the inverse of gather with ld = Dh).
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

// scores fills s [R, nc] (R = n·G rows, leading dim ldt) with scale·qs·k_jᵀ for the block's
// gathered queries (tokens [i0, i0+n)) and keys [j0, j0+nc) of the packed Kᵀ tile kT, then
// sets masked entries to −Inf.
func (p *plan) scores(s, qs []float32, kT *packed, i0, n, j0, nc int) {
	mmP(n*p.groups, nc, p.Dh, p.scale, qs, p.ldq, kT, 0, s, ldt)
	p.mask(s, i0, n, j0, nc)
}

// mask sets the entries of the score tile s [n·G, nc] (leading dim ldt) of queries
// [i0, i0+n) and keys [j0, j0+nc) that the causal mask or KeyPad hides to −Inf.
func (p *plan) mask(s []float32, i0, n, j0, nc int) {
	G := p.groups
	R := n * G
	if p.Causal && j0+nc-1 > i0 { // tile crosses the diagonal
		for r := range R {
			if c0 := i0 + r/G + 1 - j0; c0 < nc {
				row := s[r*ldt : r*ldt+nc]
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
					s[r*ldt+c] = negInf
				}
			}
		}
	}
}

// fwdChunk is one forward task: query blocks [b0, b1) of one segment, all for kv head kh.
// Key tiles are the outer loop, so each K/V tile is packed once for all the chunk's blocks;
// every row still sees its key tiles in order, so the chunking cannot change any result.
type fwdChunk struct{ b0, b1, kh int }

// forward computes the output rows of the chunk's query blocks.
func (s *scratch) forward(p *plan, o, lse, q, k, v []float32, c fwdChunk) {
	G, Dh, ldk := p.groups, p.Dh, p.K*p.Dh
	blocks := p.blocks[c.b0:c.b1]
	first, last := blocks[0], blocks[len(blocks)-1]
	rows := (last.hi - first.lo) * G
	s.acc = grow(s.acc, rows*Dh)
	s.m, s.l = grow(s.m, rows), grow(s.l, rows)
	clear(s.acc)
	clear(s.l)
	for r := range s.m {
		s.m[r] = negInf
	}
	kLo, kHi := first.s0, first.s1
	if p.Causal {
		kHi = last.hi
	}
	for j0 := kLo; j0 < kHi; j0 += p.bcFwd {
		nc := min(p.bcFwd, kHi-j0)
		if p.padded(j0, j0+nc) == nc {
			continue
		}
		kv0 := j0*ldk + c.kh*Dh
		if p.in16 == nil {
			s.kT.pack(true, Dh, nc, k[kv0:], ldk)
			s.vB.pack(false, nc, Dh, v[kv0:], ldk)
		}
		for _, b := range blocks {
			if p.Causal && j0 >= b.hi {
				continue
			}
			n := b.hi - b.lo
			R := n * G
			nb := nc // keys of this tile the block can see
			if p.Causal {
				nb = min(nc, b.hi-j0)
			}
			r0 := (b.lo - first.lo) * G
			acc, m, l := s.acc[r0*Dh:(r0+R)*Dh], s.m[r0:r0+R], s.l[r0:r0+R]
			if in := p.in16; in != nil {
				p.gather16(s.qs16, in.q, b.lo, n, c.kh)
				mm16(false, true, R, nb, Dh, p.scale, s.qs16, Dh, in.k[kv0:], ldk, 0, s.s, ldt)
				p.mask(s.s, b.lo, n, j0, nb)
				softmaxTile(s.s, R, nb, m, l, s.al[:2*R], acc, Dh)
				mmR16(false, R, Dh, nb, 1, s.s, ldt, in.v[kv0:], ldk, acc, Dh)
				continue
			}
			p.gather(s.qs, p.ldq, q, b.lo, n, c.kh)
			p.scores(s.s, s.qs, &s.kT, b.lo, n, j0, nb)
			softmaxTile(s.s, R, nb, m, l, s.al[:2*R], acc, Dh)
			mmP(R, Dh, nb, 1, s.s, ldt, &s.vB, 1, acc, Dh)
		}
	}
	for r := range rows {
		i, h := first.lo+r/G, c.kh*G+r%G
		out := s.acc[r*Dh : (r+1)*Dh]
		if s.l[r] == 0 {
			clear(out)
			lse[h*p.T+i] = posInf
			continue
		}
		scale(1/s.l[r], out)
		lse[h*p.T+i] = s.m[r] + float32(math.Log(float64(s.l[r])))
	}
	p.scatter(o, s.acc, first.lo, last.hi-first.lo, c.kh)
}

// Backward schedules. Both compute every tile (query block i, key block j) with the same
// operations and sum dq over key blocks in order, so they give identical bits; the choice only
// trades parallelism for work:
//   - schedSingle: one task per (segment, kv head) walks its key blocks in order and, per
//     tile, adds to dk/dv of the key block and to the segment's dq rows: five tile products.
//   - schedTwo: tasks per (segment, kv head, key block) own dk/dv; then tasks per (segment,
//     kv head, chunk of query blocks) own dq and recompute S and dP: seven tile products.
const (
	schedAuto = iota
	schedSingle
	schedTwo
)

var schedule = schedAuto // tests force the others

// singlePass reports whether the one-pass backward keeps the workers busy: its largest task
// is no longer than the two-pass makespan (7/9 of the two-pass work per tile).
func (p *plan) singlePass() bool {
	switch schedule {
	case schedSingle:
		return true
	case schedTwo:
		return false
	}
	procs := runtime.GOMAXPROCS(0)
	var total, most float64
	for s := 1; s < len(p.segs); s++ {
		L := float64(p.segs[s] - p.segs[s-1])
		total += L * L * float64(p.K)
		most = max(most, L*L)
	}
	return procs == 1 || 7*most*float64(procs) <= 9*total
}

// bwdTile computes tile (query block i at tokens [i0, i0+n), keys [j0, j0+nc)) with s.qs,
// s.dos, s.m (= lse) and s.l (= D) holding the block's rows and s.kT, s.vT (and s.kB when dq
// is not nil) the key block: P = exp(S − lse) into s.s, dS = P ⊙ (dP − D) into s.dp; when kv,
// gv += Pᵀ·dO and gk += scale·dSᵀ·Q; when dq is not nil, dq [R, Dh] += scale·dS·K.
func (s *scratch) bwdTile(p *plan, i0, n, j0, nc int, kv bool, dq []float32) {
	Dh := p.Dh
	R := n * p.groups
	P, dP := s.s, s.dp
	if in := p.in16; in != nil {
		ldk := p.K * Dh
		k16, v16 := in.k[s.kv0:], in.v[s.kv0:]
		mm16(false, true, R, nc, Dh, p.scale, s.qs16, Dh, k16, ldk, 0, P, ldt)
		p.mask(P, i0, n, j0, nc)
		mm16(false, true, R, nc, Dh, 1, s.dos16, Dh, v16, ldk, 0, dP, ldt)
		probsDS(P, dP, R, nc, s.m, s.l)
		if kv {
			mmR16(true, nc, Dh, R, 1, P, ldt, s.dos16, Dh, s.gv, Dh)
			mmR16(true, nc, Dh, R, p.scale, dP, ldt, s.qs16, Dh, s.gk, Dh)
		}
		if dq != nil {
			mmR16(false, R, Dh, nc, p.scale, dP, ldt, k16, ldk, dq, Dh)
		}
		return
	}
	p.scores(P, s.qs, &s.kT, i0, n, j0, nc)
	mmP(R, nc, Dh, 1, s.dos, p.ldq, &s.vT, 0, dP, ldt)
	probsDS(P, dP, R, nc, s.m, s.l)
	if kv {
		mm(true, false, nc, Dh, R, 1, P, ldt, s.dos, p.ldq, 1, s.gv, Dh)
		mm(true, false, nc, Dh, R, p.scale, dP, ldt, s.qs, p.ldq, 1, s.gk, Dh)
	}
	if dq != nil {
		mmP(R, Dh, nc, p.scale, dP, ldt, &s.kB, 1, dq, Dh)
	}
}

// loadRows gathers q, do, lse and D of tokens [i0, i0+n) of kv group kh into the scratch.
func (s *scratch) loadRows(p *plan, q, do, lse, D []float32, i0, n, kh int) {
	if in := p.in16; in != nil {
		p.gather16(s.qs16, in.q, i0, n, kh)
		p.gather16(s.dos16, in.do, i0, n, kh)
	} else {
		p.gather(s.qs, p.ldq, q, i0, n, kh)
		p.gather(s.dos, p.ldq, do, i0, n, kh)
	}
	p.gatherRows(s.m, lse, i0, n, kh)
	p.gatherRows(s.l, D, i0, n, kh)
}

// packKV packs key block [j0, j0+nc) of kv head kh for bwdTile (K only when withK).
func (s *scratch) packKV(p *plan, k, v []float32, j0, nc, kh int, withK bool) {
	Dh, ldk := p.Dh, p.K*p.Dh
	if p.in16 != nil {
		s.kv0 = j0*ldk + kh*Dh
		return
	}
	s.kT.pack(true, Dh, nc, k[j0*ldk+kh*Dh:], ldk)
	s.vT.pack(true, Dh, nc, v[j0*ldk+kh*Dh:], ldk)
	if withK {
		s.kB.pack(false, nc, Dh, k[j0*ldk+kh*Dh:], ldk)
	}
}

// sees reports whether query block b sees any key of key block kb (both in one segment).
func (p *plan) sees(b, kb block) bool { return !p.Causal || b.hi > kb.lo }

// backwardKV computes dk, dv rows of key block kvBlks[jb] for kv head kh, summing over the
// group's query heads and the segment's query blocks in order; with dq (schedSingle, [rows of
// the segment, Dh] in gathered layout) it also adds the key block's share of dq.
func (s *scratch) backwardKV(p *plan, dk, dv, do, q, k, v, lse, D []float32, jb, kh int, dq []float32) {
	G, Dh, ldk := p.groups, p.Dh, p.K*p.Dh
	kb := p.kvBlks[jb]
	nc := kb.hi - kb.lo
	gk, gv := s.gk[:nc*Dh], s.gv[:nc*Dh]
	clear(gk)
	clear(gv)
	if p.padded(kb.lo, kb.hi) < nc {
		s.packKV(p, k, v, kb.lo, nc, kh, dq != nil)
		for _, b := range p.blocks[p.segBlk[kb.seg]:p.segBlk[kb.seg+1]] {
			if !p.sees(b, kb) {
				continue
			}
			n := b.hi - b.lo
			s.loadRows(p, q, do, lse, D, b.lo, n, kh)
			var dqb []float32
			if dq != nil {
				r0 := (b.lo - b.s0) * G
				dqb = dq[r0*Dh : (r0+n*G)*Dh]
			}
			s.bwdTile(p, b.lo, n, kb.lo, nc, true, dqb)
		}
	}
	for c := range nc {
		off := (kb.lo+c)*ldk + kh*Dh
		copy(dk[off:off+Dh], gk[c*Dh:(c+1)*Dh])
		copy(dv[off:off+Dh], gv[c*Dh:(c+1)*Dh])
	}
}

// backwardSeg is schedSingle's task: dk, dv of every key block and dq of segment seg, kv head kh.
func (s *scratch) backwardSeg(p *plan, dq, dk, dv, do, q, k, v, lse, D []float32, seg, kh int) {
	s0, s1 := p.segs[seg], p.segs[seg+1]
	rows := (s1 - s0) * p.groups
	s.acc = grow(s.acc, rows*p.Dh)
	clear(s.acc)
	for jb := p.segKV[seg]; jb < p.segKV[seg+1]; jb++ {
		s.backwardKV(p, dk, dv, do, q, k, v, lse, D, jb, kh, s.acc)
	}
	p.scatter(dq, s.acc, s0, s1-s0, kh)
}

// backwardQ is schedTwo's dq task: dq rows of the chunk's query blocks, key blocks outer.
func (s *scratch) backwardQ(p *plan, dq, do, q, k, v, lse, D []float32, c fwdChunk) {
	G, Dh := p.groups, p.Dh
	blocks := p.blocks[c.b0:c.b1]
	first, last := blocks[0], blocks[len(blocks)-1]
	s.acc = grow(s.acc, (last.hi-first.lo)*G*Dh)
	clear(s.acc)
	seg := first.seg
	for jb := p.segKV[seg]; jb < p.segKV[seg+1]; jb++ {
		kb := p.kvBlks[jb]
		nc := kb.hi - kb.lo
		if p.padded(kb.lo, kb.hi) == nc || !p.sees(last, kb) {
			continue
		}
		s.packKV(p, k, v, kb.lo, nc, c.kh, true)
		for _, b := range blocks {
			if !p.sees(b, kb) {
				continue
			}
			n := b.hi - b.lo
			s.loadRows(p, q, do, lse, D, b.lo, n, c.kh)
			r0 := (b.lo - first.lo) * G
			s.bwdTile(p, b.lo, n, kb.lo, nc, false, s.acc[r0*Dh:(r0+n*G)*Dh])
		}
	}
	p.scatter(dq, s.acc, first.lo, last.hi-first.lo, c.kh)
}
