package attention

import (
	"math"
	"sync"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/tensors"
)

// Dense bf16 path (Params.BF16, bidirectional, every segment at most denseMaxL tokens): the
// vision tower's shape, one image per segment. Each (segment, head) is a handful of
// whole-segment GEMMs on the bf16 copies of q, k, v, do (in16), with the L×L score matrices in
// the worker's scratch (L2-resident for L ≤ 256: 256 KiB per fp32 matrix):
//
//	forward  (task: segment, query head h):
//	  S = scale·q_h·k_hᵀ [L, L]; P = exp(S − rowmax) in place; l = rowsum(P)
//	  o_h = bf16(P)·v_h / l   (P rounded row by row into bf16 rows at gemm.PackedLD16, which
//	                           the GEMM reads in place as its A; rows written into o)
//	  lse = rowmax + log l
//	backward (task: segment, kv head; its G query heads in order), transposed (rows = keys):
//	  Sᵀ = scale·k_h·q_hᵀ, Pᵀ = exp(Sᵀ − lse); dPᵀ = v_h·do_hᵀ; dSᵀ = Pᵀ ⊙ (dPᵀ − D)
//	  (D = rowsum(do ⊙ o); lse and D per column), each row rounded to bf16 once
//	  dv (+)= bf16(Pᵀ)·do_h,  dk (+)= scale·bf16(dSᵀ)·q_h   (A read in place)
//	  dq_h = scale·bf16(dSᵀ)ᵀ·k_h                          (the one packed L×L operand)
//	  dk, dv summed over the group's heads in order, rows written straight into dk, dv, dq
//
// The transposed backward gives the bits of the untransposed one: each score and each sum
// has the same terms in the same order.
//
// Compared with the flash tiles (flash.go): no gather/scatter copies (operands are read and
// written in place at their row strides in q, k, v, do, o, dq, dk, dv), each operand is packed
// once per (segment, head) rather than once per tile, and there is no online rescaling. The
// backward recomputes S (no L×L state is kept between calls). Numerics are those of the bf16
// flash path: bf16 operands of every product; float32 softmax, statistics, dS and outputs; P in
// the forward is unnormalised (exp(S − max)) when rounded, as in the flash tiles.

// denseMaxL is the longest segment the dense path takes: its scratch holds two L×L float32
// matrices and one L×L bf16 matrix (10·L² bytes: 10 MiB at 1024).
var denseMaxL = 1024

// Dense-path selection (tests force the others).
const (
	denseAuto = iota
	denseNever
	denseAlways // whenever it applies (BF16, not causal), whatever the segment lengths
)

var denseMode = denseAuto

// dense reports whether the call takes the dense path. It depends on the parameters only
// (never on the thread count), so results do not depend on GOMAXPROCS.
func (p *plan) dense() bool {
	if !p.BF16 || p.Causal || denseMode == denseNever {
		return false
	}
	if denseMode == denseAlways {
		return true
	}
	return p.maxSegLen() <= denseMaxL
}

// maxSegLen is the longest segment of the call.
func (p *plan) maxSegLen() int {
	L := 0
	for s := 1; s < len(p.segs); s++ {
		L = max(L, p.segs[s]-p.segs[s-1])
	}
	return L
}

// denseScratch is one worker's memory for the dense path.
type denseScratch struct {
	s, dp []float32 // [L, L] scores → P; dP → dS (the backward's transposed)
	p16   []uint16  // [L, denseLD(L)] bf16 P (the backward's Pᵀ)
	ds16  []uint16  // [L, denseLD(L)] bf16 dSᵀ (backward)
	l     []float32 // [L] row sums (forward)
}

var denseScratches sync.Pool

// denseRun runs f over n tasks (see runTasks) with dense scratches for segments of up to L
// tokens, recycled between calls.
func denseRun(n int, work int64, L int, bwd bool, f func(s *denseScratch, task int)) {
	var mu sync.Mutex
	var used []*denseScratch
	mk := func() *denseScratch {
		s, _ := denseScratches.Get().(*denseScratch)
		if s == nil {
			s = &denseScratch{}
		}
		s.ensure(L, bwd)
		mu.Lock()
		used = append(used, s)
		mu.Unlock()
		return s
	}
	runTasks(n, work, mk, f)
	for _, s := range used {
		denseScratches.Put(s)
	}
}

// ensure sizes s for segments of up to L tokens.
func (s *denseScratch) ensure(L int, bwd bool) {
	s.s, s.l = grow(s.s, L*L), grow(s.l, L)
	n16 := L * max(L, gemm.PackedLD16) // rows at denseLD(L') for every segment length L' ≤ L
	if len(s.p16) < n16 {
		s.p16 = make([]uint16, n16)
	}
	if bwd {
		s.dp = grow(s.dp, L*L)
		if len(s.ds16) < n16 {
			s.ds16 = make([]uint16, n16)
		}
	}
}

// maskPad sets the columns of padded keys of segment [s0, s0+L) in S [L, L] to −Inf.
func (p *plan) maskPad(S []float32, s0, L int) {
	if p.padded(s0, s0+L) == 0 {
		return
	}
	for j, pad := range p.KeyPad[s0 : s0+L] {
		if pad {
			for i := range L {
				S[i*L+j] = negInf
			}
		}
	}
}

// denseLD is the row stride of the dense path's bf16 L×L matrices: gemm.PackedLD16 (the
// packed panels' stride, whose stagger keeps a tile's rows in different L1 sets) when a row
// fits, else L. The GEMMs read them in place either way (even L).
func denseLD(L int) int {
	if L <= gemm.PackedLD16 {
		return gemm.PackedLD16
	}
	return L
}

// denseForward computes the o rows and lse of query head h in segment seg.
func (p *plan) denseForward(s *denseScratch, o, lse []float32, seg, h int) {
	s0, s1 := p.segs[seg], p.segs[seg+1]
	L := s1 - s0
	if L == 0 {
		return
	}
	Dh, ldq, ldk := p.Dh, p.H*p.Dh, p.K*p.Dh
	in := p.in16
	q0, k0 := s0*ldq+h*Dh, s0*ldk+(h/p.groups)*Dh
	S, l := s.s[:L*L], s.l[:L]
	ld := denseLD(L)
	P16 := s.p16[:(L-1)*ld+L]
	mm16(false, true, L, L, Dh, p.scale, in.q[q0:], ldq, in.k[k0:], ldk, 0, S, L)
	p.maskPad(S, s0, L)
	st := lse[h*p.T+s0 : h*p.T+s1]
	for i := range L {
		row, p16 := S[i*L:(i+1)*L], P16[i*ld:i*ld+L]
		m := rowMax(row)
		if m == negInf { // every key padded: P = 0, o = 0
			clear(p16)
			l[i], st[i] = 0, posInf
			continue
		}
		var ok bool
		if l[i], ok = expSumRow16(row, m, p16); !ok { // both steps in one pass when it can
			l[i] = expSum(row, m)
			tensors.F32ToBF16(p16, row)
		}
		st[i] = m + float32(math.Log(float64(l[i])))
	}
	mm16(false, false, L, Dh, L, 1, P16, ld, in.v[k0:], ldk, 0, o[q0:], ldq)
	for i := range L {
		out := o[q0+i*ldq : q0+i*ldq+Dh]
		if l[i] == 0 {
			clear(out)
			continue
		}
		scale(1/l[i], out)
	}
}

// denseBackward computes dk, dv of kv head kh and dq of its query heads in segment seg, with
// the score matrices transposed (rows are keys), so that the products summed over queries
// (dv, dk) read bf16(Pᵀ) and bf16(dSᵀ) as row-major A in place (denseLD) and only dq's
// transposed A is packed:
//
//	Sᵀ = scale·k_h·q_hᵀ, Pᵀ = exp(Sᵀ − lse) (lse per column), dPᵀ = v_h·do_hᵀ,
//	dSᵀ = Pᵀ ⊙ (dPᵀ − D) (D per column)
//	dv (+)= bf16(Pᵀ)·do_h, dk (+)= scale·bf16(dSᵀ)·q_h, dq_h = scale·bf16(dSᵀ)ᵀ·k_h
//
// Every element and every sum is the one of the untransposed order (products of the pair
// kernel are symmetric in their operands; sums run over the same index in the same order).
func (p *plan) denseBackward(s *denseScratch, dq, dk, dv, lse, D []float32, seg, kh int) {
	s0, s1 := p.segs[seg], p.segs[seg+1]
	L := s1 - s0
	if L == 0 {
		return
	}
	Dh, ldq, ldk := p.Dh, p.H*p.Dh, p.K*p.Dh
	in := p.in16
	k0 := s0*ldk + kh*Dh
	St, dPt := s.s[:L*L], s.dp[:L*L]
	ld := denseLD(L)
	P16, dS16 := s.p16[:(L-1)*ld+L], s.ds16[:(L-1)*ld+L]
	var pad []bool
	if p.padded(s0, s1) > 0 {
		pad = p.KeyPad[s0:s1]
	}
	for g := range p.groups {
		h := kh*p.groups + g
		q0 := s0*ldq + h*Dh
		mm16(false, true, L, L, Dh, p.scale, in.k[k0:], ldk, in.q[q0:], ldq, 0, St, L)
		mm16(false, true, L, L, Dh, 1, in.v[k0:], ldk, in.do[q0:], ldq, 0, dPt, L)
		st, d := lse[h*p.T+s0:h*p.T+s1], D[h*p.T+s0:h*p.T+s1]
		for j := range L {
			p16, d16 := P16[j*ld:j*ld+L], dS16[j*ld:j*ld+L]
			if pad != nil && pad[j] { // padded key: P = 0, dS = 0
				clear(p16)
				clear(d16)
				continue
			}
			pr, dr := St[j*L:(j+1)*L], dPt[j*L:(j+1)*L]
			if probsDSRow16(pr, dr, st, d, p16, d16) { // the four steps below in one pass
				continue
			}
			expSubRow(pr, st) // lse = +Inf → 0
			dsSubRow(pr, dr, d)
			tensors.F32ToBF16(p16, pr)
			tensors.F32ToBF16(d16, dr)
		}
		beta := float32(min(g, 1)) // the group's first head overwrites dk, dv
		mm16(false, false, L, Dh, L, 1, P16, ld, in.do[q0:], ldq, beta, dv[k0:], ldk)
		mm16(false, false, L, Dh, L, p.scale, dS16, ld, in.q[q0:], ldq, beta, dk[k0:], ldk)
		mm16(true, false, L, Dh, L, p.scale, dS16, ld, in.k[k0:], ldk, 0, dq[q0:], ldq)
	}
}
