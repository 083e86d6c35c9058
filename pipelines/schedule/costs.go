package schedule

import (
	"fmt"
	"math"
)

// Costs are the durations the simulator charges, in any time unit.
//
// F, B and W hold one value per stage (length P·V, indexed by stage s = chunk·P + rank) or a
// single value used for every stage. With virtual stages a stage is one chunk: to model the
// same model cut into V chunks per rank, divide a rank's per-micro-batch cost by V.
type Costs struct {
	F, B, W []float64
	Comm    float64 // latency from a send until the matching receive can complete
	Step    float64 // duration of the optimizer step (a barrier across ranks)
}

// Uniform returns costs with the same F, B and W on every stage, no communication latency and a
// free optimizer step.
func Uniform(f, b, w float64) Costs {
	return Costs{F: []float64{f}, B: []float64{b}, W: []float64{w}}
}

func (c Costs) validate(stages int) error {
	for _, x := range []struct {
		name string
		v    []float64
	}{{"F", c.F}, {"B", c.B}, {"W", c.W}} {
		if len(x.v) != 1 && len(x.v) != stages {
			return fmt.Errorf("schedule costs: %s has %d values, want 1 or %d (one per stage)", x.name, len(x.v), stages)
		}
		for i, v := range x.v {
			if !finiteNonNeg(v) {
				return fmt.Errorf("schedule costs: %s[%d] = %v, want a finite value ≥ 0", x.name, i, v)
			}
		}
	}
	if !finiteNonNeg(c.Comm) {
		return fmt.Errorf("schedule costs: Comm = %v, want a finite value ≥ 0", c.Comm)
	}
	if !finiteNonNeg(c.Step) {
		return fmt.Errorf("schedule costs: Step = %v, want a finite value ≥ 0", c.Step)
	}
	return nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 1) && !math.IsNaN(v) }

func pick(v []float64, stage int) float64 {
	if len(v) == 1 {
		return v[0]
	}
	return v[stage]
}

// of returns the duration of compute action a at stage.
func (c Costs) of(k Kind, stage int) float64 {
	switch k {
	case F:
		return pick(c.F, stage)
	case B:
		return pick(c.B, stage)
	case W:
		return pick(c.W, stage)
	case Step:
		return c.Step
	}
	return 0
}
