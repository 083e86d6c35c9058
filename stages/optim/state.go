package optim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/glmflow/glmflow/tensors"
)

// State-tensor name prefixes (torch.optim's state keys).
const (
	ExpAvg   = "exp_avg."
	ExpAvgSq = "exp_avg_sq."
)

// State returns host copies of the moments, named ExpAvg+param and ExpAvgSq+param, and the
// number of completed steps: everything needed, with the parameters, to resume exactly.
func (o *AdamW) State() (map[string]*tensors.Tensor, int, error) {
	out := make(map[string]*tensors.Tensor, 2*len(o.params))
	for i, p := range o.params {
		for _, s := range []struct {
			prefix string
			t      *tensors.Tensor
		}{{ExpAvg, o.m[i]}, {ExpAvgSq, o.v[i]}} {
			h, err := o.be.Download(s.t)
			if err != nil {
				return nil, 0, fmt.Errorf("adamw: %s%s: %w", s.prefix, p.Name, err)
			}
			out[s.prefix+p.Name] = h
		}
	}
	return out, o.step, nil
}

// LoadState restores State's output. Every moment must be present with its parameter's
// shape and dtype; names that belong to no parameter are an error (a checkpoint of another
// model or another split).
func (o *AdamW) LoadState(state map[string]*tensors.Tensor, step int) error {
	if step < 0 {
		return fmt.Errorf("adamw: state step %d: want ≥ 0", step)
	}
	type load struct {
		name     string
		dst, src *tensors.Tensor
	}
	var loads []load
	used := map[string]bool{}
	for i, p := range o.params {
		for _, s := range []struct {
			prefix string
			dst    *tensors.Tensor
		}{{ExpAvg, o.m[i]}, {ExpAvgSq, o.v[i]}} {
			name := s.prefix + p.Name
			t, ok := state[name]
			if !ok {
				return fmt.Errorf("adamw: state has no %s", name)
			}
			if t.DType() != tensors.F32 || !sameShape(t.Shape(), s.dst.Shape()) {
				return fmt.Errorf("adamw: state %s is %v%v, want F32%v", name, t.DType(), t.Shape(), s.dst.Shape())
			}
			loads = append(loads, load{name, s.dst, t})
			used[name] = true
		}
	}
	var extra []string
	for n := range state {
		if !used[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("adamw: state has tensors for no parameter of this optimizer: %s", strings.Join(extra, ", "))
	}
	for _, l := range loads { // only after everything checked: no half-loaded state
		up, err := o.be.Upload(l.src)
		if err == nil {
			err = o.be.Copy(l.dst, up)
		}
		if err != nil {
			return fmt.Errorf("adamw: state %s: %w", l.name, err)
		}
	}
	o.step = step
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
