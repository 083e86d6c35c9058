package glm4v

// Activation buffers recycled across micro-batches. A training step of the tower allocates a
// few hundred activation and gradient tensors (≈ 0.5 GB for 8 images of 224²); fresh backend
// allocations are zeroed by the allocator (Go clears every large allocation) and left to the
// GC, which cost ≈ 3% of a step. Instead each micro-batch takes its buffers from the stage's
// pool into an arena, and returns them as soon as nothing it keeps refers to them: at the end
// of Forward everything but the saved activations, at the end of BackwardInput everything but
// what BackwardWeight reads, at the end of BackwardWeight the rest. Recycled buffers are not
// zeroed, so only fully overwritten outputs come from the pool; accumulated outputs (norm and
// bias gradient partials) and the stage's outputs (image_embeds) are fresh backend
// allocations. The pool never shrinks: it holds at most the buffers of the micro-batches that
// were in flight at once, rounded up to size classes (≤ 12.5% larger than asked).

import (
	"math/bits"
	"reflect"
	"sync"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

type visPool struct {
	mu     sync.Mutex
	free   map[visClass][]*tensors.Tensor // flat buffers [n]
	poison bool                           // tests: fill recycled buffers with NaN bits
}

// visClass is a buffer's dtype and element count (a size class).
type visClass struct {
	dt tensors.DType
	n  int
}

// poolClass rounds n up to a size class: 8 classes per power of two.
func poolClass(n int) int {
	if n <= 64 {
		return 64
	}
	step := 1 << (bits.Len(uint(n)) - 4) // n ∈ [8·step, 16·step)
	return (n + step - 1) / step * step
}

// visArena lists the pool buffers one micro-batch holds.
type visArena struct {
	bases []*tensors.Tensor
}

// get returns a tensor of the given shape backed by a pool buffer (contents undefined) and
// records the buffer in ar.
func (p *visPool) get(be kernels.Backend, ar *visArena, dt tensors.DType, shape []int) (*tensors.Tensor, error) {
	n64, err := tensors.NumelOf(shape)
	if err != nil {
		return nil, err
	}
	c := visClass{dt, poolClass(int(n64))}
	var base *tensors.Tensor
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		base, p.free[c] = l[len(l)-1], l[:len(l)-1]
	}
	poison := p.poison
	p.mu.Unlock()
	if base == nil {
		if base, err = be.Alloc(dt, c.n); err != nil {
			return nil, err
		}
	} else if poison && !base.Device().CUDA {
		b := base.Bytes()
		for i := range b {
			b[i] = 0xff // NaN in F32 and BF16
		}
	}
	ar.bases = append(ar.bases, base)
	t, err := base.Slice(0, 0, int(n64))
	if err != nil {
		return nil, err
	}
	return t.Reshape(shape...)
}

// releaseExcept returns to p every buffer of ar that no tensor reachable from keep (pointers
// to structs, slices and *tensors.Tensor, walked through their fields) refers to.
func (p *visPool) releaseExcept(ar *visArena, keep ...any) {
	if ar == nil || len(ar.bases) == 0 {
		return
	}
	kept := map[*tensors.Storage]bool{}
	for _, k := range keep {
		visStorages(kept, reflect.ValueOf(k))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = map[visClass][]*tensors.Tensor{}
	}
	n := 0
	for _, b := range ar.bases {
		if kept[b.Storage()] {
			ar.bases[n] = b
			n++
			continue
		}
		c := visClass{b.DType(), b.Numel()}
		p.free[c] = append(p.free[c], b)
	}
	clear(ar.bases[n:])
	ar.bases = ar.bases[:n]
}

var visTensorType = reflect.TypeFor[*tensors.Tensor]()

// visStorages adds the storage of every tensor reachable from v to set.
func visStorages(set map[*tensors.Storage]bool, v reflect.Value) {
	switch {
	case !v.IsValid():
	case v.Type() == visTensorType:
		if !v.IsNil() {
			set[(*tensors.Tensor)(v.UnsafePointer()).Storage()] = true // unexported fields too
		}
	case v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		if !v.IsNil() {
			visStorages(set, v.Elem())
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			visStorages(set, v.Field(i))
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			visStorages(set, v.Index(i))
		}
	}
}
