package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Test helpers: operands with NaN in their padding (so a kernel that reads past a row is
// caught), a float64 reference GEMM, and a rounding-error bound.
//
// Error bound. Each C element is a k-term fp32 dot product (one rounding per FMA), scaled by
// alpha and combined with beta·C (two more roundings). The classic bound for a recursive
// k-term sum is γ_k·Σ|a||b| with γ_k ≈ k·u, u = 2⁻²⁴ the fp32 unit roundoff, so we allow
//
//	|c − ref| ≤ c0·(k+2)·u·(|alpha|·Σ_p |a_ip||b_pj| + |beta·c_ij|) + 1e-30,   c0 = 2.
//
// It is a worst-case bound (real errors are ~√k smaller), yet still fails on any missing,
// doubled or misplaced product for the sizes tested here (k ≤ ~2000: one term is worth more
// than the bound).

const eps32 = 1.0 / (1 << 24)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(0x676c6d, seed)) }

// randMat returns a rows×cols matrix with leading dimension ld: values in [-1, 1), NaN in
// the padding columns.
func randMat(r *rand.Rand, rows, cols, ld int) []float32 {
	s := make([]float32, max(extent(rows, cols, ld), 0))
	for i := range s {
		if i%ld < cols {
			s[i] = float32(2*r.Float64() - 1)
		} else {
			s[i] = float32(math.NaN())
		}
	}
	return s
}

// toBF16 rounds x to bfloat16 bits (round to nearest even); NaN stays NaN.
func toBF16(x float32) uint16 {
	u := math.Float32bits(x)
	if x != x {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// gemmCase is one call's arguments plus the reference result and bound.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	b16            []uint16
	a16            []uint16  // bf16 A (bf16_test.go); a then holds its values
	aF32           []float32 // A before rounding, for SgemmBF16Round
	lda, ldb, ldc  int
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
		g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc)
}

// newCase makes random operands; pad > 0 adds that many padding columns to every matrix.
// When beta == 0 C is poisoned with NaN; C's padding always holds a sentinel.
func newCase(r *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int, bf16B bool) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = max(ac, 1)+pad, max(bc, 1)+pad, max(n, 1)+pad
	g.a = randMat(r, ar, ac, g.lda)
	g.b = randMat(r, br, bc, g.ldb)
	if bf16B {
		g.b16 = make([]uint16, len(g.b))
		for i, v := range g.b {
			g.b16[i] = toBF16(v)
			g.b[i] = bf16(g.b16[i]) // the reference uses the rounded values
		}
	}
	g.c = randMat(r, m, n, g.ldc)
	for i := range g.c {
		switch {
		case i%g.ldc >= n:
			g.c[i] = sentinel
		case beta == 0:
			g.c[i] = float32(math.NaN())
		}
	}
	return g
}

const sentinel = 12345.5

// ref returns the float64 reference and per-element error bound for C (read before the call).
func (g *gemmCase) ref() (want, bound []float64) {
	// Dense float64 copies of op(A) [m,k] and op(B) [k,n], then an i-p-j loop.
	A := make([]float64, g.m*g.k)
	for i := 0; i < g.m; i++ {
		for p := 0; p < g.k; p++ {
			if g.transA {
				A[i*g.k+p] = float64(g.a[p*g.lda+i])
			} else {
				A[i*g.k+p] = float64(g.a[i*g.lda+p])
			}
		}
	}
	B := make([]float64, g.k*g.n)
	for p := 0; p < g.k; p++ {
		for j := 0; j < g.n; j++ {
			if g.transB {
				B[p*g.n+j] = float64(g.b[j*g.ldb+p])
			} else {
				B[p*g.n+j] = float64(g.b[p*g.ldb+j])
			}
		}
	}
	want = make([]float64, g.m*g.n)
	bound = make([]float64, g.m*g.n)
	abs := make([]float64, g.n)
	alpha, beta := float64(g.alpha), float64(g.beta)
	for i := 0; i < g.m; i++ {
		w := want[i*g.n : i*g.n+g.n]
		clear(abs)
		for p, x := range A[i*g.k : i*g.k+g.k] {
			for j, y := range B[p*g.n : p*g.n+g.n] {
				w[j] += x * y
				abs[j] += math.Abs(x * y)
			}
		}
		for j := range w {
			w[j] *= alpha
			scale := math.Abs(alpha) * abs[j]
			if g.beta != 0 {
				c := float64(g.c[i*g.ldc+j])
				w[j] += beta * c
				scale += math.Abs(beta * c)
			}
			bound[i*g.n+j] = 2*float64(g.k+2)*eps32*scale + 1e-30
		}
	}
	return want, bound
}

// check compares got (C after the call) with the reference and the padding sentinel.
func (g *gemmCase) check(t *testing.T, got []float32, want, bound []float64) {
	t.Helper()
	bad := 0
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.ldc && i*g.ldc+j < len(got); j++ {
			v := got[i*g.ldc+j]
			if j >= g.n {
				if v != sentinel {
					t.Fatalf("%v: C padding [%d,%d] overwritten: %v", g, i, j, v)
				}
				continue
			}
			w, e := want[i*g.n+j], bound[i*g.n+j]
			if d := math.Abs(float64(v) - w); !(d <= e) {
				if bad++; bad <= 3 {
					t.Errorf("%v: C[%d,%d] = %v, want %v (|diff| %.3g > bound %.3g)", g, i, j, v, w, d, e)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d of %d elements wrong", g, bad, g.m*g.n)
	}
}

// run calls Sgemm (or SgemmBF16B) on a copy of C and checks it.
func (g *gemmCase) run(t *testing.T, call func(g *gemmCase, c []float32)) {
	t.Helper()
	want, bound := g.ref()
	c := append([]float32(nil), g.c...)
	call(g, c)
	g.check(t, c, want, bound)
}

func callSgemm(g *gemmCase, c []float32) {
	if g.b16 != nil {
		SgemmBF16B(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b16, g.ldb, g.beta, c, g.ldc)
		return
	}
	Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
}

func callSerial(g *gemmCase, c []float32) {
	SgemmSerial(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
}

// forEachPath runs f once per path this machine supports, skipping the others with a reason.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	for _, p := range []Path{PathGeneric, PathAVX2, PathAVX512} {
		t.Run(p.String(), func(t *testing.T) {
			if !Available(p) {
				t.Skipf("path %v: CPU/OS lacks the instructions", p)
			}
			prev := ForcePath(p)
			defer ForcePath(prev)
			f(t)
		})
	}
}

// withParallelSmall lowers the inline threshold so small shapes exercise the task split.
func withThreads(t *testing.T, n int, force bool) {
	prevT := SetThreads(n)
	prevF := minTaskFlops
	if force {
		minTaskFlops = 0
	}
	t.Cleanup(func() { SetThreads(prevT); minTaskFlops = prevF })
}

var transposes = []struct {
	name   string
	ta, tb bool
}{{"NN", false, false}, {"NT", false, true}, {"TN", true, false}, {"TT", true, true}}

var alphaBetas = []struct{ alpha, beta float32 }{{1, 0}, {0.5, -1.5}, {-2, 1}}
