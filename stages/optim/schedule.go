package optim

import (
	"fmt"
	"math"
)

// Decay styles of LRSchedule.
const (
	DecayCosine   = "cosine"
	DecayLinear   = "linear"
	DecayConstant = "constant"
)

// LRSchedule is Megatron-LM's OptimizerParamScheduler for the learning rate.
//
//	step ≤ Warmup (Warmup > 0):  lr = MaxLR · step / Warmup
//	Decay "constant":            lr = MaxLR
//	step > DecayIters:           lr = MinLR
//	otherwise, r = (step − Warmup) / (DecayIters − Warmup):
//	  cosine  lr = MinLR + (MaxLR − MinLR) · ½(cos(π r) + 1)
//	  linear  lr = MinLR + (MaxLR − MinLR) · (1 − r)
//
// step counts completed optimizer steps, so the first update uses At(0) — 0 under warmup, as
// in Megatron, whose scheduler is stepped after each update.
type LRSchedule struct {
	MaxLR, MinLR float64
	Warmup       int    // warmup steps
	DecayIters   int    // the step at which the decay reaches MinLR (≥ Warmup); 0: no decay
	Decay        string // DecayCosine (default ""), DecayLinear, DecayConstant
}

// Validate checks the schedule.
func (s LRSchedule) Validate() error {
	switch {
	case !(s.MaxLR >= 0) || math.IsInf(s.MaxLR, 0):
		return fmt.Errorf("lr schedule: max lr %v: want a finite value ≥ 0", s.MaxLR)
	case !(s.MinLR >= 0) || s.MinLR > s.MaxLR:
		return fmt.Errorf("lr schedule: min lr %v: want 0 ≤ min lr ≤ max lr %v", s.MinLR, s.MaxLR)
	case s.Warmup < 0 || s.DecayIters < 0:
		return fmt.Errorf("lr schedule: warmup %d, decay iterations %d: want ≥ 0", s.Warmup, s.DecayIters)
	case s.DecayIters > 0 && s.DecayIters < s.Warmup:
		return fmt.Errorf("lr schedule: decay iterations %d end before the warmup (%d)", s.DecayIters, s.Warmup)
	}
	switch s.Decay {
	case "", DecayCosine, DecayLinear, DecayConstant:
		return nil
	}
	return fmt.Errorf("lr schedule: decay %q: want %q, %q or %q", s.Decay, DecayCosine, DecayLinear, DecayConstant)
}

// At is the learning rate after step completed steps.
func (s LRSchedule) At(step int) float64 {
	if s.Warmup > 0 && step <= s.Warmup {
		return s.MaxLR * float64(step) / float64(s.Warmup)
	}
	if s.Decay == DecayConstant || s.DecayIters == 0 {
		return s.MaxLR
	}
	if step > s.DecayIters {
		return s.MinLR
	}
	r := float64(step-s.Warmup) / float64(s.DecayIters-s.Warmup)
	var c float64
	switch s.Decay {
	case DecayLinear:
		c = 1 - r
	default:
		c = 0.5 * (math.Cos(math.Pi*r) + 1)
	}
	return s.MinLR + c*(s.MaxLR-s.MinLR)
}
