package softmax

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/gemm"
)

// LMHeadForward is CrossEntropyForward of logits = h·Wᵀ without materialising [T, V]: tokens
// with a target are taken in blocks of len(scratch)/V; each block's logits are computed into
// scratch by gemm.Sgemm and reduced with the streaming log-softmax.
//
//	stats   [T, 2]  overwritten (as CrossEntropyForward)
//	h       [T, D]  hidden states
//	w       [V, D]  lm_head weight
//	targets [T]
//	scratch [≥ V]   block logits; rows per block = len(scratch)/V
//
// lossSum and stats are bit-identical to CrossEntropyForward on the full logits from the same
// gemm (each logit's k-reduction does not depend on the block it falls in).
func LMHeadForward(stats, h, w []float32, targets []int32, T, D, V int, scratch []float32) (lossSum float64, count int, err error) {
	if err := checkLM("softmax.LMHeadForward", T, D, V, targets, scratch, arg{"stats", len(stats)}, arg{"h", len(h)}, arg{"w", len(w)}); err != nil {
		return 0, 0, err
	}
	loss := make([]float64, T)
	lmBlocks(lmForward, nil, nil, stats, h, w, targets, T, D, V, 0, scratch, loss)
	return sumInOrder(loss), CountTargets(targets), nil
}

// LMHeadBackward recomputes each block's logits, turns them into d(logits) in place
// (CrossEntropyBackward with gradScale) and produces
//
//	dh [T, D]  overwritten: d(logits)·W (zero rows for ignored tokens)
//	dw [V, D]  accumulated: dw += d(logits)ᵀ·h, one GEMM per block, blocks in token order
//	h, w, stats, targets, scratch as in LMHeadForward (stats from it)
func LMHeadBackward(dh, dw, h, w, stats []float32, targets []int32, T, D, V int, gradScale float32, scratch []float32) error {
	if err := checkLM("softmax.LMHeadBackward", T, D, V, targets, scratch, arg{"dh", len(dh)}, arg{"dw", len(dw)},
		arg{"h", len(h)}, arg{"w", len(w)}, arg{"stats", len(stats)}); err != nil {
		return err
	}
	lmBlocks(lmBackward, dh, dw, stats, h, w, targets, T, D, V, gradScale, scratch, nil)
	return nil
}

// LMHead is LMHeadForward and LMHeadBackward in one pass: each block's logits are computed once
// and turned into the loss, the statistics and d(logits) (one GEMM fewer per block than the two
// calls: 2 instead of 3). gradScale must be known up front (e.g. 1/global CountTargets).
// Results are bit-identical to the two calls.
func LMHead(dh, dw, stats, h, w []float32, targets []int32, T, D, V int, gradScale float32, scratch []float32) (lossSum float64, count int, err error) {
	if err := checkLM("softmax.LMHead", T, D, V, targets, scratch, arg{"dh", len(dh)}, arg{"dw", len(dw)},
		arg{"stats", len(stats)}, arg{"h", len(h)}, arg{"w", len(w)}); err != nil {
		return 0, 0, err
	}
	loss := make([]float64, T)
	lmBlocks(lmFused, dh, dw, stats, h, w, targets, T, D, V, gradScale, scratch, loss)
	return sumInOrder(loss), CountTargets(targets), nil
}

type lmMode int

const (
	lmForward lmMode = iota
	lmBackward
	lmFused
)

// lmBlocks gathers the non-ignored tokens in order and processes them in blocks of
// len(scratch)/V rows.
func lmBlocks(mode lmMode, dh, dw, stats, h, w []float32, targets []int32, T, D, V int, gradScale float32, scratch []float32, loss []float64) {
	idx := make([]int, 0, T)
	for t, tg := range targets {
		if tg != IgnoreIndex {
			idx = append(idx, t)
			continue
		}
		if mode != lmBackward {
			stats[2*t], stats[2*t+1], loss[t] = 0, 0, 0
		}
		if dh != nil {
			clear(dh[t*D : (t+1)*D])
		}
	}
	if len(idx) == 0 {
		return
	}
	tb := min(len(scratch)/V, len(idx))
	hb := make([]float32, tb*D)
	dhb := make([]float32, tb*D)
	tg := make([]int32, tb)
	st := make([]float32, 2*tb)
	ls := make([]float64, tb)
	for b0 := 0; b0 < len(idx); b0 += tb {
		blk := idx[b0:min(b0+tb, len(idx))]
		n := len(blk)
		for i, t := range blk {
			copy(hb[i*D:(i+1)*D], h[t*D:(t+1)*D])
			tg[i] = targets[t]
			if mode == lmBackward {
				st[2*i], st[2*i+1] = stats[2*t], stats[2*t+1]
			}
		}
		logits := scratch[:n*V]
		gemm.Sgemm(false, true, n, V, D, 1, hb, D, w, D, 0, logits, V)
		switch mode {
		case lmForward:
			ceRows(nil, st, logits, tg[:n], n, V, 0, ls)
		case lmFused:
			ceRows(logits, st, logits, tg[:n], n, V, gradScale, ls)
		case lmBackward:
			run(n, 3*V, func(i0, i1 int) {
				cmax := make([]float32, (V+Chunk-1)/Chunk)
				for i := i0; i < i1; i++ {
					gradRow(logits[i*V:(i+1)*V], logits[i*V:(i+1)*V], st[2*i], st[2*i+1], tg[i], gradScale, cmax)
				}
			})
		}
		for i, t := range blk {
			if mode != lmBackward {
				stats[2*t], stats[2*t+1], loss[t] = st[2*i], st[2*i+1], ls[i]
			}
		}
		if mode == lmForward {
			continue
		}
		gemm.Sgemm(false, false, n, D, V, 1, logits, V, w, D, 0, dhb, D)
		for i, t := range blk {
			copy(dh[t*D:(t+1)*D], dhb[i*D:(i+1)*D])
		}
		gemm.Sgemm(true, false, V, D, n, 1, logits, V, hb, D, 1, dw, D)
	}
}

// checkLM validates dims and lengths (stats [T, 2], h and dh [T, D], w and dw [V, D],
// scratch ≥ V) and targets.
func checkLM(op string, T, D, V int, targets []int32, scratch []float32, args ...arg) error {
	if T < 0 || D <= 0 || V <= 0 {
		return fmt.Errorf("%s: bad dims T=%d D=%d V=%d", op, T, D, V)
	}
	if len(targets) != T {
		return fmt.Errorf("%s: len(targets) = %d, want T = %d", op, len(targets), T)
	}
	if len(scratch) < V {
		return fmt.Errorf("%s: len(scratch) = %d, want ≥ V = %d (one row of logits)", op, len(scratch), V)
	}
	for _, a := range args {
		want := 0
		switch a.name {
		case "stats":
			want = 2 * T
		case "h", "dh":
			want = T * D
		case "w", "dw":
			want = V * D
		}
		if a.n != want {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, a.n, want)
		}
	}
	return checkTargets(op, targets, V)
}
