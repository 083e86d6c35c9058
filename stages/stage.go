package stages

import (
	"fmt"
	"sort"
	"sync"

	"github.com/glmflow/glmflow/tensors"
)

// Tensors are the named tensors on a stage's ports (port name → tensor).
type Tensors map[string]*tensors.Tensor

// Names returns the port names in sorted order.
func (ts Tensors) Names() []string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Port is one typed input or output of a stage.
type Port struct {
	Name  string
	DType tensors.DType
	// Shape is a template: each entry is a symbol ("B", "T", "D") bound consistently across
	// all ports of a call, or a fixed size written as a decimal ("4096").
	Shape []string
	// Grad reports whether a gradient flows back through this port (hidden states: yes;
	// token ids, position ids, labels: no).
	Grad bool
}

func (p Port) String() string { return fmt.Sprintf("%s %v%v", p.Name, p.DType, p.Shape) }

// Param is one parameter of a stage: its Hugging Face name, value and gradient accumulator.
type Param struct {
	Name      string
	Value     *tensors.Tensor
	Grad      *tensors.Tensor // accumulated over micro-batches; nil when not trainable
	Trainable bool
}

// Stage is one node of the training DAG. Calls for different micro-batches may interleave in
// any order a schedule allows (F(0), F(1), B(0), W(0), ...), but calls for one micro-batch come
// in order: Forward, BackwardInput, BackwardWeight.
type Stage interface {
	// Kind is the registered stage kind, e.g. "glm4v.decoder".
	Kind() string
	// Ports returns the input and output ports.
	Ports() (in, out []Port)
	// Params returns the parameters in a fixed order.
	Params() []*Param
	// Forward runs micro-batch mb and keeps what the backward needs.
	Forward(mb int, in Tensors) (Tensors, error)
	// BackwardInput takes the gradients of the outputs with Grad ports and returns the
	// gradients of the inputs with Grad ports.
	BackwardInput(mb int, dOut Tensors) (Tensors, error)
	// BackwardWeight accumulates mb's parameter gradients into Param.Grad and releases what
	// was kept for mb.
	BackwardWeight(mb int) error
}

// Recomputer is implemented by stages that can drop activations after Forward and recompute
// them in the backward (less memory, one more forward).
type Recomputer interface {
	SetRecompute(on bool)
}

// Builder makes a stage from its kind-specific configuration.
type Builder func(cfg any) (Stage, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Builder{}
)

// Register makes a stage kind available to Build. It panics on a duplicate kind: kinds are
// registered from init functions, so a duplicate is a programming error.
func Register(kind string, b Builder) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("stages: duplicate kind " + kind)
	}
	registry[kind] = b
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var ks []string
	for k := range registry {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Build makes a stage of a registered kind.
func Build(kind string, cfg any) (Stage, error) {
	regMu.RLock()
	b, ok := registry[kind]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("stages: unknown kind %q (registered: %v)", kind, Kinds())
	}
	return b(cfg)
}
