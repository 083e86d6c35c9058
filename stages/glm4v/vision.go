package glm4v

// The "glm4v.vision" stage: GLM-4.5V's vision tower (model.visual.*), pixel rows in, one
// feature vector per merged 2×2 patch block out (glm45v.md §2). This file has the stage
// (config, ports, parameters, the Forward / BackwardInput / BackwardWeight split, per
// micro-batch state) and the host-side tables; vision_block.go has the ViT blocks, merger.go
// the 2×2 downsample and the patch merger. All tensor math is kernels.Backend ops, so the
// stage runs unchanged on any backend; only index and angle tables are built on the host and
// uploaded.
//
// Non-goals: image preprocessing (pixel_values come patchified, glm45v.md §5.3), splicing the
// features into the token stream (the embed stage), bf16 storage of master weights or
// activations outside the GEMMs (Precision "bf16" is mixed precision: vision_precision.go),
// dropout (attention_dropout is 0 in every GLM-4.5V config).

import (
	"fmt"
	"sync"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/gridsample"
	"github.com/glmflow/glmflow/kernels/rotary"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// VisionKind is the registered stage kind of the vision tower.
const VisionKind = "glm4v.vision"

// visLNEps is the merger LayerNorm's eps (nn.LayerNorm default; not in the config).
const visLNEps = 1e-5

func init() {
	stages.Register(VisionKind, func(cfg any) (stages.Stage, error) {
		c, ok := cfg.(VisionStageConfig)
		if !ok {
			return nil, fmt.Errorf("%s: config is %T, want glm4v.VisionStageConfig", VisionKind, cfg)
		}
		return NewVisionStage(c)
	})
}

// VisionStageConfig configures the glm4v.vision stage (parameters: SelectVision).
type VisionStageConfig struct {
	// Backend runs the compute. Parameters already on its device are used in place (the CPU
	// backend computes on the loaded tree itself); others are uploaded once, at build.
	Backend kernels.Backend
	// Params is the model tree; the stage uses Params.Visual and Params.Config.Vision. Every
	// model.visual.* slot must be loaded (Load(dir, p, SelectVision()) or InitParams).
	Params *Params
	// Frozen makes every parameter non-trainable: Forward keeps nothing, BackwardInput and
	// BackwardWeight do nothing, Param.Grad stays nil.
	Frozen bool
	// Recompute drops the activations after Forward (keeping only the inputs and the host
	// tables) and recomputes them in BackwardInput: less memory, one more forward. Also
	// settable with SetRecompute (stages.Recomputer).
	Recompute bool
	// Precision is the GEMM precision: "fp32" (or "", the default) or "bf16", mixed precision:
	// every Linear/Conv GEMM (forward, input and weight gradient) takes bf16 operands with fp32
	// accumulation and fp32 outputs; master weights, gradients and all other math stay fp32.
	// The bf16 weight copies are cached and refresh by themselves at a Forward that finds no
	// micro-batch in flight (see vision_precision.go and InvalidateCaches).
	Precision string
}

// VisionStage is the vision tower as a stage:
//
//	in   pixel_values    F32 [P, C·Tp·p·p]  patch rows, each image's rows in merge-block order
//	                                         (glm45v.md §5.3); no gradient
//	     image_grid_thw  I32 [N, 3]          (t, h, w) per image in patches, pre-merge; no gradient
//	out  image_embeds    F32 [M, Do]         M = P/m², one row per merged block, image order
//
// Backward split. The stage is a source of the training DAG: no gradient flows to its
// inputs, so BackwardInput returns an empty Tensors. It still does the whole backward
// through the tower — every activation gradient, the critical-path work of the backward —
// and keeps, per micro-batch, the (input, output-gradient) pair of every linear layer and
// the per-call norm-weight gradients. BackwardWeight then does all parameter-gradient work
// (the dW = dyᵀ·x GEMMs, bias sums, norm-weight sums, the position-table grid-sample
// backward) and accumulates into Param.Grad; only BackwardWeight writes Param.Grad, so a
// zero-bubble schedule may defer it freely.
//
// Gradients are exposed as stages.Param (Params, in HF-name order): Value is the tensor the
// stage computes with, Grad the F32 accumulator of the same shape, allocated (zeroed) on the
// backend when the stage is built (nil when Frozen). Grads accumulate over micro-batches until
// the caller zeroes them (Backend.Zero). The fused qkv weight is one Param
// (…attn.qkv.weight [3·Dv, Dv]); the stage writes its q/k/v row blocks through views.
//
// Precision "bf16" (vision_precision.go) runs every Linear/Conv GEMM on bf16 operands with fp32
// accumulation and keeps everything else fp32; the bf16 weight copies refresh by themselves at
// a Forward that finds no micro-batch in flight, or after InvalidateCaches. In both precisions
// activation buffers are recycled across micro-batches (vision_pool.go).
//
// Concurrency: Forward and BackwardInput of different micro-batches may run on different
// goroutines at once; BackwardWeight calls share the accumulators and must not overlap each
// other. SetRecompute applies to later Forward calls.
//
// The stage keeps references to its inputs (pixel_values until BackwardWeight, the output
// gradient until BackwardWeight): callers must not modify them before then.
type VisionStage struct {
	cfg       VisionConfig
	be        kernels.Backend
	frozen    bool
	recompute bool

	tree   *Vision         // Params.Visual
	slots  []*Param        // model.visual.* slots, name order
	params []*stages.Param // same order
	index  map[*Param]int  // slot → position in params
	w      visWeights      // values on the backend
	g      *visWeights     // gradient accumulators; nil until the first BackwardWeight
	eye    *tensors.Tensor // [m², m²] identity: the exact batched transpose of merge blocks
	saved  stages.Saved[*visMB]
	pool   visPool // recycled activation buffers

	// Mixed precision (vision_precision.go).
	prec      visPrec
	bf16Out   bool       // the backend writes BF16 GEMM operands from RMSNorm/SwiGLU (vision_precision.go)
	attn16    bool       // bf16 mode keeps q, k, v as bf16 only (bf16Attention)
	gemmSlots []int      // params indices of the GEMM weights
	mu        sync.Mutex // guards gen, live, dirty
	gen       *visGen    // current low-precision GEMM weights; nil in fp32 mode
	live      int        // micro-batches holding gen (Forward to BackwardWeight)
	dirty     bool       // InvalidateCaches was called
}

var (
	_ stages.Stage      = (*VisionStage)(nil)
	_ stages.Recomputer = (*VisionStage)(nil)
)

// visWeights holds the tensors of the vision tower in the shapes the compute uses (views of
// the parameters). The same layout holds the gradient accumulators.
type visWeights struct {
	patchW, patchB *tensors.Tensor // [Dv, C·Tp·p·p] (Conv3d weight flattened (c, t, ph, pw)), [Dv]
	postConv       *tensors.Tensor // [Dv]
	pos            *tensors.Tensor // [Gp, Gp, Dv] learned table, rows = height
	blocks         []visBlockW
	postLN         *tensors.Tensor // [Dv]
	downW, downB   *tensors.Tensor // [Do, Dv·m²] (Conv2d weight, column c·m² + kh·m + kw), [Do]
	mProj          *tensors.Tensor // [Do, Do]
	lnW, lnB       *tensors.Tensor // [Do]
	mGate, mUp     *tensors.Tensor // [Iv, Do]
	mDown          *tensors.Tensor // [Do, Iv]
}

// visBlockW is one ViT block's tensors.
type visBlockW struct {
	norm1, norm2 *tensors.Tensor // [Dv]
	q, k, v      *tensors.Tensor // [Dv, Dv] row blocks 0, 1, 2 of qkv.weight
	qb, kb, vb   *tensors.Tensor // [Dv] blocks of qkv.bias; nil without attention_bias
	proj         *tensors.Tensor // [Dv, Dv]
	gate, up     *tensors.Tensor // [Do, Dv]
	down         *tensors.Tensor // [Dv, Do]
}

// NewVisionStage builds the stage. See VisionStageConfig.
func NewVisionStage(c VisionStageConfig) (*VisionStage, error) {
	if c.Backend == nil {
		return nil, fmt.Errorf("%s: no backend", VisionKind)
	}
	if c.Params == nil || c.Params.Visual == nil {
		return nil, fmt.Errorf("%s: no parameters", VisionKind)
	}
	if err := c.Params.Check(SelectVision()); err != nil {
		return nil, fmt.Errorf("%s: %w", VisionKind, err)
	}
	prec, err := parsePrecision(c.Precision)
	if err != nil {
		return nil, err
	}
	s := &VisionStage{cfg: c.Params.Config.Vision, tree: c.Params.Visual, be: c.Backend, frozen: c.Frozen, recompute: c.Recompute,
		index: map[*Param]int{}, prec: prec}
	s.bf16Out = prec == precBF16 && bf16Outputs(c.Backend)
	s.attn16 = prec == precBF16 && bf16Attention(c.Backend)
	for _, slot := range c.Params.Select(SelectVision()) {
		v := slot.T
		if v.Device() != c.Backend.Device() {
			var err error
			if v, err = c.Backend.Upload(v); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", VisionKind, slot.Name, err)
			}
		}
		s.index[slot] = len(s.params)
		s.slots = append(s.slots, slot)
		s.params = append(s.params, &stages.Param{Name: slot.Name, Value: v, Trainable: !c.Frozen})
	}
	if s.w, err = s.resolve(c.Params.Visual, func(i int) *tensors.Tensor { return s.params[i].Value }); err != nil {
		return nil, err
	}
	for _, p := range gemmParams(c.Params.Visual) {
		s.gemmSlots = append(s.gemmSlots, s.index[p])
	}
	m2 := s.cfg.SpatialMergeSize * s.cfg.SpatialMergeSize
	eye := tensors.New(tensors.F32, m2, m2)
	for i := range m2 {
		eye.F32()[i*m2+i] = 1
	}
	if s.eye, err = c.Backend.Upload(eye); err != nil {
		return nil, fmt.Errorf("%s: %w", VisionKind, err)
	}
	if !c.Frozen { // gradient accumulators exist from the start, as in the text stages
		if err := s.allocGrads(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// resolve builds the compute views of the tree's tensors; at(i) is the tensor of params[i].
func (s *VisionStage) resolve(v *Vision, at func(i int) *tensors.Tensor) (visWeights, error) {
	c := &s.cfg
	Dv, Do := c.HiddenSize, c.OutHiddenSize
	o := &visOps{be: s.be}
	get := func(p *Param) *tensors.Tensor {
		i, ok := s.index[p]
		if !ok {
			o.ok(fmt.Errorf("%s: parameter %s is not in the vision selection", VisionKind, p.Name))
			return nil
		}
		return at(i)
	}
	opt := func(p *Param) *tensors.Tensor {
		if p == nil {
			return nil
		}
		return get(p)
	}
	gp := c.GridSize()
	w := visWeights{
		patchW:   o.view(get(&v.PatchEmbed.Weight), Dv, c.PatchDim()),
		patchB:   opt(v.PatchEmbed.Bias),
		postConv: get(&v.PostConvNorm.Weight),
		pos:      o.view(get(&v.PosEmbed.Weight), gp, gp, Dv),
		postLN:   get(&v.PostLayerNorm.Weight),
		downW:    o.view(get(&v.Downsample.Weight), Do, Dv*c.SpatialMergeSize*c.SpatialMergeSize),
		downB:    opt(v.Downsample.Bias),
		mProj:    get(&v.Merger.Proj.Weight),
		lnW:      get(&v.Merger.PostNorm.Weight),
		lnB:      get(&v.Merger.PostNorm.Bias),
		mGate:    get(&v.Merger.MLP.GateProj.Weight),
		mUp:      get(&v.Merger.MLP.UpProj.Weight),
		mDown:    get(&v.Merger.MLP.DownProj.Weight),
		blocks:   make([]visBlockW, len(v.Blocks)),
	}
	for i := range v.Blocks {
		b := &v.Blocks[i]
		qkv, bias := get(&b.Attn.QKV.Weight), opt(b.Attn.QKV.Bias)
		w.blocks[i] = visBlockW{
			norm1: get(&b.Norm1.Weight), norm2: get(&b.Norm2.Weight),
			q: o.rows(qkv, 0, Dv), k: o.rows(qkv, Dv, 2*Dv), v: o.rows(qkv, 2*Dv, 3*Dv),
			qb: o.rows(bias, 0, Dv), kb: o.rows(bias, Dv, 2*Dv), vb: o.rows(bias, 2*Dv, 3*Dv),
			proj: get(&b.Attn.Proj.Weight),
			gate: get(&b.MLP.GateProj.Weight), up: get(&b.MLP.UpProj.Weight), down: get(&b.MLP.DownProj.Weight),
		}
	}
	if o.err != nil {
		return visWeights{}, fmt.Errorf("%s: %w", VisionKind, o.err)
	}
	return w, nil
}

// Kind implements stages.Stage.
func (s *VisionStage) Kind() string { return VisionKind }

// Ports implements stages.Stage.
func (s *VisionStage) Ports() (in, out []stages.Port) {
	return []stages.Port{
			{Name: "pixel_values", DType: tensors.F32, Shape: []string{"P", fmt.Sprint(s.cfg.PatchDim())}},
			{Name: "image_grid_thw", DType: tensors.I32, Shape: []string{"N", "3"}},
		}, []stages.Port{
			{Name: "image_embeds", DType: tensors.F32, Shape: []string{"M", fmt.Sprint(s.cfg.OutHiddenSize)}, Grad: true},
		}
}

// Params implements stages.Stage: every model.visual.* parameter in HF-name order. The
// values are the same *stages.Param for the stage's life; Grad appears at the first
// BackwardWeight.
func (s *VisionStage) Params() []*stages.Param { return s.params }

// SetRecompute implements stages.Recomputer. It applies to later Forward calls.
func (s *VisionStage) SetRecompute(on bool) { s.recompute = on }

// visLayout describes one micro-batch on the host: the image grids, the (h, w) patch
// coordinates of every row (merge-block order, frames repeated) and the attention segments
// (one per image frame).
type visLayout struct {
	grids      [][3]int
	P, M       int
	hpos, wpos []int32 // [P]
	cu         []int32 // [frames+1]
}

// newVisLayout validates grid_thw (N×3 values) against P rows and builds the layout.
func newVisLayout(thw []int32, P, m int) (visLayout, error) {
	l := visLayout{P: P}
	total := int64(0)
	for i := 0; i+2 < len(thw); i += 3 {
		t, h, w := int64(thw[i]), int64(thw[i+1]), int64(thw[i+2])
		if t <= 0 || h <= 0 || w <= 0 || h%int64(m) != 0 || w%int64(m) != 0 {
			return l, fmt.Errorf("image_grid_thw row %d is (%d, %d, %d): want t, h, w > 0 with h, w multiples of %d", i/3, t, h, w, m)
		}
		total += t * h * w
		if total > int64(P) {
			return l, fmt.Errorf("image_grid_thw covers more than the %d rows of pixel_values", P)
		}
		l.grids = append(l.grids, [3]int{int(t), int(h), int(w)})
	}
	if total != int64(P) {
		return l, fmt.Errorf("image_grid_thw covers %d patches, pixel_values has %d rows", total, P)
	}
	l.M = P / (m * m)
	l.hpos, l.wpos = make([]int32, 0, P), make([]int32, 0, P)
	l.cu = []int32{0}
	for _, g := range l.grids {
		t, H, W := g[0], g[1], g[2]
		for range t {
			for bh := 0; bh < H/m; bh++ {
				for bw := 0; bw < W/m; bw++ {
					for mh := range m {
						for mw := range m {
							l.hpos = append(l.hpos, int32(bh*m+mh))
							l.wpos = append(l.wpos, int32(bw*m+mw))
						}
					}
				}
			}
			l.cu = append(l.cu, l.cu[len(l.cu)-1]+int32(H*W))
		}
	}
	return l, nil
}

// visMB is what a micro-batch keeps from Forward to BackwardWeight.
type visMB struct {
	lay      visLayout
	w        *visWeights     // the weights it computes with (GEMM weights in the GEMM precision)
	pix      *tensors.Tensor // [P, C·Tp·p·p] the input (referenced, not copied)
	pixG     *tensors.Tensor // pix as a GEMM operand (pix itself in fp32 mode)
	cos, sin *tensors.Tensor // [P, Dh/2] 2-D rotary tables
	coords   *tensors.Tensor // [P, 2] (x, y) grid_sample points of the position table
	act      *visAct         // nil between Forward and BackwardInput when recomputing
	back     *visBack        // set by BackwardInput
	arena    visArena        // the pool buffers it holds (vision_pool.go)
}

// tables builds and uploads the per-patch rotary and grid-sample tables (glm45v.md §2.2–2.3).
func (s *VisionStage) tables(o *visOps, st *visMB) {
	c, l := &s.cfg, &st.lay
	P := l.P
	inv, err := rotary.InvFreq(c.RopeTheta, c.HeadDim()/2)
	if err != nil {
		o.ok(err)
		return
	}
	slots := rotary.AxialSlots(inv, 2) // slots [0, Dh/4): row h; [Dh/4, Dh/2): column w
	half := len(slots.Freq)
	cos, sin := tensors.New(tensors.F32, P, half), tensors.New(tensors.F32, P, half)
	pos := append(append(make([]int32, 0, 2*P), l.hpos...), l.wpos...)
	o.ok(rotary.Angles(cos.F32(), sin.F32(), pos, 2, P, slots))
	coords := tensors.New(tensors.F32, P, 2)
	cf, i := coords.F32(), 0
	for _, g := range l.grids {
		for range g[0] * g[1] * g[2] {
			cf[2*i] = gridsample.Coord(int(l.wpos[i]), g[2])   // x: width
			cf[2*i+1] = gridsample.Coord(int(l.hpos[i]), g[1]) // y: height
			i++
		}
	}
	st.cos, st.sin, st.coords = o.up(cos), o.up(sin), o.up(coords)
}

// Forward implements stages.Stage.
func (s *VisionStage) Forward(mb int, in stages.Tensors) (stages.Tensors, error) {
	inPorts, _ := s.Ports()
	if err := stages.Bind(VisionKind, inPorts, in, map[string]int{}); err != nil {
		return nil, err
	}
	pix := in["pixel_values"]
	thw, err := visHost(s.be, in["image_grid_thw"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", VisionKind, err)
	}
	lay, err := newVisLayout(thw.I32(), pix.Dim(0), s.cfg.SpatialMergeSize)
	if err != nil {
		return nil, fmt.Errorf("%s: micro-batch %d: %w", VisionKind, mb, err)
	}
	st := &visMB{lay: lay, pix: pix}
	if st.w, err = s.acquire(); err != nil {
		return nil, err
	}
	o := s.ops(&st.arena)
	s.tables(o, st)
	act, out := s.forward(o, st)
	if o.err != nil {
		s.release()
		return nil, fmt.Errorf("%s: forward of micro-batch %d: %w", VisionKind, mb, o.err)
	}
	if s.frozen {
		s.pool.releaseExcept(&st.arena)
		s.release()
		return stages.Tensors{"image_embeds": out}, nil
	}
	if !s.recompute {
		st.act = act
	} else {
		st.pixG = nil
	}
	s.pool.releaseExcept(&st.arena, st.act, st.pixG)
	if err := s.saved.Put(VisionKind, mb, st); err != nil {
		s.release()
		return nil, err
	}
	return stages.Tensors{"image_embeds": out}, nil
}

// BackwardInput implements stages.Stage: the backward through the whole tower (see
// VisionStage). It returns an empty Tensors: no input carries a gradient.
func (s *VisionStage) BackwardInput(mb int, dOut stages.Tensors) (stages.Tensors, error) {
	if s.frozen {
		return stages.Tensors{}, nil
	}
	st, err := s.saved.Get(VisionKind, mb)
	if err != nil {
		return nil, err
	}
	if st.back != nil {
		return nil, fmt.Errorf("%s: BackwardInput of micro-batch %d ran twice", VisionKind, mb)
	}
	_, outPorts := s.Ports()
	dims := map[string]int{"M": st.lay.M}
	if err := stages.Bind(VisionKind+" (output gradient)", outPorts, dOut, dims); err != nil {
		return nil, err
	}
	o := s.ops(&st.arena)
	if st.act == nil {
		st.act, _ = s.forward(o, st)
	}
	st.back = s.backward(o, st, dOut["image_embeds"])
	st.act.dropForWeight()
	if o.err != nil {
		return nil, fmt.Errorf("%s: backward of micro-batch %d: %w", VisionKind, mb, o.err)
	}
	s.pool.releaseExcept(&st.arena, st.act, st.back, st.pixG)
	return stages.Tensors{}, nil
}

// BackwardWeight implements stages.Stage: accumulates mb's parameter gradients into
// Param.Grad (allocating the accumulators on first use) and releases mb.
func (s *VisionStage) BackwardWeight(mb int) error {
	if s.frozen {
		return nil
	}
	st, err := s.saved.Take(VisionKind, mb)
	if err != nil {
		return err
	}
	defer s.release()
	if st.back == nil {
		return fmt.Errorf("%s: BackwardWeight of micro-batch %d before its BackwardInput", VisionKind, mb)
	}
	if err := s.allocGrads(); err != nil {
		return err
	}
	o := s.ops(&st.arena)
	s.weightGrads(o, st)
	if o.err != nil {
		return fmt.Errorf("%s: weight gradients of micro-batch %d: %w", VisionKind, mb, o.err)
	}
	s.pool.releaseExcept(&st.arena)
	return nil
}

// allocGrads gives every parameter a zeroed gradient accumulator, once.
func (s *VisionStage) allocGrads() error {
	if s.g != nil {
		return nil
	}
	for i, p := range s.params {
		g, err := s.be.Alloc(tensors.F32, s.slots[i].Shape...)
		if err != nil {
			return fmt.Errorf("%s: gradient of %s: %w", VisionKind, p.Name, err)
		}
		p.Grad = g
	}
	g, err := s.resolve(s.tree, func(i int) *tensors.Tensor { return s.params[i].Grad })
	if err != nil {
		return err
	}
	s.g = &g
	return nil
}

// ops returns an op runner in the stage's precision that allocates from the pool into ar
// (ar nil: fresh backend allocations).
func (s *VisionStage) ops(ar *visArena) *visOps {
	return &visOps{be: s.be, prec: s.prec, bf16Out: s.bf16Out, pool: &s.pool, ar: ar}
}

// visAct holds the forward activations of one micro-batch. Activations read only by GEMMs
// are kept as GEMM operands (bf16 in bf16 mode).
type visAct struct {
	e, rstd0 *tensors.Tensor // patch-embed output [P, Dv] (post_conv_layernorm input), its rstd [P]
	blocks   []visBlockAct
	xL       *tensors.Tensor // last block output [P, Dv] (post_layernorm input)
	rstdL    *tensors.Tensor // [P]
	z        *tensors.Tensor // post_layernorm output [P, Dv]
	merger   visMergerAct
}

// visBack holds what BackwardInput leaves for BackwardWeight.
type visBack struct {
	de        *tensors.Tensor // [P, Dv] gradient of the patch-embed output (GEMM operand)
	dPatchB   *tensors.Tensor // [Dv] patch-embed bias gradient; nil without the bias
	dx0       *tensors.Tensor // [P, Dv] gradient of block 0's input = of the position embedding
	dPostConv *tensors.Tensor // [Dv] post_conv_layernorm weight gradient of this micro-batch
	blocks    []visBlockBack
	dPostLN   *tensors.Tensor // [Dv]
	merger    visMergerBack
}

// dropForWeight releases the activations BackwardWeight does not read.
func (a *visAct) dropForWeight() {
	if a == nil {
		return
	}
	a.e, a.rstd0, a.xL, a.rstdL, a.z = nil, nil, nil, nil, nil
	for i := range a.blocks {
		a.blocks[i].dropForWeight()
	}
	a.merger.dropForWeight()
}

// posEmbed samples the learned position table at every patch: [P, Dv].
func (s *VisionStage) posEmbed(o *visOps, st *visMB) *tensors.Tensor {
	pos := o.f32(st.lay.P, s.cfg.HiddenSize)
	o.do(func() error { return s.be.GridSample(pos, s.w.pos, st.coords) }) // fp32 in every mode
	return pos
}

// forward runs the tower; it returns the activations and image_embeds [M, Do].
func (s *VisionStage) forward(o *visOps, st *visMB) (*visAct, *tensors.Tensor) {
	c := &s.cfg
	eps := float32(c.RMSNormEps)
	w := st.w
	a := &visAct{blocks: make([]visBlockAct, len(w.blocks))}
	a.e = o.f32(st.lay.P, c.HiddenSize)
	st.pixG = o.gemmIn(st.pix)
	o.linear(a.e, st.pixG, w.patchW, w.patchB)
	var x *tensors.Tensor
	x, a.rstd0 = o.rmsnorm(a.e, w.postConv, eps)
	pos := s.posEmbed(o, st)
	o.do(func() error { return s.be.Add(x, x, pos) })
	for i := range w.blocks {
		x = s.blockForward(o, &w.blocks[i], &a.blocks[i], st, x)
	}
	a.xL = x
	a.z, a.rstdL = o.rmsnorm(x, w.postLN, eps)
	return a, s.mergerForward(o, &a.merger, st, a.z)
}

// backward runs the tower's backward from d(image_embeds); see VisionStage for the split.
func (s *VisionStage) backward(o *visOps, st *visMB, dOut *tensors.Tensor) *visBack {
	a, w := st.act, st.w
	b := &visBack{blocks: make([]visBlockBack, len(w.blocks))}
	dz := s.mergerBackward(o, &b.merger, &a.merger, st, dOut)
	var dx *tensors.Tensor
	dx, b.dPostLN = o.rmsnormBack(dz, a.xL, w.postLN, a.rstdL)
	for i := len(w.blocks) - 1; i >= 0; i-- {
		dx = s.blockBackward(o, &w.blocks[i], &a.blocks[i], &b.blocks[i], st, dx)
	}
	b.dx0 = dx
	var de *tensors.Tensor
	de, b.dPostConv = o.rmsnormBack(dx, a.e, w.postConv, a.rstd0)
	b.dPatchB = o.biasGrad(w.patchB, de)
	b.de = o.gemmIn(de)
	return b
}

// weightGrads accumulates one micro-batch's parameter gradients into s.g.
func (s *VisionStage) weightGrads(o *visOps, st *visMB) {
	g, a, b := s.g, st.act, st.back
	o.linearDW(g.patchW, b.de, st.pixG)
	o.acc(g.patchB, b.dPatchB)
	o.acc(g.postConv, b.dPostConv)
	o.do(func() error { return s.be.GridSampleBackward(g.pos, b.dx0, st.coords) })
	for i := range g.blocks {
		s.blockWeightGrads(o, &g.blocks[i], &a.blocks[i], &b.blocks[i])
	}
	o.acc(g.postLN, b.dPostLN)
	s.mergerWeightGrads(o, &a.merger, &b.merger)
}
