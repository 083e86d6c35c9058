package attention

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
)

type tcase struct {
	name        string
	T, H, K, Dh int
	causal      bool
	cu          []int32
	pad         func(t int) bool
}

func (c tcase) params() Params {
	p := Params{T: c.T, H: c.H, K: c.K, Dh: c.Dh, Causal: c.causal, CuSeqlens: c.cu}
	if c.pad != nil {
		p.KeyPad = make([]bool, c.T)
		for t := range c.T {
			p.KeyPad[t] = c.pad(t)
		}
	}
	return p
}

// maxSeg is the longest segment (the softmax reduction length).
func (c tcase) maxSeg() int {
	if c.cu == nil {
		return c.T
	}
	m := 0
	for i := 1; i < len(c.cu); i++ {
		m = max(m, int(c.cu[i]-c.cu[i-1]))
	}
	return m
}

var cases = []tcase{
	{name: "text-tiny", T: 150, H: 8, K: 2, Dh: 32, causal: true},
	{name: "text-tiny-bidir", T: 150, H: 8, K: 2, Dh: 32},
	{name: "mha-len1-segments", T: 200, H: 6, K: 6, Dh: 64, causal: true, cu: []int32{0, 1, 2, 70, 71, 200}},
	{name: "vision-dh80-empty-segment", T: 130, H: 6, K: 6, Dh: 80, cu: []int32{0, 50, 50, 130}},
	{name: "dh128-pad-causal", T: 130, H: 4, K: 1, Dh: 128, causal: true, cu: []int32{0, 40, 90, 130},
		pad: func(t int) bool { return t == 0 || (t >= 40 && t < 90) || t%7 == 3 }},
	{name: "dh128-pad-bidir", T: 100, H: 2, K: 2, Dh: 128, cu: []int32{0, 64, 100},
		pad: func(t int) bool { return t >= 64 || t%5 == 1 }},
	{name: "gqa3-dh16", T: 67, H: 6, K: 2, Dh: 16, causal: true, pad: func(t int) bool { return t > 60 }},
	{name: "single-token", T: 1, H: 2, K: 1, Dh: 8, causal: true},
	{name: "bidir-odd-and-even-segments", T: 9, H: 4, K: 2, Dh: 16, cu: []int32{0, 4, 9}},
	{name: "dh600-unpacked-rows", T: 40, H: 2, K: 1, Dh: 600, causal: true, cu: []int32{0, 25, 40}},
}

type inputs struct{ q, k, v, do []float32 }

func makeInputs(c tcase, seed uint64) inputs {
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	r := kerneltest.RNG(seed)
	return inputs{kerneltest.Normal(r, nq, 1), kerneltest.Normal(r, nk, 1), kerneltest.Normal(r, nk, 1), kerneltest.Normal(r, nq, 1)}
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		if !math.IsInf(v, 0) {
			m = max(m, math.Abs(v))
		}
	}
	return m
}

// runFwdBwd runs the fp32 kernels on poisoned outputs.
func runFwdBwd(t *testing.T, c tcase, in inputs) (o, lse, dq, dk, dv []float32) {
	t.Helper()
	p := c.params()
	p.BF16 = testBF16
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	o, lse = make([]float32, nq), make([]float32, c.H*c.T)
	dq, dk, dv = make([]float32, nq), make([]float32, nk), make([]float32, nk)
	for _, x := range [][]float32{o, lse, dq, dk, dv} {
		kerneltest.Poison(x)
	}
	if err := Forward(o, lse, in.q, in.k, in.v, p); err != nil {
		t.Fatal(err)
	}
	if err := Backward(dq, dk, dv, in.do, in.q, in.k, in.v, o, lse, p); err != nil {
		t.Fatal(err)
	}
	return
}

func TestVsReference(t *testing.T) { forEachPath(t, testVsReference) }

// TestVsReferenceSmallTiles runs the reference comparison with tiles much smaller than the
// sequences, so every case crosses many key tiles (online-softmax rescaling), many query blocks
// and unaligned query/key block grids.
func TestVsReferenceSmallTiles(t *testing.T) {
	for _, ts := range [][3]int{{16, 16, 32}, {24, 40, 8}, {1, 8, 8}} {
		t.Run(fmt.Sprintf("rows%d-bc%d-bcfwd%d", ts[0], ts[1], ts[2]), func(t *testing.T) {
			r, b, f := rowsTarget, bc, bcFwd
			rowsTarget, bc, bcFwd = ts[0], ts[1], ts[2]
			defer func() { rowsTarget, bc, bcFwd = r, b, f }()
			testVsReference(t)
		})
	}
}

// refOut is the float64 reference result of one case (computed once, shared by all paths).
type refOut struct{ o, lse, dq, dk, dv []float64 }

var refCache = map[string]*refOut{}

func reference(t *testing.T, c tcase, in inputs) *refOut {
	if r := refCache[c.name]; r != nil {
		return r
	}
	p := c.params()
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	r := &refOut{make([]float64, nq), make([]float64, c.H*c.T), make([]float64, nq), make([]float64, nk), make([]float64, nk)}
	q, k, v, do := kerneltest.F64(in.q), kerneltest.F64(in.k), kerneltest.F64(in.v), kerneltest.F64(in.do)
	if err := RefForward(r.o, r.lse, q, k, v, p); err != nil {
		t.Fatal(err)
	}
	if err := RefBackward(r.dq, r.dk, r.dv, do, q, k, v, p); err != nil {
		t.Fatal(err)
	}
	refCache[c.name] = r
	return r
}

func testVsReference(t *testing.T) {
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := makeInputs(c, uint64(i))
			o, lse, dq, dk, dv := runFwdBwd(t, c, in)
			r := reference(t, c, in)
			wo, wdq, wdk, wdv := r.o, r.dq, r.dk, r.dv
			wl := append([]float64(nil), r.lse...)
			q, k, v, do := kerneltest.F64(in.q), kerneltest.F64(in.k), kerneltest.F64(in.v), kerneltest.F64(in.do)
			// Reduction length n = softmax length + head dim; magnitudes from the reference.
			n := c.maxSeg() + c.Dh
			// dS = P ⊙ (dP − D) cancels, so dq, dk can be far below their terms: their magnitude
			// floor is scale·|do|·|v|·|k| (or |q|), the size of one term of dq (dk).
			sc := float64(1 / math.Sqrt(float64(c.Dh)))
			dsMag := sc * maxAbs(do) * maxAbs(v)
			tol := func(want []float64, c float64, floor float64) func(int) float64 {
				m := max(maxAbs(want), floor)
				if testBF16 {
					return func(int) float64 { return bf16Tol(c, n, m) }
				}
				return func(int) float64 { return kerneltest.Tol(c, n, kerneltest.Eps32, m, 1e-30) }
			}
			kerneltest.Close(t, "o", o, wo, tol(wo, 2, 0))
			for j, w := range wl {
				if math.IsInf(w, 1) != math.IsInf(float64(lse[j]), 1) {
					t.Fatalf("lse[%d] = %g, want %g", j, lse[j], w)
				}
				if math.IsInf(w, 1) {
					wl[j] = 0
					lse[j] = 0
				}
			}
			kerneltest.Close(t, "lse", lse, wl, tol(wl, 2, 0))
			kerneltest.Close(t, "dq", dq, wdq, tol(wdq, 4, dsMag*maxAbs(k)))
			kerneltest.Close(t, "dk", dk, wdk, tol(wdk, 4, dsMag*maxAbs(q)))
			kerneltest.Close(t, "dv", dv, wdv, tol(wdv, 4, 0))
			if testing.Verbose() {
				t.Logf("max rel err: o %.3g dq %.3g dk %.3g dv %.3g (units of n·eps·max)",
					relErr(o, wo, n), relErr(dq, wdq, n), relErr(dk, wdk, n), relErr(dv, wdv, n))
			}
		})
	}
}

func relErr(got []float32, want []float64, n int) float64 {
	m, e := maxAbs(want), 0.0
	for i := range got {
		e = max(e, math.Abs(float64(got[i])-want[i]))
	}
	if testBF16 {
		return e / (math.Sqrt(float64(n)) * epsBF16 * m)
	}
	return e / (float64(n) * kerneltest.Eps32 * m)
}

// TestMaskedRowsAreZero checks rows with no visible key: output 0, lse +Inf, gradients 0.
func TestMaskedRowsAreZero(t *testing.T) { forEachPath(t, testMaskedRowsAreZero) }

func testMaskedRowsAreZero(t *testing.T) {
	c := cases[4] // key 0 padded (query 0 sees nothing, causal), segment [40, 90) fully padded
	in := makeInputs(c, 99)
	o, lse, dq, dk, dv := runFwdBwd(t, c, in)
	for _, i := range []int{0, 40, 64, 89} {
		for h := range c.H {
			if !math.IsInf(float64(lse[h*c.T+i]), 1) {
				t.Errorf("lse[h=%d, t=%d] = %g, want +Inf", h, i, lse[h*c.T+i])
			}
			for d := range c.Dh {
				j := (i*c.H+h)*c.Dh + d
				if o[j] != 0 || dq[j] != 0 {
					t.Fatalf("row t=%d h=%d: o %g dq %g, want 0", i, h, o[j], dq[j])
				}
			}
		}
	}
	for j := 40 * c.K * c.Dh; j < 90*c.K*c.Dh; j++ {
		if dk[j] != 0 || dv[j] != 0 {
			t.Fatalf("padded key element %d: dk %g dv %g, want 0", j, dk[j], dv[j])
		}
	}
}

func TestGradCheckReference(t *testing.T) {
	for _, c := range []tcase{
		{name: "causal-gqa-pad", T: 7, H: 4, K: 2, Dh: 5, causal: true, cu: []int32{0, 4, 7}, pad: func(t int) bool { return t == 2 }},
		{name: "bidir", T: 6, H: 2, K: 1, Dh: 3, cu: []int32{0, 1, 6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.params()
			in := makeInputs(c, 5)
			q, k, v := kerneltest.F64(in.q), kerneltest.F64(in.k), kerneltest.F64(in.v)
			w := kerneltest.F64(in.do) // L = Σ o·w, so dL/do = w
			nq, nk := len(q), len(k)
			loss := func(q, k, v []float64) float64 {
				o, lse := make([]float64, nq), make([]float64, c.H*c.T)
				if err := RefForward(o, lse, q, k, v, p); err != nil {
					t.Fatal(err)
				}
				return kerneltest.Dot64(o, w)
			}
			dq, dk, dv := make([]float64, nq), make([]float64, nk), make([]float64, nk)
			if err := RefBackward(dq, dk, dv, w, q, k, v, p); err != nil {
				t.Fatal(err)
			}
			kerneltest.GradCheck(t, "dq", q, dq, func(x []float64) float64 { return loss(x, k, v) }, 1e-6, 1e-6, 1e-8, 0)
			kerneltest.GradCheck(t, "dk", k, dk, func(x []float64) float64 { return loss(q, x, v) }, 1e-6, 1e-6, 1e-8, 0)
			kerneltest.GradCheck(t, "dv", v, dv, func(x []float64) float64 { return loss(q, k, x) }, 1e-6, 1e-6, 1e-8, 0)
		})
	}
}

// TestSchedulesAgree: the one-pass and two-pass backward schedules (chosen by thread count)
// give bit-identical gradients, with small tiles so tiles cross the diagonal, padding and
// segment ends in many ways.
func TestSchedulesAgree(t *testing.T) { forEachPath(t, testSchedulesAgree) }

func testSchedulesAgree(t *testing.T) {
	r, b, f := rowsTarget, bc, bcFwd
	rowsTarget, bc, bcFwd = 24, 40, 56
	defer func() { rowsTarget, bc, bcFwd, schedule = r, b, f, schedAuto }()
	for i, c := range cases {
		in := makeInputs(c, uint64(50+i))
		var ref [][]float32
		for _, sc := range []int{schedSingle, schedTwo} {
			schedule = sc
			o, lse, dq, dk, dv := runFwdBwd(t, c, in)
			got := [][]float32{o, lse, dq, dk, dv}
			if ref == nil {
				ref = got
				continue
			}
			for a := range got {
				for i := range got[a] {
					if math.Float32bits(got[a][i]) != math.Float32bits(ref[a][i]) {
						t.Fatalf("%s: output %d element %d differs between schedules: %g vs %g", c.name, a, i, got[a][i], ref[a][i])
					}
				}
			}
		}
	}
}

// TestThreadCountInvariant: every output is bit-identical for 1, 2 and 3 workers.
func TestThreadCountInvariant(t *testing.T) { forEachPath(t, testThreadCountInvariant) }

func testThreadCountInvariant(t *testing.T) {
	c := tcase{T: 300, H: 4, K: 2, Dh: 64, causal: true, cu: []int32{0, 1, 150, 300}, pad: func(t int) bool { return t%11 == 0 }}
	checkThreadCountInvariant(t, c, makeInputs(c, 3))
}

// checkThreadCountInvariant fails unless runFwdBwd gives the same bits for 1, 2 and 3 threads.
func checkThreadCountInvariant(t *testing.T, c tcase, in inputs) {
	t.Helper()
	var ref [][]float32
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		o, lse, dq, dk, dv := runFwdBwd(t, c, in)
		runtime.GOMAXPROCS(old)
		got := [][]float32{o, lse, dq, dk, dv}
		if ref == nil {
			ref = got
			continue
		}
		sameBits(t, fmt.Sprintf("GOMAXPROCS=%d", procs), got, ref)
	}
}

// sameBits fails unless every output of got has want's float32 bits.
func sameBits(t *testing.T, what string, got, want [][]float32) {
	t.Helper()
	for a := range got {
		for i := range got[a] {
			if math.Float32bits(got[a][i]) != math.Float32bits(want[a][i]) {
				t.Fatalf("%s: output %d element %d differs: %g vs %g", what, a, i, got[a][i], want[a][i])
			}
		}
	}
}

func TestErrors(t *testing.T) {
	ok := Params{T: 4, H: 2, K: 1, Dh: 8}
	nq, nk := 4*2*8, 4*1*8
	q, k, o, lse := make([]float32, nq), make([]float32, nk), make([]float32, nq), make([]float32, 8)
	bad := []Params{
		{T: 4, H: 3, K: 2, Dh: 8},
		{T: 4, H: 2, K: 1, Dh: 0},
		{T: 4, H: 2, K: 1, Dh: 8, CuSeqlens: []int32{0, 3}},
		{T: 4, H: 2, K: 1, Dh: 8, CuSeqlens: []int32{0, 3, 2, 4}},
		{T: 4, H: 2, K: 1, Dh: 8, CuSeqlens: []int32{1, 4}},
		{T: 4, H: 2, K: 1, Dh: 8, KeyPad: make([]bool, 3)},
		{T: 4, H: 2, K: 1, Dh: 8, Scale: float32(math.NaN())},
	}
	for i, p := range bad {
		if err := Forward(o, lse, q, k, k, p); err == nil {
			t.Errorf("case %d: Forward accepted %+v", i, p)
		}
		if err := Backward(q, k, k, q, q, k, k, o, lse, p); err == nil {
			t.Errorf("case %d: Backward accepted %+v", i, p)
		}
	}
	if err := Forward(o, lse[:7], q, k, k, ok); err == nil {
		t.Error("short lse accepted")
	}
	if err := Backward(q, k[:3], k, q, q, k, k, o, lse, ok); err == nil {
		t.Error("short dk accepted")
	}
	if err := Forward(o, lse, q, k, k, ok); err != nil {
		t.Error(err)
	}
	empty := Params{T: 0, H: 2, K: 1, Dh: 8}
	if err := Forward(nil, nil, nil, nil, nil, empty); err != nil {
		t.Error(err)
	}
	if err := Backward(nil, nil, nil, nil, nil, nil, nil, nil, nil, empty); err != nil {
		t.Error(err)
	}
}

func ExampleForward() {
	// Two packed sequences of 3 and 2 tokens, 2 query heads sharing 1 kv head, causal.
	p := Params{T: 5, H: 2, K: 1, Dh: 4, Causal: true, CuSeqlens: []int32{0, 3, 5}}
	q, k, v := make([]float32, 5*2*4), make([]float32, 5*1*4), make([]float32, 5*1*4)
	for i := range v {
		v[i] = float32(i / 4) // value row t is all t
	}
	o, lse := make([]float32, len(q)), make([]float32, 2*5)
	if err := Forward(o, lse, q, k, v, p); err != nil {
		panic(err)
	}
	// Equal scores: each query averages the values it can see.
	fmt.Println(o[0], o[2*4*2], o[3*2*4], o[4*2*4])
	// Output: 0 1 3 3.5
}
