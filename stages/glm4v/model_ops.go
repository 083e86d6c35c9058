package glm4v

// Shared plumbing of the text stages (embed, decoder, head) and the Model: parameters as
// stages.Param on the backend's device, an error-collecting op runner, and the txLinear
// (GEMM + bias) forward / backward-input / backward-weight triple every layer uses.

import (
	"fmt"
	"math"
	"sync"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// txOnDevice returns t on be's device: t itself when it already lives there (the CPU backend
// computes on the loaded tree in place), else an uploaded copy.
func txOnDevice(be kernels.Backend, t *tensors.Tensor) (*tensors.Tensor, error) {
	if t.Device() == be.Device() {
		return t, nil
	}
	return be.Upload(t)
}

// txParam wraps a loaded slot as a stages.Param; trainable ones get a zeroed gradient
// accumulator of the same shape.
func txParam(be kernels.Backend, s *Param, trainable bool) (*stages.Param, error) {
	if s == nil {
		return nil, nil
	}
	if s.T == nil {
		return nil, fmt.Errorf("glm4v: parameter %s is not loaded", s.Name)
	}
	v, err := txOnDevice(be, s.T)
	if err != nil {
		return nil, fmt.Errorf("glm4v: %s: %w", s.Name, err)
	}
	sp := &stages.Param{Name: s.Name, Value: v, Trainable: trainable}
	if trainable {
		if sp.Grad, err = be.Alloc(tensors.F32, s.Shape...); err != nil {
			return nil, fmt.Errorf("glm4v: %s: %w", s.Name, err)
		}
	}
	return sp, nil
}

// txOps runs backend calls and keeps the first error, so a layer reads as a list of ops with
// one error check at the end. After an error, allocations return 0-element tensors and
// further ops are skipped.
//
// With an arena, f32/buf/bufOf draw from it and record the tensor in *kept (the micro-batch's
// state), which the stage returns to the arena in BackwardWeight; fresh always allocates (for
// the tensors that leave the stage: outputs and input gradients).
type txOps struct {
	be   kernels.Backend
	err  error
	ar   *txArena
	kept *[]*tensors.Tensor
	gen  *txGen // bf16 weight copies of the micro-batch (text_precision.go); nil: fp32 GEMMs
}

func (o *txOps) ok(err error) {
	if o.err == nil && err != nil {
		o.err = err
	}
}

// f32 returns a zeroed F32 tensor (for accumulated outputs).
func (o *txOps) f32(shape ...int) *tensors.Tensor {
	t, reused := o.get(tensors.F32, shape)
	if reused {
		o.ok(o.be.Zero(t))
	}
	return t
}

// buf returns an F32 tensor with unspecified contents, for outputs an op overwrites.
func (o *txOps) buf(shape ...int) *tensors.Tensor { return o.bufOf(tensors.F32, shape...) }

// bufOf is buf for any dtype.
func (o *txOps) bufOf(dt tensors.DType, shape ...int) *tensors.Tensor {
	t, _ := o.get(dt, shape)
	if txPoison && o.err == nil && dt == tensors.F32 && t.Device() == tensors.CPU {
		for i := range t.F32() {
			t.F32()[i] = float32(math.NaN())
		}
	}
	return t
}

// fresh allocates a zeroed tensor outside the arena (it may outlive the micro-batch).
func (o *txOps) fresh(shape ...int) *tensors.Tensor { return o.alloc(tensors.F32, shape...) }

func (o *txOps) get(dt tensors.DType, shape []int) (t *tensors.Tensor, reused bool) {
	if o.err != nil {
		return tensors.New(dt, make([]int, len(shape))...), false
	}
	if o.ar == nil {
		return o.alloc(dt, shape...), false
	}
	t, reused, err := o.ar.get(o.be, dt, shape)
	if err != nil {
		o.ok(err)
		return tensors.New(dt, make([]int, len(shape))...), false
	}
	*o.kept = append(*o.kept, t)
	return t, reused
}

// alloc allocates a zeroed tensor on the backend (no arena).
func (o *txOps) alloc(dt tensors.DType, shape ...int) *tensors.Tensor {
	if o.err == nil {
		t, err := o.be.Alloc(dt, shape...)
		if err == nil {
			return t
		}
		o.ok(err)
	}
	return tensors.New(dt, make([]int, len(shape))...)
}

// txPoison (tests) fills every buf with NaN, so an op that reads an output before writing it
// shows up in the results.
var txPoison bool

// txArena recycles a stage's activation and scratch buffers across micro-batches and steps,
// by dtype and element count (a buffer comes back reshaped as asked). It only grows: its size
// is the stage's peak of live micro-batch buffers.
type txArena struct {
	mu   sync.Mutex
	free map[txArenaKey][]*tensors.Tensor
}

type txArenaKey struct {
	dt tensors.DType
	n  int
}

func (a *txArena) get(be kernels.Backend, dt tensors.DType, shape []int) (*tensors.Tensor, bool, error) {
	n, err := tensors.NumelOf(shape)
	if err != nil {
		return nil, false, err
	}
	k := txArenaKey{dt, int(n)}
	a.mu.Lock()
	l := a.free[k]
	var t *tensors.Tensor
	if len(l) > 0 {
		t, a.free[k] = l[len(l)-1], l[:len(l)-1]
	}
	a.mu.Unlock()
	if t == nil {
		t, err = be.Alloc(dt, shape...)
		return t, false, err
	}
	t, err = t.Reshape(shape...)
	return t, true, err
}

// put returns buffers (each at most once per get).
func (a *txArena) put(ts []*tensors.Tensor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == nil {
		a.free = map[txArenaKey][]*tensors.Tensor{}
	}
	for _, t := range ts {
		k := txArenaKey{t.DType(), t.Numel()}
		a.free[k] = append(a.free[k], t)
	}
}

// view reshapes t (a view); on error it records it and returns t.
func (o *txOps) view(t *tensors.Tensor, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return t
	}
	v, err := t.Reshape(shape...)
	if err != nil {
		o.ok(err)
		return t
	}
	return v
}

// upI32 uploads host int32 values as an I32 tensor of shape.
func (o *txOps) upI32(v []int32, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return tensors.New(tensors.I32, make([]int, len(shape))...)
	}
	h := tensors.New(tensors.I32, shape...)
	copy(h.I32(), v)
	t, err := o.be.Upload(h)
	if err != nil {
		o.ok(err)
		return h
	}
	return t
}

// upF32 uploads host float32 values.
func (o *txOps) upF32(v []float32, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return tensors.New(tensors.F32, make([]int, len(shape))...)
	}
	h := tensors.New(tensors.F32, shape...)
	copy(h.F32(), v)
	t, err := o.be.Upload(h)
	if err != nil {
		o.ok(err)
		return h
	}
	return t
}

// do runs f unless an earlier op failed.
func (o *txOps) do(f func() error) {
	if o.err == nil {
		o.ok(f())
	}
}

// txHostI32 downloads an I32 tensor's values.
func txHostI32(be kernels.Backend, t *tensors.Tensor) ([]int32, error) {
	if t.Device() == tensors.CPU && t.Bytes() != nil {
		return t.I32(), nil
	}
	h, err := be.Download(t)
	if err != nil {
		return nil, err
	}
	return h.I32(), nil
}

// txLinear is y = x·Wᵀ (+ b) with W [N, K] and an optional bias [N]. Its GEMM operands (x,
// dy) are in the micro-batch's GEMM precision (txOps.gemmIn); W is read through txOps.weight.
type txLinear struct {
	w, b *stages.Param
}

func newTxLinear(be kernels.Backend, l *Linear, trainable bool) (txLinear, error) {
	w, err := txParam(be, &l.Weight, trainable)
	if err != nil {
		return txLinear{}, err
	}
	var b *stages.Param
	if l.Bias != nil {
		if b, err = txParam(be, l.Bias, trainable); err != nil {
			return txLinear{}, err
		}
	}
	return txLinear{w: w, b: b}, nil
}

func (l txLinear) params() []*stages.Param {
	if l.b != nil {
		return []*stages.Param{l.w, l.b}
	}
	return []*stages.Param{l.w}
}

// out is the output width N.
func (l txLinear) out() int { return l.w.Value.Dim(0) }

// fwd computes y [R, N] (F32) = x [R, K]·Wᵀ + b; x is a GEMM operand.
func (l txLinear) fwd(o *txOps, y, x *tensors.Tensor) {
	w := o.weight(l.w)
	o.do(func() error { return o.be.Matmul(y, x, w, kernels.MatmulOpts{TransB: true}) })
	if l.b != nil {
		o.do(func() error { return o.be.AddBias(y, y, l.b.Value) })
	}
}

// bwdInput computes dx [R, K] (F32) = dy [R, N]·W, overwriting dx, or adding to it when acc;
// dy is a GEMM operand.
func (l txLinear) bwdInput(o *txOps, dx, dy *tensors.Tensor, acc bool) {
	beta := float32(0)
	if acc {
		beta = 1
	}
	w := o.weight(l.w)
	o.do(func() error { return o.be.Matmul(dx, dy, w, kernels.MatmulOpts{Beta: beta}) })
}

// bwdWeight accumulates dW += dyᵀ·x (dy [R, N], x [R, K] GEMM operands) and db += Σ_rows dy32
// (dy32 the F32 output gradient, read only when there is a bias; nil: dy, right in fp32 mode),
// trainable parameters only.
func (l txLinear) bwdWeight(o *txOps, dy, x, dy32 *tensors.Tensor) {
	if l.w.Trainable {
		o.do(func() error { return o.be.Matmul(l.w.Grad, dy, x, kernels.MatmulOpts{TransA: true, Beta: 1}) })
	}
	if l.b != nil && l.b.Trainable {
		if dy32 == nil {
			dy32 = dy
		}
		o.do(func() error { return o.be.AddBiasBackward(l.b.Grad, dy32) })
	}
}

// txNorm is a weight-only RMSNorm over the last dimension.
type txNorm struct {
	w   *stages.Param
	eps float32
}

// fwd: y, x [R, D]; rstd [R].
func (n txNorm) fwd(o *txOps, y, rstd, x *tensors.Tensor) {
	o.do(func() error { return o.be.RMSNorm(y, rstd, x, n.w.Value, n.eps) })
}

// bwdInput overwrites dx and writes the weight gradient of this call into dw (a zeroed
// scratch [D]); bwdWeight adds it to the accumulator later, keeping the B/W split.
func (n txNorm) bwdInput(o *txOps, dx, dw, dy, x, rstd *tensors.Tensor) {
	o.do(func() error { return o.be.RMSNormBackward(dx, dw, dy, x, n.w.Value, rstd) })
}

func (n txNorm) bwdWeight(o *txOps, dw *tensors.Tensor) {
	if n.w.Trainable {
		o.do(func() error { return o.be.Add(n.w.Grad, n.w.Grad, dw) })
	}
}

// txLayout is the packed token layout of a micro-batch: B rows of S tokens flattened to
// T = B·S, cut into attention segments.
//
// attention_mask is 0 for padding and 1 for a token (HF), or, for rows packed with several
// samples, the sample's segment id 1, 2, … (the LLaMA-Factory "neat packing" convention): a
// new segment starts where the non-zero value changes, so attention never crosses samples.
// Padding keys are masked; padded queries attend to their segment's tokens as in HF.
type txLayout struct {
	B, S   int
	cu     []int32 // [segments+1] boundaries (one segment per row unless packed)
	keyPad []bool  // [T] attention_mask == 0; nil when nothing is padded
}

func newTxLayout(mask []int32, B, S int) (txLayout, error) {
	l := txLayout{B: B, S: S, cu: make([]int32, 1, B+1)}
	for b := range B {
		var last int32
		for s := range S {
			i := b*S + s
			m := mask[i]
			switch {
			case m < 0:
				return txLayout{}, fmt.Errorf("attention_mask[%d][%d] = %d, want 0 (padding), 1 or a packed segment id ≥ 1", b, s, m)
			case m == 0:
				if l.keyPad == nil {
					l.keyPad = make([]bool, len(mask))
				}
				l.keyPad[i] = true
			default:
				if last != 0 && m != last {
					l.cu = append(l.cu, int32(i))
				}
				last = m
			}
		}
		l.cu = append(l.cu, int32((b+1)*S))
	}
	return l, nil
}

// runs lists the maximal row ranges [a, b) of attention_mask-1 tokens.
func (l *txLayout) runs() [][2]int {
	T := l.B * l.S
	if l.keyPad == nil {
		return [][2]int{{0, T}}
	}
	var rs [][2]int
	for i := 0; i < T; {
		if l.keyPad[i] {
			i++
			continue
		}
		j := i
		for j < T && !l.keyPad[j] {
			j++
		}
		rs = append(rs, [2]int{i, j})
		i = j
	}
	return rs
}

// txHostF64 reads an F64 tensor's values (a copy on non-CPU backends).
func txHostF64(be kernels.Backend, t *tensors.Tensor) ([]float64, error) {
	if t.Device() == tensors.CPU && t.Bytes() != nil {
		return t.F64(), nil
	}
	h, err := be.Download(t)
	if err != nil {
		return nil, err
	}
	return h.F64(), nil
}

// upF64 uploads host float64 values.
func (o *txOps) upF64(v []float64, shape ...int) *tensors.Tensor {
	if o.err != nil {
		return tensors.New(tensors.F64, make([]int, len(shape))...)
	}
	h := tensors.New(tensors.F64, shape...)
	copy(h.F64(), v)
	t, err := o.be.Upload(h)
	if err != nil {
		o.ok(err)
		return h
	}
	return t
}
