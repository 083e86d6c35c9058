package schedule

import "fmt"

// GPipe is the fill-drain schedule (Huang et al. 2019): every rank runs all M forwards, then all
// M backwards in micro-batch order. Peak in-flight activations: M on every rank.
func GPipe(p, m int) (Schedule, error) {
	if err := checkPM("gpipe", p, m); err != nil {
		return Schedule{}, err
	}
	orders := make([][]op, p)
	for r := range orders {
		o := make([]op, 0, 3*m)
		for k := 0; k < m; k++ {
			o = append(o, op{F, 0, k})
		}
		for k := 0; k < m; k++ {
			o = append(o, op{B, 0, k}, op{W, 0, k})
		}
		orders[r] = o
	}
	return lower("gpipe", p, m, 1, orders, false), nil
}

// OneFOneB is the non-interleaved 1F1B schedule (PipeDream-Flush; Megatron-Core's
// forward_backward_pipelining_without_interleaving): rank r runs min(p−r−1, m) warm-up
// forwards, then alternates one forward and one backward, then drains the remaining backwards.
// Peak in-flight activations on rank r: min(p−r, m).
func OneFOneB(p, m int) (Schedule, error) {
	if err := checkPM("1f1b", p, m); err != nil {
		return Schedule{}, err
	}
	orders := make([][]op, p)
	for r := range orders {
		warm := min(p-r-1, m)
		o := make([]op, 0, 3*m)
		for k := 0; k < warm; k++ {
			o = append(o, op{F, 0, k})
		}
		for i := 0; i < m-warm; i++ {
			o = append(o, op{F, 0, warm + i}, op{B, 0, i}, op{W, 0, i})
		}
		for k := m - warm; k < m; k++ {
			o = append(o, op{B, 0, k}, op{W, 0, k})
		}
		orders[r] = o
	}
	return lower("1f1b", p, m, 1, orders, false), nil
}

// Interleaved1F1B is Megatron-Core's interleaved 1F1B schedule (Narayanan et al. SC'21,
// forward_backward_pipelining_with_interleaving) with v model chunks per rank. It requires
// p ≥ 2, v ≥ 2 and m a multiple of p (Megatron's rule). The k-th forward of a rank runs chunk
// (k mod p·v) / p on micro-batch (k / (p·v))·p + k mod p; backwards walk the chunks in reverse.
// Rank r warms up with min(2(p−r−1) + (v−1)p, v·m) forwards; when m = p every forward runs
// first. Peak in-flight chunk activations on rank 0: v·p + p − 1, i.e. p + (p−1)/v in units
// of a whole rank's share of the model.
func Interleaved1F1B(p, m, v int) (Schedule, error) {
	const name = "interleaved-1f1b"
	if err := checkPM(name, p, m); err != nil {
		return Schedule{}, err
	}
	switch {
	case p < 2:
		return Schedule{}, fmt.Errorf("schedule %s: ranks p=%d, interleaving needs p ≥ 2", name, p)
	case v < 2 || v > MaxVirtual:
		return Schedule{}, fmt.Errorf("schedule %s: virtual stages v=%d outside [2, %d] (v = 1 is plain 1f1b)", name, v, MaxVirtual)
	case m%p != 0:
		return Schedule{}, fmt.Errorf("schedule %s: micro-batches m=%d must be a multiple of ranks p=%d (Megatron's rule)", name, m, p)
	}
	total := m * v
	chunk := func(k int, forward bool) int {
		c := (k % (p * v)) / p
		if !forward {
			c = v - 1 - c
		}
		return c
	}
	mb := func(k int) int { return (k/(p*v))*p + k%p }
	orders := make([][]op, p)
	for r := range orders {
		warm := total
		if m != p {
			warm = min(2*(p-r-1)+(v-1)*p, total)
		}
		o := make([]op, 0, 3*total)
		for k := 0; k < warm; k++ {
			o = append(o, op{F, chunk(k, true), mb(k)})
		}
		for k := 0; k < total-warm; k++ {
			fk := k + warm
			o = append(o, op{F, chunk(fk, true), mb(fk)})
			o = append(o, op{B, chunk(k, false), mb(k)}, op{W, chunk(k, false), mb(k)})
		}
		for k := total - warm; k < total; k++ {
			o = append(o, op{B, chunk(k, false), mb(k)}, op{W, chunk(k, false), mb(k)})
		}
		orders[r] = o
	}
	return lower(name, p, m, v, orders, false), nil
}

// ZBH1 is the zero-bubble "H1" schedule of Qi et al. (ICLR'24, "Zero Bubble Pipeline
// Parallelism"): the 1F1B order with the backward split into B (input gradient, on the critical
// path, sent upstream at once) and W (weight gradient). Rank r postpones its first W by r
// steady-state iterations, so W passes fill the drain bubble while at most p micro-batches are
// in flight on any rank, the same peak as 1F1B's rank 0. With F = B = W every rank idles
// (p−1)(F+B−W) instead of 1F1B's (p−1)(F+B+W).
func ZBH1(p, m int) (Schedule, error) {
	if err := checkPM("zb-h1", p, m); err != nil {
		return Schedule{}, err
	}
	orders := make([][]op, p)
	for r := range orders {
		warm := min(p-r-1, m)
		o := make([]op, 0, 3*m)
		nextW := 0
		for k := 0; k < warm; k++ {
			o = append(o, op{F, 0, k})
		}
		for i := 0; i < m-warm; i++ {
			o = append(o, op{F, 0, warm + i}, op{B, 0, i})
			if i >= r {
				o = append(o, op{W, 0, nextW})
				nextW++
			}
		}
		for k := m - warm; k < m; k++ {
			o = append(o, op{B, 0, k}, op{W, 0, nextW})
			nextW++
		}
		for ; nextW < m; nextW++ {
			o = append(o, op{W, 0, nextW})
		}
		orders[r] = o
	}
	return lower("zb-h1", p, m, 1, orders, true), nil
}
