package optim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	kopt "github.com/glmflow/glmflow/kernels/optim"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

func TestLRSchedule(t *testing.T) {
	const max, min = 1e-4, 1e-5
	cos := LRSchedule{MaxLR: max, MinLR: min, Warmup: 10, DecayIters: 110}
	lin := cos
	lin.Decay = DecayLinear
	con := cos
	con.Decay = DecayConstant
	for _, c := range []struct {
		s    LRSchedule
		step int
		want float64
	}{
		{cos, 0, 0}, {cos, 5, max / 2}, {cos, 10, max},
		{cos, 60, min + (max-min)*0.5}, // r = ½: cos(π/2) = 0
		{cos, 35, min + (max-min)*0.5*(math.Cos(math.Pi/4)+1)},
		{cos, 110, min}, {cos, 111, min}, {cos, 5000, min},
		{lin, 60, min + (max-min)*0.5}, {lin, 35, min + (max-min)*0.75}, {lin, 200, min},
		{con, 0, 0}, {con, 10, max}, {con, 5000, max},
		{LRSchedule{MaxLR: max}, 0, max}, {LRSchedule{MaxLR: max}, 99, max},
	} {
		if got := c.s.At(c.step); math.Abs(got-c.want) > 1e-18 {
			t.Errorf("%+v At(%d) = %v, want %v", c.s, c.step, got, c.want)
		}
	}
	for _, bad := range []LRSchedule{{MaxLR: -1}, {MaxLR: 1, MinLR: 2}, {MaxLR: 1, Warmup: 10, DecayIters: 5}, {MaxLR: 1, Decay: "step"}, {MaxLR: math.NaN()}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// testParams: a 2-D weight, a bias and a 1-D norm weight with random values and gradients.
func testParams(seed uint64) []*stages.Param {
	r := rand.New(rand.NewPCG(seed, 1))
	mk := func(name string, shape ...int) *stages.Param {
		v, g := tensors.New(tensors.F32, shape...), tensors.New(tensors.F32, shape...)
		for i := range v.F32() {
			v.F32()[i] = float32(r.NormFloat64())
			g.F32()[i] = float32(r.NormFloat64())
		}
		return &stages.Param{Name: name, Value: v, Grad: g, Trainable: true}
	}
	return []*stages.Param{mk("a.weight", 7, 5), mk("a.bias", 7), mk("norm.weight", 5), mk("b.weight", 3, 4)}
}

func clone(ps []*stages.Param) []*stages.Param {
	out := make([]*stages.Param, len(ps))
	for i, p := range ps {
		out[i] = &stages.Param{Name: p.Name, Value: p.Value.Clone(), Grad: p.Grad.Clone(), Trainable: p.Trainable}
	}
	return out
}

var testCfg = Config{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, ClipGrad: 1.0,
	LR: LRSchedule{MaxLR: 1e-2, MinLR: 1e-3, Warmup: 1, DecayIters: 5}}

// TestAdamWMatchesFloat64 runs 4 steps (clipped: the random gradients have norm ≫ 1) against
// a float64 implementation of the same rules: global norm, clip, no decay for bias and 1-D.
func TestAdamWMatchesFloat64(t *testing.T) {
	ps := testParams(1)
	ref := clone(ps)
	o, err := New(cpu.New(), ps, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	p64 := make([][]float64, len(ref))
	m64 := make([][]float64, len(ref))
	v64 := make([][]float64, len(ref))
	for i, p := range ref {
		for _, x := range p.Value.F32() {
			p64[i] = append(p64[i], float64(x))
		}
		m64[i], v64[i] = make([]float64, len(p64[i])), make([]float64, len(p64[i]))
	}
	for step := range 4 {
		sq, err := o.SquaredNorm()
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for _, p := range ref {
			for _, g := range p.Grad.F32() {
				want += float64(g) * float64(g)
			}
		}
		if math.Abs(sq-want) > 1e-12*want {
			t.Fatalf("squared norm %v, want %v", sq, want)
		}
		info, err := o.Step(math.Sqrt(sq))
		if err != nil {
			t.Fatal(err)
		}
		coef := math.Min(1, testCfg.ClipGrad/(math.Sqrt(want)+1e-6))
		if !info.Clipped || info.Skipped || info.Step != step+1 || info.LR != testCfg.LR.At(step) {
			t.Fatalf("step %d: %+v", step, info)
		}
		for i, p := range ref {
			g := make([]float64, len(p64[i]))
			for j, x := range p.Grad.F32() {
				g[j] = float64(x) * coef
			}
			c := kopt.AdamW{LR: testCfg.LR.At(step), Beta1: testCfg.Beta1, Beta2: testCfg.Beta2, Eps: testCfg.Eps}
			if p.Name == "a.weight" || p.Name == "b.weight" { // not the bias, not the 1-D norm weight
				c.WeightDecay = testCfg.WeightDecay
			}
			kopt.RefAdamWStep(p64[i], g, m64[i], v64[i], c, step+1)
		}
		// New gradients for the next step, the same on both sides.
		r := rand.New(rand.NewPCG(uint64(step), 9))
		for i, p := range ps {
			for j := range p.Grad.F32() {
				x := float32(r.NormFloat64())
				p.Grad.F32()[j], ref[i].Grad.F32()[j] = x, x
			}
		}
	}
	for i, p := range ps {
		for j, x := range p.Value.F32() {
			if d := math.Abs(float64(x) - p64[i][j]); d > 1e-6*math.Max(1, math.Abs(p64[i][j])) {
				t.Fatalf("%s[%d] = %v, float64 reference %v", p.Name, j, x, p64[i][j])
			}
		}
	}
	if ps[1].Value.F32()[0] == ref[1].Value.F32()[0] {
		t.Fatal("bias did not move")
	}
}

// TestSplitAcrossRanks: two optimizers over halves of the parameters, stepped with the
// norm summed from both, give the bits of one optimizer over all of them.
func TestSplitAcrossRanks(t *testing.T) {
	all := testParams(2)
	halves := clone(all)
	one, _ := New(cpu.New(), all, testCfg)
	r0, _ := New(cpu.New(), halves[:2], testCfg)
	r1, _ := New(cpu.New(), halves[2:], testCfg)
	for range 3 {
		sq, _ := one.SquaredNorm()
		s0, _ := r0.SquaredNorm()
		s1, _ := r1.SquaredNorm()
		if _, err := one.Step(math.Sqrt(sq)); err != nil {
			t.Fatal(err)
		}
		total := math.Sqrt(s0 + s1)
		if _, err := r0.Step(total); err != nil {
			t.Fatal(err)
		}
		if _, err := r1.Step(total); err != nil {
			t.Fatal(err)
		}
	}
	for i := range all {
		a, b := all[i].Value.F32(), halves[i].Value.F32()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%s[%d]: one rank %v, two ranks %v", all[i].Name, j, a[j], b[j])
			}
		}
	}
}

func TestNonFiniteNormSkips(t *testing.T) {
	ps := testParams(3)
	before := clone(ps)
	o, _ := New(cpu.New(), ps, testCfg)
	ps[0].Grad.F32()[3] = float32(math.Inf(1))
	sq, _ := o.SquaredNorm()
	for _, n := range []float64{math.Sqrt(sq), math.NaN()} {
		info, err := o.Step(n)
		if err != nil || !info.Skipped || o.Steps() != 0 {
			t.Fatalf("norm %v: %+v, %v, steps %d", n, info, err, o.Steps())
		}
	}
	for i := range ps {
		for j, x := range ps[i].Value.F32() {
			if x != before[i].Value.F32()[j] {
				t.Fatalf("%s changed on a skipped step", ps[i].Name)
			}
		}
	}
	state, _, _ := o.State()
	for n, m := range state {
		for _, x := range m.F32() {
			if x != 0 {
				t.Fatalf("moment %s changed on a skipped step", n)
			}
		}
	}
}

// TestStateResume: 2 steps, State, a fresh optimizer loads it, 2 more steps = 4 steps straight.
func TestStateResume(t *testing.T) {
	grads := func(ps []*stages.Param, step int) {
		r := rand.New(rand.NewPCG(uint64(step), 5))
		for _, p := range ps {
			for j := range p.Grad.F32() {
				p.Grad.F32()[j] = float32(r.NormFloat64())
			}
		}
	}
	run := func(o *AdamW, ps []*stages.Param, from, to int) {
		for s := from; s < to; s++ {
			grads(ps, s)
			sq, _ := o.SquaredNorm()
			if _, err := o.Step(math.Sqrt(sq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	straight := testParams(4)
	resumed := clone(straight)
	o, _ := New(cpu.New(), straight, testCfg)
	run(o, straight, 0, 4)

	o1, _ := New(cpu.New(), resumed, testCfg)
	run(o1, resumed, 0, 2)
	state, step, err := o1.State()
	if err != nil {
		t.Fatal(err)
	}
	o2, _ := New(cpu.New(), resumed, testCfg)
	if err := o2.LoadState(state, step); err != nil {
		t.Fatal(err)
	}
	run(o2, resumed, 2, 4)
	for i := range straight {
		for j, x := range straight[i].Value.F32() {
			if x != resumed[i].Value.F32()[j] {
				t.Fatalf("%s[%d]: straight %v, resumed %v", straight[i].Name, j, x, resumed[i].Value.F32()[j])
			}
		}
	}

	// Bad states name what is wrong and leave the optimizer untouched.
	bad := func(mod func(map[string]*tensors.Tensor), want string) {
		t.Helper()
		s := map[string]*tensors.Tensor{}
		for k, v := range state {
			s[k] = v
		}
		mod(s)
		o3, _ := New(cpu.New(), clone(resumed), testCfg)
		if err := o3.LoadState(s, 2); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
		if o3.Steps() != 0 {
			t.Error("failed LoadState changed the step")
		}
	}
	bad(func(s map[string]*tensors.Tensor) { delete(s, ExpAvgSq+"a.bias") }, "no exp_avg_sq.a.bias")
	bad(func(s map[string]*tensors.Tensor) { s[ExpAvg+"zzz"] = tensors.New(tensors.F32, 1) }, "exp_avg.zzz")
	bad(func(s map[string]*tensors.Tensor) { s[ExpAvg+"b.weight"] = tensors.New(tensors.F32, 4, 3) }, "want F32[3 4]")
}

func TestNewErrors(t *testing.T) {
	ps := testParams(5)
	if _, err := New(cpu.New(), append(ps, ps[0]), testCfg); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
	c := testCfg
	c.Beta2 = 1
	if _, err := New(cpu.New(), ps, c); err == nil {
		t.Error("beta2 = 1 accepted")
	}
	frozen := clone(ps)
	frozen[0].Trainable = false
	o, err := New(cpu.New(), frozen, testCfg)
	if err != nil || len(o.Params()) != len(ps)-1 {
		t.Errorf("frozen parameter: %v, %d params", err, len(o.Params()))
	}
}
