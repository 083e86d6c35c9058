package attention

import (
	"fmt"
	"math"
	"runtime"

	"github.com/glmflow/glmflow/kernels/gemm"
)

// Tiling. A task stacks the G = H/K query heads that share a kv head: its tile rows are
// (token, head) pairs, tokens outer, so one K/V tile is packed once for all G heads and the
// gather of a query block is one contiguous copy of G·Dh floats per token. A query block holds
// br = ⌈rowsTarget/G⌉ tokens (G·br ≈ rowsTarget rows); a key tile holds bcFwd keys in the forward
// and bc in the backward (≤ maxBc). The score tiles and the accumulators stay in L2 (1 MiB on
// Zen 4). Sizes measured on Zen 4 (bench_test.go, ATTN_* in tune_test.go): wider key tiles
// amortise the per-row softmax calls in the forward.
var (
	rowsTarget = 128
	bcFwd      = 512
	bc         = 128
)

// Params describes one attention call.
type Params struct {
	T, H, K, Dh int     // tokens, query heads, kv heads (H % K == 0), head dim
	Scale       float32 // softmax scale applied to q·k; 0 means 1/sqrt(Dh)
	Causal      bool    // query i sees key j only when j ≤ i (and both lie in one segment)
	CuSeqlens   []int32 // [nseg+1] 0 = cu[0] ≤ cu[1] ≤ … ≤ cu[nseg] = T; nil: one segment [0, T)
	KeyPad      []bool  // [T] true: key t is padding, invisible to every query; nil: no padding
	// BF16 runs every tile product on bfloat16 operands with float32 accumulation (bf16.go):
	// about twice the tile-product speed on CPUs with AVX512_BF16, at bf16 operand precision.
	// Softmax, statistics and outputs stay float32.
	BF16 bool
}

// plan is a validated Params plus the block lists the kernels iterate over.
type plan struct {
	Params
	scale  float32
	groups int     // G = H / K query heads per kv head
	br     int     // tokens per query block
	bc     int     // keys per key tile in the backward (and per dk/dv task)
	bcFwd  int     // keys per key tile in the forward
	ldq    int     // row stride of gathered q / do rows: ldt, or Dh when Dh > gemm.PackedMaxK
	segs   []int   // [nseg+1] segment boundaries (CuSeqlens)
	blocks []block // query blocks of br tokens
	kvBlks []block // key blocks of bc tokens (the tasks of the dk/dv pass)
	segBlk []int   // [nseg+1] blocks[segBlk[s]:segBlk[s+1]] are segment s's query blocks
	segKV  []int   // [nseg+1] the same for kvBlks
	padCnt []int32 // [T+1] padCnt[t] = padded keys in [0, t); nil without padding
	in16   *in16   // bf16 copies of the inputs when BF16; nil otherwise
}

// block is rows [lo, hi) of segment seg = [s0, s1).
type block struct{ s0, s1, lo, hi, seg int }

func newPlan(op string, p Params) (*plan, error) {
	switch {
	case p.T < 0 || p.H <= 0 || p.K <= 0 || p.Dh <= 0:
		return nil, fmt.Errorf("%s: bad dims T=%d H=%d K=%d Dh=%d", op, p.T, p.H, p.K, p.Dh)
	case p.H%p.K != 0:
		return nil, fmt.Errorf("%s: H=%d is not a multiple of K=%d", op, p.H, p.K)
	case p.Scale < 0 || math.IsNaN(float64(p.Scale)) || math.IsInf(float64(p.Scale), 0):
		return nil, fmt.Errorf("%s: bad scale %g", op, p.Scale)
	case p.KeyPad != nil && len(p.KeyPad) != p.T:
		return nil, fmt.Errorf("%s: len(KeyPad) = %d, want T = %d", op, len(p.KeyPad), p.T)
	}
	cu := p.CuSeqlens
	if cu == nil {
		cu = []int32{0, int32(p.T)}
	}
	if len(cu) < 2 || cu[0] != 0 || int(cu[len(cu)-1]) != p.T {
		return nil, fmt.Errorf("%s: CuSeqlens must start at 0 and end at T=%d, got %v", op, p.T, short(cu))
	}
	pl := &plan{Params: p, scale: p.Scale, groups: p.H / p.K, bc: bc, bcFwd: bcFwd, ldq: ldt}
	if p.Dh > gemm.PackedMaxK {
		pl.ldq = p.Dh
	}
	pl.br = max(1, (rowsTarget+pl.groups-1)/pl.groups)
	if pl.scale == 0 {
		pl.scale = float32(1 / math.Sqrt(float64(p.Dh)))
	}
	pl.segs = []int{0}
	pl.segBlk, pl.segKV = []int{0}, []int{0}
	for s := 1; s < len(cu); s++ {
		s0, s1 := int(cu[s-1]), int(cu[s])
		if s1 < s0 {
			return nil, fmt.Errorf("%s: CuSeqlens decreases at index %d: %v", op, s, short(cu))
		}
		for lo := s0; lo < s1; lo += pl.br {
			pl.blocks = append(pl.blocks, block{s0, s1, lo, min(lo+pl.br, s1), s - 1})
		}
		for lo := s0; lo < s1; lo += pl.bc {
			pl.kvBlks = append(pl.kvBlks, block{s0, s1, lo, min(lo+pl.bc, s1), s - 1})
		}
		pl.segs = append(pl.segs, s1)
		pl.segBlk = append(pl.segBlk, len(pl.blocks))
		pl.segKV = append(pl.segKV, len(pl.kvBlks))
	}
	if p.KeyPad != nil {
		pl.padCnt = make([]int32, p.T+1)
		for t, pad := range p.KeyPad {
			pl.padCnt[t+1] = pl.padCnt[t]
			if pad {
				pl.padCnt[t+1]++
			}
		}
	}
	return pl, nil
}

// padded returns how many keys of [j0, j1) are padding.
func (p *plan) padded(j0, j1 int) int {
	if p.padCnt == nil {
		return 0
	}
	return int(p.padCnt[j1] - p.padCnt[j0])
}

// chunks splits each segment's query blocks, for every kv head, into runs of consecutive
// blocks: the tasks of the forward and of the two-pass dq pass. A run packs each K/V tile once
// for all its blocks; runs are short enough to give each worker about four tasks.
func (p *plan) chunks() []fwdChunk {
	procs := runtime.GOMAXPROCS(0)
	size := len(p.blocks)
	if procs > 1 {
		size = max(1, len(p.blocks)*p.K/(4*procs))
	}
	var cs []fwdChunk
	for s := 1; s < len(p.segBlk); s++ {
		for b0 := p.segBlk[s-1]; b0 < p.segBlk[s]; b0 += size {
			b1 := min(b0+size, p.segBlk[s])
			for kh := range p.K {
				cs = append(cs, fwdChunk{b0, b1, kh})
			}
		}
	}
	return cs
}

// work estimates the multiply-adds of one pass (for the inline/parallel decision).
func (p *plan) work() int64 {
	var w int64
	for _, b := range p.blocks {
		w += int64(b.hi-b.lo) * int64(b.s1-b.s0)
	}
	return w * int64(p.H) * int64(p.Dh)
}

func short(cu []int32) []int32 {
	if len(cu) > 8 {
		return cu[:8]
	}
	return cu
}

func checkLen(op string, pairs ...any) error {
	for i := 0; i < len(pairs); i += 3 {
		name, x, want := pairs[i].(string), pairs[i+1].([]float32), pairs[i+2].(int)
		if len(x) != want {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, name, len(x), want)
		}
	}
	return nil
}

// newPlan16 is newPlan for the calls with bf16 q, k, v: it also requires Params.BF16 and
// checks their lengths.
func newPlan16(op string, p Params, q, k, v []uint16) (*plan, error) {
	if !p.BF16 {
		return nil, fmt.Errorf("%s: bf16 inputs need Params.BF16", op)
	}
	pl, err := newPlan(op, p)
	if err != nil {
		return nil, err
	}
	nq, nk := p.T*p.H*p.Dh, p.T*p.K*p.Dh
	for _, a := range []struct {
		name string
		x    []uint16
		want int
	}{{"q", q, nq}, {"k", k, nk}, {"v", v, nk}} {
		if len(a.x) != a.want {
			return nil, fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, len(a.x), a.want)
		}
	}
	return pl, nil
}

// Forward computes o = softmax(scale·q·kᵀ + mask)·v per query head and saves lse for Backward.
//
//	o   [T, H, Dh]  overwritten
//	lse [H, T]      overwritten; +Inf for rows with no visible key
//	q   [T, H, Dh]
//	k   [T, K, Dh]
//	v   [T, K, Dh]
func Forward(o, lse, q, k, v []float32, p Params) error {
	const op = "attention.Forward"
	pl, err := newPlan(op, p)
	if err != nil {
		return err
	}
	nq, nk := p.T*p.H*p.Dh, p.T*p.K*p.Dh
	if err := checkLen(op, "o", o, nq, "lse", lse, p.H*p.T, "q", q, nq, "k", k, nk, "v", v, nk); err != nil {
		return err
	}
	if p.BF16 {
		pl.in16 = &in16{q: round16(q), k: round16(k), v: round16(v)}
		defer pl.in16.release()
	}
	pl.forward(o, lse, q, k, v)
	return nil
}

// Forward16 is Forward (Params.BF16 required) with q, k, v given as bfloat16 bits: they are
// the operands of the tile products as they are, so a caller that keeps bf16 copies (mixed
// precision) skips the rounding Forward does. The results are those of Forward on any float32
// q, k, v that round to these.
func Forward16(o, lse []float32, q, k, v []uint16, p Params) error {
	const op = "attention.Forward16"
	pl, err := newPlan16(op, p, q, k, v)
	if err != nil {
		return err
	}
	if err := checkLen(op, "o", o, p.T*p.H*p.Dh, "lse", lse, p.H*p.T); err != nil {
		return err
	}
	pl.in16 = &in16{q: q, k: k, v: v}
	pl.forward(o, lse, nil, nil, nil)
	return nil
}

// forward runs the forward pass of a checked plan (float32 q, k, v unused when pl.in16 is set).
func (pl *plan) forward(o, lse, q, k, v []float32) {
	p := pl.Params
	if pl.dense() {
		nseg := len(pl.segs) - 1
		denseRun(nseg*p.H, pl.work(), pl.maxSegLen(), false, func(s *denseScratch, task int) {
			pl.denseForward(s, o, lse, task/p.H, task%p.H)
		})
		return
	}
	cs := pl.chunks()
	runTasks(len(cs), pl.work(), pl.newScratch,
		func(s *scratch, task int) {
			s.forward(pl, o, lse, q, k, v, cs[task])
		})
}

// Backward computes the input gradients of Forward from the upstream gradient do, the inputs,
// and Forward's o and lse.
//
//	dq [T, H, Dh]  overwritten
//	dk [T, K, Dh]  overwritten (summed over the H/K query heads of each kv head)
//	dv [T, K, Dh]  overwritten
//	do, q, o [T, H, Dh]; k, v [T, K, Dh]; lse [H, T]
func Backward(dq, dk, dv, do, q, k, v, o, lse []float32, p Params) error {
	const op = "attention.Backward"
	pl, err := newPlan(op, p)
	if err != nil {
		return err
	}
	nq, nk := p.T*p.H*p.Dh, p.T*p.K*p.Dh
	if err := checkLen(op, "dq", dq, nq, "dk", dk, nk, "dv", dv, nk, "do", do, nq,
		"q", q, nq, "k", k, nk, "v", v, nk, "o", o, nq, "lse", lse, p.H*p.T); err != nil {
		return err
	}
	D := pl.rowTerm(do, o)
	if p.BF16 {
		pl.in16 = &in16{q: round16(q), k: round16(k), v: round16(v), do: round16(do)}
		defer pl.in16.release()
	}
	pl.backward(dq, dk, dv, do, q, k, v, lse, D)
	return nil
}

// Backward16 is Backward (Params.BF16 required) with q, k, v given as bfloat16 bits, as
// Forward16 takes them; do and o stay float32 (do is rounded here, D = rowsum(do ⊙ o) is
// float32).
func Backward16(dq, dk, dv, do []float32, q, k, v []uint16, o, lse []float32, p Params) error {
	const op = "attention.Backward16"
	pl, err := newPlan16(op, p, q, k, v)
	if err != nil {
		return err
	}
	nq, nk := p.T*p.H*p.Dh, p.T*p.K*p.Dh
	if err := checkLen(op, "dq", dq, nq, "dk", dk, nk, "dv", dv, nk, "do", do, nq,
		"o", o, nq, "lse", lse, p.H*p.T); err != nil {
		return err
	}
	D := pl.rowTerm(do, o)
	do16 := round16(do)
	defer (&in16{do: do16}).release() // only do16 is recycled: q, k, v are the caller's
	pl.in16 = &in16{q: q, k: k, v: v, do: do16}
	pl.backward(dq, dk, dv, do, nil, nil, nil, lse, D)
	return nil
}

// rowTerm returns D [H, T], D[h, t] = Σ_d do[t,h,d]·o[t,h,d]: the row term of
// dS = P ⊙ (dP − D).
func (pl *plan) rowTerm(do, o []float32) []float32 {
	p := pl.Params
	D := make([]float32, p.H*p.T)
	runTasks(p.T, int64(p.T)*int64(p.H*p.Dh)/16, func() *struct{} { return nil }, func(_ *struct{}, t int) {
		for h := range p.H {
			off := (t*p.H + h) * p.Dh
			D[h*p.T+t] = dot(do[off:off+p.Dh], o[off:off+p.Dh])
		}
	})
	return D
}

// backward runs the backward pass of a checked plan (float32 q, k, v, do unused when pl.in16
// is set).
func (pl *plan) backward(dq, dk, dv, do, q, k, v, lse, D []float32) {
	p := pl.Params
	w := 2 * pl.work()
	if pl.dense() {
		nseg := len(pl.segs) - 1
		denseRun(nseg*p.K, 3*w, pl.maxSegLen(), true, func(s *denseScratch, task int) {
			pl.denseBackward(s, dq, dk, dv, lse, D, task/p.K, task%p.K)
		})
		return
	}
	if pl.singlePass() {
		nseg := len(pl.segs) - 1
		runTasks(nseg*p.K, 3*w, pl.newScratch,
			func(s *scratch, task int) {
				s.backwardSeg(pl, dq, dk, dv, do, q, k, v, lse, D, task/p.K, task%p.K)
			})
		return
	}
	runTasks(len(pl.kvBlks)*p.K, w, pl.newScratch,
		func(s *scratch, task int) {
			s.backwardKV(pl, dk, dv, do, q, k, v, lse, D, task/p.K, task%p.K, nil)
		})
	cs := pl.chunks()
	runTasks(len(cs), w, pl.newScratch,
		func(s *scratch, task int) {
			s.backwardQ(pl, dq, do, q, k, v, lse, D, cs[task])
		})
}
