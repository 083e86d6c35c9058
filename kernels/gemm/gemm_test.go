package gemm

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// shapes: odd sizes and primes, every register-tile edge, several k passes (k > kcMax),
// several B blocks (n > nBlock) and both.
func shapes(short bool) [][3]int {
	s := [][3]int{
		{1, 1, 1}, {1, 17, 1}, {17, 1, 33}, {2, 3, 4}, {7, 9, 8}, {17, 33, 127}, {33, 17, 5},
		{13, 65, 31}, {25, 129, 16}, {64, 64, 64}, {127, 130, 67}, {12, 48, 1},
	}
	s = append(s, [3]int{37, 23, 1100})   // 3 k passes
	s = append(s, [3]int{19, 1100, 257})  // several B blocks
	s = append(s, [3]int{131, 300, 1031}) // both
	if !short {
		s = append(s, [3]int{150, 1000, 600}, [3]int{260, 130, 2049})
	}
	return s
}

func TestSgemm(t *testing.T) {
	withThreads(t, 2, true)
	forEachPath(t, func(t *testing.T) {
		r := rng(1)
		for _, tr := range transposes {
			for _, sh := range shapes(testing.Short()) {
				for _, ab := range alphaBetas {
					for _, pad := range []int{0, 3} {
						g := newCase(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], ab.alpha, ab.beta, pad, false)
						g.run(t, callSgemm)
					}
				}
			}
		}
	})
}

// TestTileEdges walks every kernel variant: each row count up to two register tiles and
// column counts that end on every vector boundary and mask width.
func TestTileEdges(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rng(2)
		ns := []int{1, 5, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 128, 129}
		for _, tr := range transposes {
			for m := 1; m <= 2*cur.mr+1; m++ {
				for _, n := range ns {
					g := newCase(r, tr.ta, tr.tb, m, n, 9, 1.5, 0.5, 1, false)
					g.run(t, callSerial)
				}
			}
		}
	})
}

func TestSgemmDegenerate(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rng(3)
		for _, tr := range transposes {
			for _, ab := range append(alphaBetas, struct{ alpha, beta float32 }{0, 2}, struct{ alpha, beta float32 }{0, 0}) {
				// k = 0: C = beta·C; alpha = 0: likewise, A and B unused.
				for _, k := range []int{0, 5} {
					g := newCase(r, tr.ta, tr.tb, 9, 70, k, ab.alpha, ab.beta, 2, false)
					g.run(t, callSgemm)
				}
			}
			// Empty outputs must not touch anything.
			Sgemm(tr.ta, tr.tb, 0, 5, 3, 1, make([]float32, 64), 5, make([]float32, 64), 5, 0, nil, 5)
			Sgemm(tr.ta, tr.tb, 5, 0, 3, 1, make([]float32, 64), 5, make([]float32, 64), 5, 0, nil, 1)
		}
	})
}

func TestSgemmSerialAndThreads(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rng(4)
		for _, tr := range transposes {
			g := newCase(r, tr.ta, tr.tb, 61, 150, 77, 1, 0.25, 1, false)
			g.run(t, callSerial)
			for _, th := range []int{1, 3} {
				withThreads(t, th, true)
				g.run(t, callSgemm)
			}
		}
	})
}

// TestDeterminism: C must be bit-identical for 1, 2 and 4 threads (partitioning only cuts
// m and n; every element's k order is fixed).
func TestDeterminism(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rng(5)
		for _, tr := range transposes {
			for _, sh := range [][3]int{{197, 301, 1100}, {64, 700, 96}} {
				g := newCase(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], 0.75, -0.5, 1, false)
				var first []float32
				for _, th := range []int{1, 2, 4} {
					withThreads(t, th, true)
					c := slices.Clone(g.c)
					callSgemm(g, c)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%v: threads=%d differs from threads=1 at %d: %v vs %v", g, th, i, c[i], first[i])
						}
					}
				}
			}
		}
	})
}

func TestSgemmBF16B(t *testing.T) {
	withThreads(t, 2, true)
	forEachPath(t, func(t *testing.T) {
		r := rng(6)
		for _, tr := range transposes {
			for _, sh := range [][3]int{{1, 1, 1}, {17, 33, 127}, {13, 65, 31}, {37, 71, 600}, {6, 130, 40}} {
				for _, ab := range alphaBetas {
					g := newCase(r, tr.ta, tr.tb, sh[0], sh[1], sh[2], ab.alpha, ab.beta, 2, true)
					g.run(t, callSgemm)
				}
			}
		}
	})
}

func TestSgemmStrided(t *testing.T) {
	withThreads(t, 2, true)
	forEachPath(t, func(t *testing.T) {
		r := rng(7)
		for _, tr := range transposes {
			for _, bc := range []struct{ broadcastA, broadcastB bool }{{false, false}, {true, false}, {false, true}} {
				const batch = 5
				m, n, k := 19, 37, 23
				cases := make([]*gemmCase, batch)
				for i := range cases {
					cases[i] = newCase(r, tr.ta, tr.tb, m, n, k, 1.25, -0.5, 2, false)
					if bc.broadcastA {
						cases[i].a = cases[0].a
					}
					if bc.broadcastB {
						cases[i].b = cases[0].b
					}
				}
				g0 := cases[0]
				sa, sb, sc := len(g0.a)+4, len(g0.b)+1, len(g0.c)+3
				a, b, c := make([]float32, batch*sa), make([]float32, batch*sb), make([]float32, batch*sc)
				for i, g := range cases {
					copy(a[i*sa:], g.a)
					copy(b[i*sb:], g.b)
					copy(c[i*sc:], g.c)
				}
				if bc.broadcastA {
					sa = 0
				}
				if bc.broadcastB {
					sb = 0
				}
				SgemmStrided(tr.ta, tr.tb, m, n, k, g0.alpha, a, g0.lda, sa, b, g0.ldb, sb, g0.beta, c, g0.ldc, sc, batch)
				for i, g := range cases {
					want, bound := g.ref()
					g.check(t, c[i*sc:i*sc+len(g.c)], want, bound)
				}
			}
		}
	})
}

// TestGrouped checks the three MoE forms against per-group Sgemm-free references, with empty
// groups (first, middle, last) and padded leading dimensions.
func TestGrouped(t *testing.T) {
	withThreads(t, 2, true)
	forEachPath(t, func(t *testing.T) {
		r := rng(8)
		offs := []int{0, 0, 5, 5, 37, 38, 80, 80}
		G, T := len(offs)-1, offs[len(offs)-1]
		for _, transB := range []bool{true, false} {
			n, k := 45, 29
			g := newCase(r, false, false, T, n, k, 1.5, 0.5, 3, false)
			// Per-expert weights: stored [n, k] when transB (forward), [k, n] otherwise.
			wr, wc := k, n
			if transB {
				wr, wc = n, k
			}
			ldb := wc + 2
			strideB := extent(wr, wc, ldb) + 5
			w := make([]float32, G*strideB)
			for e := range G {
				copy(w[e*strideB:], randMat(r, wr, wc, ldb))
			}
			c := slices.Clone(g.c)
			GroupedSgemm(transB, offs, n, k, g.alpha, g.a, g.lda, w, ldb, strideB, g.beta, c, g.ldc)
			for e := 0; e < G; e++ {
				r0, r1 := offs[e], offs[e+1]
				ge := &gemmCase{transB: transB, m: r1 - r0, n: n, k: k, alpha: g.alpha, beta: g.beta,
					a: tail(g.a, r0*g.lda), lda: g.lda, b: w[e*strideB:], ldb: ldb, c: tail(g.c, r0*g.ldc), ldc: g.ldc}
				want, bound := ge.ref()
				if r1 > r0 {
					ge.check(t, c[r0*g.ldc:], want, bound)
				}
			}
		}
		// Weight gradient: C_g [m, n] = A_gᵀ·B_g, groups along k.
		m, n := 33, 70
		lda, ldb, ldc := m+1, n+3, n+2
		a, b := randMat(r, T, m, lda), randMat(r, T, n, ldb)
		strideC := extent(m, n, ldc) + 7
		c := make([]float32, G*strideC)
		for i := range c {
			c[i] = float32(i%7) - 3
			if i%strideC%ldc >= n || i%strideC >= extent(m, n, ldc) {
				c[i] = sentinel
			}
		}
		got := slices.Clone(c)
		GroupedSgemmTN(offs, m, n, -1, a, lda, b, ldb, 0.5, got, ldc, strideC)
		for e := 0; e < G; e++ {
			r0, r1 := offs[e], offs[e+1]
			ge := &gemmCase{transA: true, m: m, n: n, k: r1 - r0, alpha: -1, beta: 0.5,
				a: tail(a, r0*lda), lda: lda, b: tail(b, r0*ldb), ldb: ldb, c: c[e*strideC:], ldc: ldc}
			want, bound := ge.ref()
			ge.check(t, got[e*strideC:e*strideC+extent(m, n, ldc)], want, bound)
			for i := e*strideC + extent(m, n, ldc); i < (e+1)*strideC; i++ {
				if got[i] != sentinel {
					t.Fatalf("GroupedSgemmTN wrote past C_%d at %d", e, i)
				}
			}
		}
	})
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 12)
	mustPanic("short a", func() { Sgemm(false, false, 4, 3, 4, 1, a, 4, b, 3, 0, c, 3) })
	mustPanic("short c", func() { Sgemm(false, false, 3, 4, 4, 1, a, 4, make([]float32, 16), 4, 0, c[:11], 4) })
	mustPanic("lda < k", func() { Sgemm(false, false, 2, 2, 4, 1, a, 3, b, 2, 0, c, 2) })
	mustPanic("ldb < k (transB)", func() { Sgemm(false, true, 2, 2, 4, 1, a, 4, b, 3, 0, c, 2) })
	mustPanic("negative", func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2) })
	mustPanic("overlapping C", func() {
		SgemmStrided(false, false, 2, 2, 2, 1, a, 2, 0, b, 2, 0, 0, c, 2, 0, 2)
	})
	mustPanic("offs", func() { GroupedSgemm(false, []int{0, 3, 2}, 2, 2, 1, a, 2, b, 2, 4, 0, c, 2) })
}

func TestSerialNoAlloc(t *testing.T) {
	g := newCase(rng(9), false, true, 32, 48, 64, 1, 0, 0, false)
	c := slices.Clone(g.c)
	callSerial(g, c) // warm the workspace
	if n := testing.AllocsPerRun(20, func() { callSerial(g, c) }); n != 0 {
		t.Errorf("SgemmSerial allocates %v times per call", n)
	}
}

func Example() {
	// C[2,2] = A[2,3] · B[3,2]
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	c := make([]float32, 4)
	Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}
