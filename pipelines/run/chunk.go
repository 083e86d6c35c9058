package run

import (
	"fmt"

	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// Chunk is what one pipeline stage runs: stages in data-flow order.
type Chunk struct {
	Stage  int // global pipeline stage index (chunk c of rank r: c·P + r)
	Stages []stages.Stage
}

// Params returns the chunk's parameters in stage order.
func (c *Chunk) Params() []*stages.Param {
	var ps []*stages.Param
	for _, s := range c.Stages {
		ps = append(ps, s.Params()...)
	}
	return ps
}

// mbState is what a chunk keeps for one micro-batch between F and W.
type mbState struct {
	ran      []bool         // [len(Stages)] the stage ran its Forward
	received []string       // names that arrived in the activation message
	out      stages.Tensors // the chunk's outputs (sent by SendF)
	gradIn   stages.Tensors // gradients of the received tensors (sent by SendB)
	loss     float64        // Σ of "loss" outputs (last chunk)
	aux      float64        // MoE aux losses of the chunk's stages
}

// auxLosser is implemented by stages that report an auxiliary loss (glm4v decoder, head).
type auxLosser interface {
	AuxLoss(mb int) (float64, error)
}

// forward runs F for micro-batch mb. recv is the previous stage's message (nil for the first
// pipeline stage), batch the micro-batch.
func (c *Chunk) forward(mb int, recv, batch stages.Tensors) (*mbState, error) {
	st := &mbState{ran: make([]bool, len(c.Stages))}
	env := stages.Tensors{}
	for n, t := range batch {
		env[n] = t
	}
	for n, t := range recv {
		env[n] = t
		st.received = append(st.received, n)
	}
	var last stages.Tensors
	for i, s := range c.Stages {
		ins, _ := s.Ports()
		in := stages.Tensors{}
		for _, p := range ins {
			if t := env[p.Name]; t != nil {
				in[p.Name] = t
			}
		}
		if len(ins) == 0 || in[ins[0].Name] == nil {
			continue // its primary input is absent: nothing for this stage in this micro-batch
		}
		out, err := s.Forward(mb, in)
		if err != nil {
			return st, fmt.Errorf("stage %d (%s) forward: %w", i, s.Kind(), err)
		}
		st.ran[i] = true
		if a, ok := s.(auxLosser); ok {
			v, err := a.AuxLoss(mb)
			if err != nil {
				return st, fmt.Errorf("stage %d (%s): aux loss: %w", i, s.Kind(), err)
			}
			st.aux += v
		}
		for n, t := range out {
			env[n] = t
		}
		last = out
	}
	st.out = stages.Tensors{}
	for n, t := range last {
		if n == "logits" { // a tool output, never an activation
			continue
		}
		st.out[n] = t
	}
	if l := st.out["loss"]; l != nil {
		v, err := scalar(l)
		if err != nil {
			return st, fmt.Errorf("loss output: %w", err)
		}
		st.loss = v
	}
	return st, nil
}

// backwardInput runs B: dOut are the gradients of the chunk's outputs (nil for the last
// pipeline stage, whose loss outputs get gradient 1).
func (c *Chunk) backwardInput(mb int, st *mbState, dOut stages.Tensors) error {
	genv := stages.Tensors{}
	for n, t := range dOut {
		genv[n] = t
	}
	for i := len(c.Stages) - 1; i >= 0; i-- {
		if !st.ran[i] {
			continue
		}
		s := c.Stages[i]
		ins, outs := s.Ports()
		d := stages.Tensors{}
		for _, p := range outs {
			if !p.Grad {
				continue
			}
			if t := genv[p.Name]; t != nil {
				d[p.Name] = t
			}
		}
		gin, err := s.BackwardInput(mb, d)
		if err != nil {
			return fmt.Errorf("stage %d (%s) backward: %w", i, s.Kind(), err)
		}
		for _, p := range outs { // consumed: an earlier stage's output of the same name is another tensor
			delete(genv, p.Name)
		}
		for _, p := range ins {
			if t := gin[p.Name]; t != nil && p.Grad {
				genv[p.Name] = t
			}
		}
	}
	st.gradIn = stages.Tensors{}
	for _, n := range st.received {
		if t := genv[n]; t != nil {
			st.gradIn[n] = t
		}
	}
	return nil
}

// backwardWeight runs W.
func (c *Chunk) backwardWeight(mb int, st *mbState) error {
	for i, s := range c.Stages {
		if !st.ran[i] {
			continue
		}
		if err := s.BackwardWeight(mb); err != nil {
			return fmt.Errorf("stage %d (%s) weight gradients: %w", i, s.Kind(), err)
		}
	}
	return nil
}

func scalar(t *tensors.Tensor) (float64, error) {
	if t.Numel() != 1 || t.DType() != tensors.F32 {
		return 0, fmt.Errorf("%v is not an F32 scalar", t)
	}
	if t.Bytes() == nil {
		return 0, fmt.Errorf("%v is not in host memory", t)
	}
	return float64(t.F32()[0]), nil
}
