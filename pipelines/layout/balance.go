package layout

import (
	"fmt"
	"math"
	"strings"
)

// MaxBalanceUnits bounds Balance's input: its exact search costs O(pp·vp·units²).
const MaxBalanceUnits = 1024

// UnitCost is the estimated cost of one model unit for one micro-batch: Time (FLOPs or
// seconds, any unit) and Mem (bytes held on the rank: weights, gradients, optimizer state and
// activations at the schedule's peak, as the caller models them).
type UnitCost struct {
	Kind      Kind
	Time, Mem float64
}

// Balance cuts units (in model order: V… E t… m… L) into pp·vp contiguous non-empty stages. It
// minimises the largest per-stage Time subject to every stage's Mem ≤ memCap (memCap = 0: no
// cap; with vp > 1 the cap applies to each virtual stage, so pass the per-rank budget divided
// by vp), keeps V and E on stage 0 and L on the last stage, and breaks ties by the smallest sum
// of squared stage times (the most even spread), then by a fixed rule (among equal choices
// the earliest cut, fixed from the last stage back). The result passes
// Validate for the model the units describe; its String is the equivalent layout string.
func Balance(units []UnitCost, pp, vp int, memCap float64) (*Layout, error) {
	if pp < 1 || vp < 1 {
		return nil, fmt.Errorf("layout balance: pp=%d vp=%d, want ≥ 1", pp, vp)
	}
	if !(memCap >= 0) || math.IsInf(memCap, 1) {
		return nil, fmt.Errorf("layout balance: memory cap %v, want a finite value ≥ 0", memCap)
	}
	n, S := len(units), pp*vp
	if n > MaxBalanceUnits {
		return nil, fmt.Errorf("layout balance: %d units exceed %d", n, MaxBalanceUnits)
	}
	model, eIdx, err := checkUnits(units)
	if err != nil {
		return nil, err
	}
	if n-eIdx < S {
		return nil, fmt.Errorf("layout balance: %d units after the embedding cannot fill %d further non-empty stages", n-eIdx-1, S-1)
	}
	ru := newRules(units, pp, vp)
	// ok reports whether units [j, i) may form stage k under the memory cap.
	ok := func(k, j, i int) bool {
		return ru.place(k, j, i) && (memCap == 0 || ru.mem(j, i) <= memCap*(1+1e-12))
	}

	// Pass 1: the smallest achievable bottleneck.
	worst := solve(n, S, ok, ru.time, math.Max)
	if math.IsInf(worst[S-1][n].v, 1) {
		least := solve(n, S, ru.place, ru.mem, math.Max)
		return nil, fmt.Errorf("layout balance: no partition into %d stages keeps every stage within memory %g; the smallest feasible cap is %g",
			S, memCap, least[S-1][n].v)
	}
	limit := worst[S-1][n].v * (1 + 1e-12)
	// Pass 2: among partitions within the bottleneck, the most even one.
	even := solve(n, S, func(k, j, i int) bool { return ok(k, j, i) && ru.time(j, i) <= limit },
		func(j, i int) float64 { d := ru.time(j, i); return d * d },
		func(a, b float64) float64 { return a + b })
	cuts := make([]int, S+1)
	cuts[S] = n
	for k := S - 1; k > 0; k-- {
		cuts[k] = even[k][cuts[k+1]].from
	}
	var sb strings.Builder
	for k := range S {
		if k > 0 {
			sb.WriteByte('|')
		}
		for _, u := range units[cuts[k]:cuts[k+1]] {
			sb.WriteByte(byte(u.Kind))
		}
	}
	l, err := Parse(sb.String(), pp)
	if err != nil {
		return nil, err
	}
	l, err = Parse(l.String(), pp) // positions refer to the canonical string
	if err != nil {
		return nil, err
	}
	if err := l.Validate(model); err != nil {
		return nil, fmt.Errorf("layout balance: internal error: %w", err)
	}
	return l, nil
}

type cell struct {
	v    float64
	from int
}

// solve is a DP over (stage k, prefix i): best[k][i] combines the best of stage k−1 ending at
// j with the cost of units [j, i) on stage k, over admissible j, keeping the first minimum.
func solve(n, S int, ok func(k, j, i int) bool, cost func(j, i int) float64, join func(a, b float64) float64) [][]cell {
	inf := math.Inf(1)
	best := make([][]cell, S)
	for k := range best {
		best[k] = make([]cell, n+1)
		for i := range best[k] {
			best[k][i] = cell{inf, -1}
		}
	}
	for i := 1; i <= n; i++ {
		if ok(0, 0, i) {
			best[0][i] = cell{cost(0, i), 0}
		}
	}
	for k := 1; k < S; k++ {
		for i := k + 1; i <= n; i++ {
			for j := k; j < i; j++ {
				prev := best[k-1][j].v
				if math.IsInf(prev, 1) || !ok(k, j, i) {
					continue
				}
				if v := join(prev, cost(j, i)); v < best[k][i].v {
					best[k][i] = cell{v, j}
				}
			}
		}
	}
	return best
}

// rules holds what placement needs: prefix sums and where E and the MTP layers are.
type rules struct {
	n, S, pp, vp  int
	eIdx          int
	firstM, lastM int // −1 without MTP layers
	prefT, prefM  []float64
}

func newRules(units []UnitCost, pp, vp int) *rules {
	r := &rules{n: len(units), S: pp * vp, pp: pp, vp: vp, eIdx: -1, firstM: -1, lastM: -1,
		prefT: make([]float64, len(units)+1), prefM: make([]float64, len(units)+1)}
	for i, u := range units {
		r.prefT[i+1] = r.prefT[i] + u.Time
		r.prefM[i+1] = r.prefM[i] + u.Mem
		switch u.Kind {
		case Embedding:
			r.eIdx = i
		case MTP:
			if r.firstM < 0 {
				r.firstM = i
			}
			r.lastM = i
		}
	}
	return r
}

func (r *rules) time(j, i int) float64 { return r.prefT[i] - r.prefT[j] }
func (r *rules) mem(j, i int) float64  { return r.prefM[i] - r.prefM[j] }

// place reports whether units [j, i) may form stage k, memory aside: non-empty, stage 0 from
// the start through E, the last stage through L, MTP layers all together in a rank's last
// chunk.
func (r *rules) place(k, j, i int) bool {
	switch {
	case i <= j:
		return false
	case k == 0 && (j != 0 || i <= r.eIdx):
		return false
	case k == r.S-1 && i != r.n:
		return false
	case r.firstM >= 0 && j <= r.lastM && i > r.firstM:
		return k/r.pp == r.vp-1 && j <= r.firstM && i > r.lastM
	}
	return true
}

// checkUnits validates the unit sequence (V… E t… m… L, finite non-negative costs) and
// returns the model it describes and the embedding's index.
func checkUnits(units []UnitCost) (Model, int, error) {
	var m Model
	eIdx := -1
	var sb strings.Builder
	if len(units) == 0 {
		return m, 0, fmt.Errorf("layout balance: no units")
	}
	for i, u := range units {
		if kindNames[u.Kind] == "" {
			return m, 0, fmt.Errorf("layout balance: units[%d]: unknown kind %q", i, byte(u.Kind))
		}
		for _, x := range []struct {
			name string
			v    float64
		}{{"Time", u.Time}, {"Mem", u.Mem}} {
			if !(x.v >= 0) || math.IsInf(x.v, 1) {
				return m, 0, fmt.Errorf("layout balance: units[%d] (%s): %s = %v, want a finite value ≥ 0", i, u.Kind, x.name, x.v)
			}
		}
		switch u.Kind {
		case Vision:
			m.VisionUnits++
		case Decoder:
			m.DecoderLayers++
		case MTP:
			m.MTPLayers++
		case Embedding:
			eIdx = i
		}
		sb.WriteByte(byte(u.Kind))
	}
	// The order rules are Validate's; check them on the single-stage layout.
	one, err := Parse(sb.String(), 1)
	if err == nil {
		err = one.Validate(m)
	}
	if err != nil {
		if le, ok := err.(*Error); ok {
			i := min(le.Offset, len(units)-1)
			return m, 0, fmt.Errorf("layout balance: units[%d] (%c): %s", i, units[i].Kind, le.Msg)
		}
		return m, 0, fmt.Errorf("layout balance: %w", err)
	}
	return m, eIdx, nil
}
