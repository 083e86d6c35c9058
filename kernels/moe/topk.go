package moe

import "math"

// above reports whether (a, ia) ranks before (b, ib) in a top-k: larger value first, NaN above
// every number (as torch.topk), equal values by lower index.
func above(a float32, ia int, b float32, ib int) bool {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return ia < ib
	case an:
		return true
	case bn:
		return false
	}
	return a > b || (a == b && ia < ib)
}

// topK writes into idx (len k) the indices of the k top-ranked values of v, best first
// (insertion into a sorted list: O(len(v)·k), fine for k ≤ a few dozen).
func topK(v []float32, idx []int32) {
	n := 0
	for i, x := range v {
		if n == len(idx) && !above(x, i, v[idx[n-1]], int(idx[n-1])) {
			continue
		}
		p := min(n, len(idx)-1)
		for p > 0 && above(x, i, v[idx[p-1]], int(idx[p-1])) {
			idx[p] = idx[p-1]
			p--
		}
		idx[p] = int32(i)
		if n < len(idx) {
			n++
		}
	}
}

// selectExperts fills idx [k] with the experts chosen from the selection scores sel [E]
// (scores + bias), applying group-limited routing when cfg.NGroup > 1. sel is modified (masked
// experts are overwritten); grp [NGroup] and gidx [TopKGroup] are scratch.
func selectExperts(cfg *RouterConfig, sel []float32, idx []int32, grp []float32, gidx []int32) {
	if cfg.NGroup > 1 {
		gs := cfg.E / cfg.NGroup
		for g := range cfg.NGroup {
			// Sum of the top-2 of the group, larger first (the order torch.topk(2).sum uses).
			a, b := float32(math.Inf(-1)), float32(math.Inf(-1))
			ia, ib := -1, -1
			for i, v := range sel[g*gs : (g+1)*gs] {
				if ia < 0 || above(v, i, a, ia) {
					b, ib = a, ia
					a, ia = v, i
				} else if ib < 0 || above(v, i, b, ib) {
					b, ib = v, i
				}
			}
			grp[g] = a + b
		}
		topK(grp, gidx)
		fill := float32(math.Inf(-1))
		if cfg.GroupMaskZero {
			fill = 0
		}
		for g := range cfg.NGroup {
			kept := false
			for _, k := range gidx {
				kept = kept || int(k) == g
			}
			if !kept {
				for i := g * gs; i < (g+1)*gs; i++ {
					sel[i] = fill
				}
			}
		}
	}
	topK(sel, idx)
}
