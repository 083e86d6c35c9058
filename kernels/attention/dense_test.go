package attention

import (
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	simdpath "github.com/glmflow/glmflow/kernels/internal/simd"
	"github.com/glmflow/glmflow/tensors"
)

// withDense runs f with the dense-path selection forced to mode.
func withDense(mode int, f func(t *testing.T)) func(t *testing.T) {
	return func(t *testing.T) {
		prev := denseMode
		denseMode = mode
		defer func() { denseMode = prev }()
		f(t)
	}
}

// TestDenseVsReference compares the BF16 dense path (every bidirectional case, forced on
// whatever the segment length) and the BF16 flash path on the same cases (dense forced off)
// with the float64 reference, on every path, the VDPBF16PS gemm path included. Causal cases
// take the flash path either way.
func TestDenseVsReference(t *testing.T) {
	testBF16 = true
	defer func() { testBF16 = false }()
	t.Run("dense", withDense(denseAlways, func(t *testing.T) {
		forEachPath(t, testVsReference)
		forEachPath(t, testMaskedRowsAreZero)
		avx512BF16(t, testVsReference)
	}))
	t.Run("flash", withDense(denseNever, func(t *testing.T) { avx512BF16(t, testVsReference) }))
}

// avx512BF16 runs f as subtest "avx512-bf16" with the VDPBF16PS gemm path forced.
func avx512BF16(t *testing.T, f func(t *testing.T)) {
	t.Run("avx512-bf16", func(t *testing.T) {
		if !gemm.Available(gemm.PathAVX512BF16) || !available(pathAVX512) {
			t.Skip("no AVX512_BF16 on this CPU/build")
		}
		prevGemm, prevOwn := gemm.ForcePath(gemm.PathAVX512BF16), path
		path = pathAVX512
		defer func() { gemm.ForcePath(prevGemm); path = prevOwn }()
		f(t)
	})
}

// TestDenseSelection: the dense path is taken for BF16 bidirectional calls whose segments are
// all at most denseMaxL long, and never for float32, causal or longer segments.
func TestDenseSelection(t *testing.T) {
	for _, c := range []struct {
		p    Params
		want bool
	}{
		{Params{T: 512, H: 1, K: 1, Dh: 8, BF16: true, CuSeqlens: []int32{0, 256, 512}}, true},
		{Params{T: 512, H: 1, K: 1, Dh: 8, CuSeqlens: []int32{0, 256, 512}}, false},
		{Params{T: 512, H: 1, K: 1, Dh: 8, BF16: true, Causal: true}, false},
		{Params{T: denseMaxL + 1, H: 1, K: 1, Dh: 8, BF16: true}, false},
		{Params{T: denseMaxL + 1, H: 1, K: 1, Dh: 8, BF16: true, CuSeqlens: []int32{0, 1, int32(denseMaxL + 1)}}, true},
	} {
		pl, err := newPlan("test", c.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := pl.dense(); got != c.want {
			t.Errorf("T=%d BF16=%v causal=%v cu=%v: dense() = %v, want %v", c.p.T, c.p.BF16, c.p.Causal, c.p.CuSeqlens, got, c.want)
		}
	}
}

// TestDenseThreadCountInvariant: the dense path's outputs are bit-identical for 1, 2 and 3
// workers (GQA, padding, an empty and a one-token segment).
func TestDenseThreadCountInvariant(t *testing.T) {
	testBF16 = true
	defer func() { testBF16 = false }()
	c := tcase{T: 300, H: 4, K: 2, Dh: 64, cu: []int32{0, 1, 1, 150, 300}, pad: func(t int) bool { return t%11 == 0 }}
	checkThreadCountInvariant(t, c, makeInputs(c, 4))
}

// TestDenseFreshScratch: segments of even length below an odd longest one (whose bf16 rows use
// different strides) run on a freshly sized scratch, forward and backward.
func TestDenseFreshScratch(t *testing.T) {
	prev := denseMode
	denseMode = denseAlways
	defer func() { denseMode = prev }()
	for _, cu := range [][]int32{{0, 4, 9}, {0, 2, 3}, {0, 520, 1033}} {
		T := int(cu[len(cu)-1])
		c := tcase{name: "fresh", T: T, H: 2, K: 1, Dh: 16, cu: cu}
		denseScratches = sync.Pool{} // no larger scratch left from another test
		p := c.params()
		p.BF16 = true
		in := makeInputs(c, 5)
		o, lse := make([]float32, T*2*16), make([]float32, 2*T)
		dq, dk, dv := make([]float32, T*2*16), make([]float32, T*16), make([]float32, T*16)
		if err := Forward(o, lse, in.q, in.k, in.v, p); err != nil {
			t.Fatal(err)
		}
		if err := Backward(dq, dk, dv, in.do, in.q, in.k, in.v, o, lse, p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFusedRows: the one-pass row kernels of the dense path give the bits of the steps they
// replace (expSum or expSubRow and dsSubRow, then tensors.F32ToBF16), including rows with
// masked scores (−Inf) and fully masked queries (lse = +Inf).
func TestFusedRows(t *testing.T) {
	if path != pathAVX512 {
		t.Skip("the fused rows run on the AVX-512 path only")
	}
	defer func(c int) { cvt16 = c }(cvt16)
	r := kerneltest.RNG(77)
	for _, n := range []int{16, 48, 256} {
		st := kerneltest.Normal(r, n, 4)
		dpt := kerneltest.Normal(r, n, 1)
		lse := kerneltest.Normal(r, n, 2)
		d := kerneltest.Normal(r, n, 1)
		st[3], lse[5], st[7] = negInf, posInf, 80
		// Backward row, with either rounding.
		pr, dr := slices.Clone(st), slices.Clone(dpt)
		expSubRow(pr, lse)
		dsSubRow(pr, dr, d)
		w16, wd16 := make([]uint16, n), make([]uint16, n)
		tensors.F32ToBF16(w16, pr)
		tensors.F32ToBF16(wd16, dr)
		for _, cvt := range cvtModes() {
			p16, ds16 := make([]uint16, n), make([]uint16, n)
			cvt16 = cvt
			if !probsDSRow16(slices.Clone(st), slices.Clone(dpt), lse, d, p16, ds16) {
				t.Fatal("fused backward row not taken")
			}
			if !slices.Equal(p16, w16) || !slices.Equal(ds16, wd16) {
				t.Errorf("n=%d cvt=%d: fused backward row differs from the separate steps", n, cvt)
			}
		}
		// Forward row.
		row := slices.Clone(st)
		row[5] = 1
		m := rowMax(row)
		want := slices.Clone(row)
		wsum := expSum(want, m)
		tensors.F32ToBF16(w16, want)
		for _, cvt := range cvtModes() {
			cvt16 = cvt
			got16 := make([]uint16, n)
			sum, ok := expSumRow16(row, m, got16)
			if !ok {
				t.Fatal("fused forward row not taken")
			}
			if math.Float32bits(sum) != math.Float32bits(wsum) || !slices.Equal(got16, w16) {
				t.Errorf("n=%d cvt=%d: fused forward row differs: sum %g vs %g", n, cvt, sum, wsum)
			}
		}
	}
}

// cvtModes are the probsDS16AVX512 roundings this CPU runs: ROUND16, and VCVTNEPS2BF16 with
// AVX512_BF16.
func cvtModes() []int {
	if simdpath.BF16() {
		return []int{0, 1}
	}
	return []int{0}
}

// TestFusedRowsCvtEdges: VCVTNEPS2BF16 rounding in the fused backward row gives ±0 where
// the probabilities or dS are float32 denormals and a NaN where they are NaN; every other
// value has the bits of tensors.F32ToBF16.
func TestFusedRowsCvtEdges(t *testing.T) {
	if path != pathAVX512 || !simdpath.BF16() {
		t.Skip("needs AVX-512 with AVX512_BF16")
	}
	defer func(c int) { cvt16 = c }(cvt16)
	cvt16 = 1
	const n = 64
	r := kerneltest.RNG(78)
	st, dpt := kerneltest.Normal(r, n, 1), kerneltest.Normal(r, n, 1)
	lse, d := make([]float32, n), make([]float32, n)
	for i := range n {
		switch i % 4 {
		case 0: // P = e^(−95.5 + …): float32 denormal
			lse[i] = 95.5 + float32(i)/64
		case 1: // P tiny, dS denormal
			lse[i], dpt[i] = 80, 1e-6
		case 2:
			dpt[i] = float32(math.NaN())
		}
	}
	p16, ds16 := make([]uint16, n), make([]uint16, n)
	if !probsDSRow16(slices.Clone(st), slices.Clone(dpt), lse, d, p16, ds16) {
		t.Fatal("fused backward row not taken")
	}
	pr, dr := slices.Clone(st), slices.Clone(dpt)
	expSubRow(pr, lse)
	dsSubRow(pr, dr, d)
	denormals := 0
	for _, c := range []struct {
		name string
		got  []uint16
		ref  []float32
	}{{"P", p16, pr}, {"dS", ds16, dr}} {
		want := make([]uint16, n)
		tensors.F32ToBF16(want, c.ref)
		for i, x := range c.ref {
			bits := math.Float32bits(x)
			switch {
			case x != x:
				if g := c.got[i]; g&0x7f80 != 0x7f80 || g&0x7f == 0 {
					t.Errorf("%s[%d]: NaN became %#04x", c.name, i, g)
				}
			case x != 0 && bits&0x7f800000 == 0:
				denormals++
				if c.got[i] != uint16(bits>>16)&0x8000 {
					t.Errorf("%s[%d] = %g (denormal): got %#04x, want ±0", c.name, i, x, c.got[i])
				}
			case c.got[i] != want[i]:
				t.Errorf("%s[%d] = %g: got %#04x, F32ToBF16 gives %#04x", c.name, i, x, c.got[i], want[i])
			}
		}
	}
	if denormals == 0 {
		t.Fatal("no denormal case was exercised")
	}
}
