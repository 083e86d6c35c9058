package layout

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func glmUnits(vision, loss float64) []UnitCost {
	u := []UnitCost{{Vision, vision, 1}, {Embedding, 0, 1}}
	for range 46 {
		u = append(u, UnitCost{Decoder, 1, 1})
	}
	return append(u, UnitCost{Loss, loss, 1})
}

// TestBalanceReproducesBridge: with unit costs that make Megatron-Bridge's hand-made GLM-4.5V
// layouts (megatron-bridge.md 1.4) perfectly even, Balance finds exactly those cuts (each is
// the unique optimum: the total divides evenly into equal stages).
func TestBalanceReproducesBridge(t *testing.T) {
	for _, tc := range []struct {
		vision, loss float64
		pp           int
		want         string
	}{
		{1, 1, 4, "VEt*11|t*12|t*12|t*11L"},                        // PEFT and SFT PP4
		{1, 1, 8, "VEt*5|t*6|t*6|t*6|t*6|t*6|t*6|t*5L"},            // PEFT PP8
		{1, 1, 16, "VEt*2|" + strings.Repeat("t*3|", 14) + "t*2L"}, // PEFT PP16
		{6, 4, 8, "VEt|t*7|t*7|t*7|t*7|t*7|t*7|t*3L"},              // SFT PP8
		{2, 0, 16, "VEt|" + strings.Repeat("t*3|", 14) + "t*3L"},   // SFT PP16 (HEAD)
	} {
		l, err := Balance(glmUnits(tc.vision, tc.loss), tc.pp, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.String(); got != tc.want {
			t.Errorf("V=%v L=%v pp=%d: %s, want %s", tc.vision, tc.loss, tc.pp, got, tc.want)
		}
		if err := l.Validate(glm45v); err != nil {
			t.Error(err)
		}
	}
}

// brute enumerates every cut of n units into S non-empty stages, keeps those that parse and
// validate (Parse + Validate, independent of Balance's placement rules) and fit the cap, and
// returns the best (max stage time, sum of squares), the smallest feasible cap, and whether any
// cut was valid.
func brute(units []UnitCost, pp, vp int, memCap float64) (bestMax, bestSq, leastCap float64, any bool) {
	n, S := len(units), pp*vp
	model, _, _ := checkUnits(units)
	bestMax, bestSq, leastCap = math.Inf(1), math.Inf(1), math.Inf(1)
	cuts := make([]int, S+1)
	cuts[S] = n
	var rec func(k, from int)
	rec = func(k, from int) {
		if k == S {
			var sb strings.Builder
			mx, sq, mm := 0.0, 0.0, 0.0
			for s := range S {
				if s > 0 {
					sb.WriteByte('|')
				}
				tt, m := 0.0, 0.0
				for _, u := range units[cuts[s]:cuts[s+1]] {
					sb.WriteByte(byte(u.Kind))
					tt += u.Time
					m += u.Mem
				}
				mx, sq, mm = math.Max(mx, tt), sq+tt*tt, math.Max(mm, m)
			}
			l, err := Parse(sb.String(), pp)
			if err != nil || l.Validate(model) != nil {
				return
			}
			leastCap = math.Min(leastCap, mm)
			if memCap > 0 && mm > memCap {
				return
			}
			any = true
			if mx < bestMax-1e-9 || (math.Abs(mx-bestMax) <= 1e-9 && sq < bestSq) {
				bestMax, bestSq = mx, sq
			}
			return
		}
		for c := from + 1; c <= n-(S-k); c++ {
			cuts[k] = c
			rec(k+1, c)
		}
	}
	cuts[0] = 0
	rec(1, 0)
	return
}

func TestBalanceAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	infeasibleN := 0
	defer func() { t.Logf("%d of 400 trials infeasible", infeasibleN) }()
	for trial := 0; trial < 400; trial++ {
		var units []UnitCost
		for range rng.IntN(2) {
			units = append(units, UnitCost{Vision, float64(rng.IntN(5)), float64(rng.IntN(4))})
		}
		units = append(units, UnitCost{Embedding, float64(rng.IntN(2)), float64(rng.IntN(3))})
		for range 2 + rng.IntN(7) {
			units = append(units, UnitCost{Decoder, float64(1 + rng.IntN(4)), float64(1 + rng.IntN(3))})
		}
		for range rng.IntN(2) * (1 + rng.IntN(2)) {
			units = append(units, UnitCost{MTP, float64(1 + rng.IntN(3)), 1})
		}
		units = append(units, UnitCost{Loss, float64(rng.IntN(3)), float64(rng.IntN(3))})
		pp, vp := 1+rng.IntN(3), 1+rng.IntN(2)
		memCap := 0.0
		if rng.IntN(2) == 0 {
			memCap = float64(2 + rng.IntN(8))
		}
		bestMax, bestSq, leastCap, any := brute(units, pp, vp, memCap)
		if !any {
			infeasibleN++
		}
		l, err := Balance(units, pp, vp, memCap)
		if !any {
			if err == nil {
				t.Fatalf("trial %d: %v pp=%d vp=%d cap=%v: Balance found %s, brute force none", trial, units, pp, vp, memCap, l)
			}
			if !math.IsInf(leastCap, 1) && !strings.Contains(err.Error(), fmt.Sprintf("smallest feasible cap is %g", leastCap)) {
				t.Fatalf("trial %d: %v, brute-force smallest cap %v", trial, err, leastCap)
			}
			continue
		}
		if err != nil {
			t.Fatalf("trial %d: %v pp=%d vp=%d cap=%v: %v (brute force max %v)", trial, units, pp, vp, memCap, err, bestMax)
		}
		// Recover the stage times from the layout: stages hold consecutive units in order.
		i, mx, sq := 0, 0.0, 0.0
		for _, st := range l.Stages {
			tt, m := 0.0, 0.0
			for range st {
				tt += units[i].Time
				m += units[i].Mem
				i++
			}
			if len(st) == 0 || (memCap > 0 && m > memCap) {
				t.Fatalf("trial %d: %s has an empty or over-cap stage", trial, l)
			}
			mx, sq = math.Max(mx, tt), sq+tt*tt
		}
		if math.Abs(mx-bestMax) > 1e-9 || math.Abs(sq-bestSq) > 1e-9 {
			t.Fatalf("trial %d: %v pp=%d vp=%d cap=%v: Balance %s max %v sq %v, brute force max %v sq %v",
				trial, units, pp, vp, memCap, l, mx, sq, bestMax, bestSq)
		}
	}
}

func TestBalanceMemoryCap(t *testing.T) {
	// Vision is cheap in time but heavy in memory: the cap pushes decoder layers off stage 0.
	units := []UnitCost{{Vision, 1, 10}, {Embedding, 0, 0}}
	for range 6 {
		units = append(units, UnitCost{Decoder, 1, 2})
	}
	units = append(units, UnitCost{Loss, 1, 0})
	free, err := Balance(units, 2, 1, 0)
	if err != nil || free.String() != "VEt*3|t*3L" {
		t.Fatalf("no cap: %v %v", free, err)
	}
	capped, err := Balance(units, 2, 1, 12)
	if err != nil || capped.String() != "VEt|t*5L" {
		t.Fatalf("cap 12: %v %v", capped, err)
	}
	_, err = Balance(units, 2, 1, 11)
	if err == nil || !strings.Contains(err.Error(), "smallest feasible cap is 12") {
		t.Fatalf("cap 11: %v", err)
	}
}

func TestBalanceErrors(t *testing.T) {
	good := glmUnits(1, 1)
	for _, tc := range []struct {
		units  []UnitCost
		pp, vp int
		cap    float64
		want   string
	}{
		{good, 0, 1, 0, "pp=0"},
		{good, 8, 1, -1, "memory cap -1"},
		{good, 8, 1, math.NaN(), "memory cap NaN"},
		{nil, 1, 1, 0, "no units"},
		{[]UnitCost{{Decoder, 1, 1}, {Embedding, 1, 1}, {Loss, 1, 1}}, 1, 1, 0, "units[0] (t): t (decoder) before E"},
		{[]UnitCost{{Embedding, 1, 1}, {Decoder, -1, 1}, {Loss, 1, 1}}, 1, 1, 0, "units[1] (t): Time = -1"},
		{[]UnitCost{{Embedding, 1, 1}, {'x', 1, 1}, {Loss, 1, 1}}, 1, 1, 0, "units[1]: unknown kind 'x'"},
		{[]UnitCost{{Embedding, 1, 1}, {Decoder, 1, 1}, {Loss, 1, 1}}, 4, 1, 0, "cannot fill 3 further non-empty stages"},
		{make([]UnitCost, MaxBalanceUnits+1), 1, 1, 0, "exceed"},
	} {
		_, err := Balance(tc.units, tc.pp, tc.vp, tc.cap)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Balance(%d units, %d, %d, %v): %v, want %q", len(tc.units), tc.pp, tc.vp, tc.cap, err, tc.want)
		}
	}
}

// TestBalanceMTPChunk: Megatron keeps MTP layers in a rank's last chunk, so with pp = 1, vp = 2
// the MTP layer must join the loss on chunk 1 even though "Et*2m|L" would be faster.
func TestBalanceMTPChunk(t *testing.T) {
	units := []UnitCost{{Embedding, 0, 0}, {Decoder, 1, 0}, {Decoder, 1, 0}, {MTP, 1, 0}, {Loss, 5, 0}}
	l, err := Balance(units, 1, 2, 0)
	if err != nil || l.String() != "Et*2|mL" {
		t.Fatalf("got %v %v, want Et*2|mL", l, err)
	}
	if l, err := Balance(units, 2, 1, 0); err != nil || l.String() != "Et*2m|L" {
		t.Fatalf("pp 2: got %v %v, want Et*2m|L", l, err)
	}
}
