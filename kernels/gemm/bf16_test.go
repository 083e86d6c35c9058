package gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// Tests of SgemmBF16 and SgemmBF16Round on every path: the VDPBF16PS kernels
// (PathAVX512BF16) and the widening fallback on the float32 paths. The reference is the
// float64 product of the bf16 values with the float32 bound of ref_test.go (k roundings).

// forEachBF16Path runs f on every path, PathAVX512BF16 included, skipping unavailable ones.
func forEachBF16Path(t *testing.T, f func(t *testing.T)) {
	for _, p := range []Path{PathGeneric, PathAVX2, PathAVX512, PathAVX512BF16} {
		t.Run(p.String(), func(t *testing.T) {
			if !Available(p) {
				t.Skipf("path %v: CPU/OS lacks the instructions (AVX512_BF16 for avx512bf16)", p)
			}
			prev := ForcePath(p)
			defer ForcePath(prev)
			f(t)
		})
	}
}

// newCase16 is newCase with A and B rounded to bf16 (g.a16, g.b16); g.a and g.b hold the
// rounded values for the reference and g.aF32 the unrounded A for SgemmBF16Round.
func newCase16(r *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int) *gemmCase {
	g := newCase(r, transA, transB, m, n, k, alpha, beta, pad, true)
	g.aF32 = slices.Clone(g.a)
	g.a16 = make([]uint16, len(g.a))
	tensors.F32ToBF16(g.a16, g.a)
	tensors.BF16ToF32(g.a, g.a16)
	return g
}

func callBF16(g *gemmCase, c []float32) {
	SgemmBF16(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a16, g.lda, g.b16, g.ldb, g.beta, c, g.ldc)
}

func callBF16Round(g *gemmCase, c []float32) {
	SgemmBF16Round(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.aF32, g.lda, g.b16, g.ldb, g.beta, c, g.ldc)
}

func callBF16Serial(g *gemmCase, c []float32) {
	SgemmBF16Serial(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a16, g.lda, g.b16, g.ldb, g.beta, c, g.ldc)
}

func callBF16RoundSerial(g *gemmCase, c []float32) {
	SgemmBF16RoundSerial(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.aF32, g.lda, g.b16, g.ldb, g.beta, c, g.ldc)
}

var bf16Calls = []struct {
	name string
	call func(g *gemmCase, c []float32)
}{{"bf16", callBF16}, {"round", callBF16Round}, {"serial", callBF16Serial}, {"round-serial", callBF16RoundSerial}}

func TestSgemmBF16(t *testing.T) {
	withThreads(t, 2, true)
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(11)
		// The fallback paths run the float32 kernels TestSgemm covers; only their bf16
		// packing is new, so they get one alpha/beta per shape instead of all three.
		dot := CurrentPath() == PathAVX512BF16
		for _, tr := range transposes {
			for si, sh := range shapes(testing.Short()) {
				for ai, ab := range alphaBetas {
					if !dot && ai != si%len(alphaBetas) {
						continue
					}
					for i, pad := range []int{0, 3, 1, 2} {
						g := newCase16(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], ab.alpha, ab.beta, pad)
						g.run(t, bf16Calls[i].call)
					}
				}
			}
		}
	})
}

// TestBF16Odd covers odd leading dimensions and odd k with every call (the NT pair
// transpose has an aligned fast path for even ldb only).
func TestBF16Odd(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(12)
		for _, tr := range transposes {
			for _, sh := range [][3]int{{7, 70, 1}, {13, 130, 3}, {19, 67, 17}, {20, 64, 33}, {9, 200, 513}} {
				for _, pad := range []int{0, 1, 2} {
					for _, c := range bf16Calls {
						g := newCase16(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], 1.5, -0.5, pad)
						g.run(t, c.call)
					}
				}
			}
		}
	})
}

// TestBF16TileEdges walks every kernel variant with odd and even k.
func TestBF16TileEdges(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(13)
		ns := []int{1, 5, 15, 16, 17, 31, 32, 33, 48, 49, 63, 64, 65, 129}
		for _, tr := range transposes {
			for m := 1; m <= 13; m++ {
				for _, n := range ns {
					g := newCase16(r, tr.ta, tr.tb, m, n, 9+m%2, 1.5, 0.5, 1)
					g.run(t, bf16Calls[m%2].call)
				}
			}
		}
	})
}

func TestBF16Degenerate(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(14)
		for _, tr := range transposes {
			for _, ab := range append(alphaBetas, struct{ alpha, beta float32 }{0, 2}, struct{ alpha, beta float32 }{0, 0}) {
				for _, k := range []int{0, 1, 2} {
					for _, c := range bf16Calls {
						g := newCase16(r, tr.ta, tr.tb, 9, 70, k, ab.alpha, ab.beta, 2)
						g.run(t, c.call)
					}
				}
			}
			SgemmBF16(tr.ta, tr.tb, 0, 5, 3, 1, make([]uint16, 64), 5, make([]uint16, 64), 5, 0, nil, 5)
			SgemmBF16Round(tr.ta, tr.tb, 5, 0, 3, 1, make([]float32, 64), 5, make([]uint16, 64), 5, 0, nil, 1)
			SgemmBF16(tr.ta, tr.tb, 3, 3, 0, 1, nil, 3, nil, 3, 0, make([]float32, 9), 3)
		}
	})
}

// TestBF16Determinism: bit-identical C for 1, 2 and 4 threads, and SgemmBF16Round equal to
// SgemmBF16 on the pre-rounded A.
func TestBF16Determinism(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(15)
		sizes := [][3]int{{197, 301, 1100}, {64, 700, 97}}
		if CurrentPath() != PathAVX512BF16 {
			sizes = [][3]int{{61, 300, 1100}, {64, 200, 97}} // the float32 kernels: see TestDeterminism
		}
		for _, tr := range transposes {
			for _, sh := range sizes {
				g := newCase16(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], 0.75, -0.5, 1)
				var first []float32
				for _, th := range []int{1, 2, 4} {
					for _, c := range bf16Calls {
						withThreads(t, th, true)
						got := slices.Clone(g.c)
						c.call(g, got)
						if first == nil {
							first = got
							continue
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
								t.Fatalf("%v %s threads=%d: differs from bf16 threads=1 at %d: %v vs %v", g, c.name, th, i, got[i], first[i])
							}
						}
					}
				}
			}
		}
	})
}

// TestBF16RoundSemantics: SgemmBF16Round rounds A exactly like tensors.F32ToBF16, including
// ties, values that round up to the next binade or to ±Inf, and NaN (which must reach C).
func TestBF16RoundSemantics(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rng(16)
		special := []float32{1 + 1.0/256, 1 + 3.0/256, -(1 + 1.0/256), 0x1.ffffp0, math.MaxFloat32, -math.MaxFloat32,
			float32(math.Inf(1)), 1.00390625, 0x1.01p-3, 1e-40}
		for _, tr := range transposes {
			m, n, k := 13, 70, 37
			g := newCase16(r, tr.ta, tr.tb, m, n, k, 1, 0.5, 1)
			for i := range g.aF32 {
				if !math.IsNaN(float64(g.aF32[i])) && i%3 == 0 {
					g.aF32[i] = special[i%len(special)]
				}
			}
			a16 := make([]uint16, len(g.aF32))
			for i, f := range g.aF32 {
				a16[i] = tensors.BF16FromF32(f)
			}
			want, got := slices.Clone(g.c), slices.Clone(g.c)
			SgemmBF16(tr.ta, tr.tb, m, n, k, 1, a16, g.lda, g.b16, g.ldb, 0.5, want, g.ldc)
			callBF16Round(g, got)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%v: SgemmBF16Round differs from SgemmBF16 on rounded A at %d: %v vs %v", g, i, got[i], want[i])
				}
			}
			// A NaN in A row 3 (column 5 of op(A)) makes C row 3 NaN.
			idx := 3*g.lda + 5
			if tr.ta {
				idx = 5*g.lda + 3
			}
			g.aF32[idx] = float32(math.NaN())
			callBF16Round(g, got)
			for j := 0; j < n; j++ {
				if v := got[3*g.ldc+j]; v == v {
					t.Fatalf("%v: NaN in A did not reach C[3,%d] = %v", g, j, v)
				}
			}
		}
	})
}

// emulateDot is what PathAVX512BF16 computes for C = op(A)·op(B) with alpha = 1, beta = 0
// (see bf16.go): per k pass, per pair, acc += a_odd·b_odd then += a_even·b_even, rounded
// to float32 each time (products of bf16 values are exact), passes added through C.
func emulateDot(g *gemmCase, i, j int) float32 {
	at := func(p int) float32 {
		if g.transA {
			return g.a[p*g.lda+i]
		}
		return g.a[i*g.lda+p]
	}
	bt := func(p int) float32 {
		if g.transB {
			return g.b[j*g.ldb+p]
		}
		return g.b[p*g.ldb+j]
	}
	kc := kBlock(g.k)
	var c float32
	for pc := 0; pc < g.k; pc += kc {
		var acc float32
		for p := pc; p < min(pc+kc, g.k); p += 2 {
			if p+1 < min(pc+kc, g.k) {
				acc = float32(acc + float32(at(p+1)*bt(p+1)))
			}
			acc = float32(acc + float32(at(p)*bt(p)))
		}
		if pc == 0 {
			c = acc
		} else {
			c = float32(c + acc)
		}
	}
	return c
}

// TestBF16DotEmulation pins down the VDPBF16PS arithmetic on this CPU: the kernel result
// must equal emulateDot bit for bit (Intel's definition: odd element first, two roundings
// per pair). A kernel that fused the pair or swapped the order fails on some elements.
func TestBF16DotEmulation(t *testing.T) {
	if !Available(PathAVX512BF16) {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	defer ForcePath(ForcePath(PathAVX512BF16))
	r := rng(17)
	for _, tr := range transposes {
		for _, k := range []int{2, 37, 64, 1100} {
			g := newCase16(r, tr.ta, tr.tb, 14, 67, k, 1, 0, 1)
			c := slices.Clone(g.c)
			callBF16(g, c)
			for i := 0; i < g.m; i++ {
				for j := 0; j < g.n; j++ {
					if got, want := c[i*g.ldc+j], emulateDot(g, i, j); math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%v: C[%d,%d] = %v (%#x), emulation %v (%#x)", g, i, j, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

// TestBF16Denormals documents DAZ/FTZ: bf16 denormal inputs and products below 2⁻¹²⁶
// vanish on PathAVX512BF16 and are kept by the float32 fallback; both stay within the
// documented absolute bound 2⁻¹²⁶·(k + Σ(|a|+|b|)) of the exact result.
func TestBF16Denormals(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		const m, n, k = 3, 20, 11
		tiny := tensors.BF16FromF32(0x1p-130) // bf16 denormal
		small := tensors.BF16FromF32(0x1p-70) // normal; small·small = 2⁻¹⁴⁰ is a float32 denormal
		two := tensors.BF16FromF32(2)
		for _, cs := range []struct {
			name   string
			av, bv uint16
			exact  float64
		}{
			{"denormal input", tiny, two, k * 0x1p-129},
			{"denormal product", small, small, k * 0x1p-140},
		} {
			a, b := make([]uint16, m*k), make([]uint16, k*n)
			for i := range a {
				a[i] = cs.av
			}
			for i := range b {
				b[i] = cs.bv
			}
			c := make([]float32, m*n)
			SgemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			bound := 0x1p-126 * (k + k*(float64(bf16(cs.av))+float64(bf16(cs.bv))))
			for i, v := range c {
				if math.Abs(float64(v)-cs.exact) > bound {
					t.Fatalf("%s: C[%d] = %g, exact %g, beyond bound %g", cs.name, i, v, cs.exact, bound)
				}
				if CurrentPath() == PathAVX512BF16 && v != 0 {
					t.Fatalf("%s: C[%d] = %g, VDPBF16PS should flush to 0 (DAZ/FTZ)", cs.name, i, v)
				}
			}
			t.Logf("%s: C[0] = %g (exact %g)", cs.name, c[0], cs.exact)
		}
	})
}

func TestBF16Panics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a, b, c := make([]uint16, 12), make([]uint16, 12), make([]float32, 12)
	mustPanic("short a", func() { SgemmBF16(false, false, 4, 3, 4, 1, a, 4, b, 3, 0, c, 3) })
	mustPanic("short b", func() { SgemmBF16(false, true, 3, 4, 4, 1, a, 4, b, 4, 0, c, 4) })
	mustPanic("short a (round)", func() { SgemmBF16Round(false, false, 4, 3, 4, 1, make([]float32, 12), 4, b, 3, 0, c, 3) })
	mustPanic("lda < k", func() { SgemmBF16(false, false, 2, 2, 4, 1, a, 3, b, 2, 0, c, 2) })
}

// TestBF16LoopOrders checks both loop nests of runDot bit for bit against the emulation: A
// blocks outer (several B blocks, bBlock16 shrunk) and B blocks outer (m > mcMax rows in one
// task), several k passes included.
func TestBF16LoopOrders(t *testing.T) {
	if !Available(PathAVX512BF16) {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	defer ForcePath(ForcePath(PathAVX512BF16))
	withThreads(t, 1, true)
	r := rng(19)
	for _, tc := range []struct{ m, n, k, bBlock int }{
		{mcMax + 76, 150, 70, bBlock16},          // 2 A blocks, 1 B block: B outer
		{mcMax + 76, 150, 70, 71 * 64 * 2},       // 2 A blocks, 2 B blocks (64-wide): A outer
		{mcMax + 6, 150, 70, 71 * 64 * 2},        // ... with a short last A block
		{mcMax + 10, 20, 1100, bBlock16},         // B outer over 3 k passes
		{30, 300, 1100, (kBlock(1100) + 1) * 64}, // A outer, 5 B blocks, 3 k passes
	} {
		prev := bBlock16
		bBlock16 = tc.bBlock
		for _, tr := range transposes {
			g := newCase16(r, tr.ta, tr.tb, tc.m, tc.n, tc.k, 1, 0, 1)
			for _, c := range bf16Calls {
				got := slices.Clone(g.c)
				c.call(g, got)
				for i := 0; i < g.m; i++ {
					for j := 0; j < g.n; j++ {
						if got, want := got[i*g.ldc+j], emulateDot(g, i, j); math.Float32bits(got) != math.Float32bits(want) {
							bBlock16 = prev
							t.Fatalf("%v %s bBlock16=%d: C[%d,%d] = %v, emulation %v", g, c.name, tc.bBlock, i, j, got, want)
						}
					}
				}
			}
		}
		bBlock16 = prev
	}
}

// TestBF16InPlaceA: a row-major bf16 A with even k is read in place at any lda (on
// PathAVX512BF16; packed on the others) and must give the bits of the packed panels, which
// SgemmBF16Round always uses (its A is already bf16-exact, so rounding changes nothing).
// Rows sit at lda = k, odd lda (rows not 4-byte aligned), PackedLD16 and a 4 KiB stride,
// with NaN between rows that must never be read; k covers one and several k passes, and odd
// k (packed on every path).
func TestBF16InPlaceA(t *testing.T) {
	forEachBF16Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(31, 32))
		for _, sh := range [][3]int{{256, 64, 256}, {43, 70, 128}, {7, 64, 2}, {1030, 96, 512}, {50, 64, 255}, {20, 33, 530}, {13, 130, 1152}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, lda := range []int{k, k + 1, PackedLD16, 2048} {
				if lda < k {
					continue
				}
				for _, beta := range []float32{0, 0.5} {
					g := newCase16(r, false, false, m, n, k, 0.75, beta, 0)
					wide := make([]uint16, (m-1)*lda+k)
					wide32 := make([]float32, len(wide))
					for i := range wide {
						wide[i] = 0x7fc1 // NaN bits between rows
					}
					for i := range m {
						copy(wide[i*lda:i*lda+k], g.a16[i*g.lda:i*g.lda+k])
					}
					tensors.BF16ToF32(wide32, wide)
					want, got, ser := slices.Clone(g.c), slices.Clone(g.c), slices.Clone(g.c)
					SgemmBF16Round(false, false, m, n, k, g.alpha, wide32, lda, g.b16, g.ldb, beta, want, g.ldc)
					SgemmBF16(false, false, m, n, k, g.alpha, wide, lda, g.b16, g.ldb, beta, got, g.ldc)
					SgemmBF16Serial(false, false, m, n, k, g.alpha, wide, lda, g.b16, g.ldb, beta, ser, g.ldc)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) || math.Float32bits(want[i]) != math.Float32bits(ser[i]) {
							t.Fatalf("m=%d n=%d k=%d lda=%d beta=%v: C[%d] = %g (serial %g) in place, %g packed", m, n, k, lda, beta, i, got[i], ser[i], want[i])
						}
					}
				}
			}
		}
	})
}
