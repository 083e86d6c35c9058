package optim

import (
	"fmt"
	"math"
	"strings"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// Config holds AdamW's hyper-parameters, clipping and the schedule.
type Config struct {
	Beta1, Beta2, Eps, WeightDecay float64
	ClipGrad                       float64 // max global gradient norm; 0: no clipping
	LR                             LRSchedule
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("adamw: betas (%v, %v): want each in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("adamw: eps %v: want > 0", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("adamw: weight decay %v: want ≥ 0", c.WeightDecay)
	case !(c.ClipGrad >= 0):
		return fmt.Errorf("adamw: clip %v: want ≥ 0 (0: off)", c.ClipGrad)
	}
	return c.LR.Validate()
}

// Decays reports whether weight decay applies to a parameter: not to biases and 1-D
// parameters (norm weights), Megatron's default.
func Decays(name string, shape []int) bool {
	return len(shape) > 1 && !strings.HasSuffix(name, ".bias")
}

// AdamW updates one rank's trainable parameters.
type AdamW struct {
	be     kernels.Backend
	cfg    Config
	params []*stages.Param // trainable, in the order given
	m, v   []*tensors.Tensor
	grads  []*tensors.Tensor
	step   int // completed steps
}

// StepInfo reports one Step.
type StepInfo struct {
	Step    int     // completed steps after this call
	LR      float64 // the learning rate used (0 when skipped)
	Norm    float64 // the global gradient norm given
	Clipped bool    // the gradients were scaled down
	Skipped bool    // the norm was NaN or ±Inf: nothing was updated
}

// New builds an optimizer over the trainable parameters among params (others are ignored);
// names must be unique. Moments start at zero.
func New(be kernels.Backend, params []*stages.Param, cfg Config) (*AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &AdamW{be: be, cfg: cfg}
	seen := map[string]bool{}
	for _, p := range params {
		if !p.Trainable {
			continue
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("adamw: parameter %s given twice", p.Name)
		}
		seen[p.Name] = true
		if p.Grad == nil || p.Value == nil || p.Value.DType() != tensors.F32 || p.Grad.DType() != tensors.F32 {
			return nil, fmt.Errorf("adamw: parameter %s: want F32 value and gradient", p.Name)
		}
		m, err := be.Alloc(tensors.F32, p.Value.Shape()...)
		if err != nil {
			return nil, fmt.Errorf("adamw: exp_avg of %s: %w", p.Name, err)
		}
		v, err := be.Alloc(tensors.F32, p.Value.Shape()...)
		if err != nil {
			return nil, fmt.Errorf("adamw: exp_avg_sq of %s: %w", p.Name, err)
		}
		o.params, o.m, o.v, o.grads = append(o.params, p), append(o.m, m), append(o.v, v), append(o.grads, p.Grad)
	}
	return o, nil
}

// Params returns the parameters the optimizer updates, in order.
func (o *AdamW) Params() []*stages.Param { return o.params }

// Steps returns the number of completed steps.
func (o *AdamW) Steps() int { return o.step }

// LR is the learning rate the next Step uses.
func (o *AdamW) LR() float64 { return o.cfg.LR.At(o.step) }

// SquaredNorm is Σ g² over this rank's gradients, accumulated in float64 in parameter order.
func (o *AdamW) SquaredNorm() (float64, error) {
	if len(o.grads) == 0 {
		return 0, nil
	}
	n, err := o.be.GlobalNorm(o.grads)
	if err != nil {
		return 0, fmt.Errorf("adamw: gradient norm: %w", err)
	}
	return n * n, nil
}

// Step clips the gradients to the global norm norm (computed over all ranks by the caller:
// sqrt of the summed SquaredNorms) and applies one AdamW update with the scheduled learning
// rate. A NaN or infinite norm skips the update (no parameter or moment changes, the step
// count stays), and every rank skips since all see the same norm. Gradients are left as they
// are; ZeroGrads clears them.
func (o *AdamW) Step(norm float64) (StepInfo, error) {
	info := StepInfo{Step: o.step, Norm: norm}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		info.Skipped = true
		return info, nil
	}
	if o.cfg.ClipGrad > 0 {
		if c := o.cfg.ClipGrad / (norm + 1e-6); c < 1 {
			info.Clipped = true
			for i, g := range o.grads {
				if err := o.be.Scale(g, g, float32(c)); err != nil {
					return info, fmt.Errorf("adamw: clipping %s: %w", o.params[i].Name, err)
				}
			}
		}
	}
	info.LR = o.cfg.LR.At(o.step)
	for i, p := range o.params {
		wd := 0.0
		if Decays(p.Name, p.Value.Shape()) {
			wd = o.cfg.WeightDecay
		}
		opts := kernels.AdamWOpts{LR: info.LR, Beta1: o.cfg.Beta1, Beta2: o.cfg.Beta2, Eps: o.cfg.Eps, WeightDecay: wd, Step: o.step + 1}
		if err := o.be.AdamW(p.Value, o.grads[i], o.m[i], o.v[i], opts); err != nil {
			return info, fmt.Errorf("adamw: %s: %w", p.Name, err)
		}
	}
	o.step++
	info.Step = o.step
	return info, nil
}

// ZeroGrads sets every gradient to zero (before a step's first micro-batch).
func (o *AdamW) ZeroGrads() error {
	for i, g := range o.grads {
		if err := o.be.Zero(g); err != nil {
			return fmt.Errorf("adamw: zeroing the gradient of %s: %w", o.params[i].Name, err)
		}
	}
	return nil
}
