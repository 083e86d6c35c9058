package gemm

import "fmt"

// Dimension names used in this package's comments: op(A) is [m,k], op(B) is [k,n], C is
// [m,n]; all matrices are row-major with a leading dimension (row stride, in elements).

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32 with float32 accumulation.
//
//	op(A) [m,k]: A stored [m,k] (lda ≥ k), or [k,m] (lda ≥ m) when transA
//	op(B) [k,n]: B stored [k,n] (ldb ≥ n), or [n,k] (ldb ≥ k) when transB
//	C     [m,n]: ldc ≥ n
//
// beta == 0 means C is not read (NaNs there are overwritten). k == 0 or alpha == 0 gives
// C = beta·C. It runs on Threads() goroutines (inline for small problems). It panics on
// negative sizes, short leading dimensions or slices too short for the shapes.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	p.check("Sgemm", 1, 0, 0, 0)
	run([]problem{p}, Threads())
}

// SgemmSerial is Sgemm on the calling goroutine only: for callers that already run in their
// own parallel loop (attention tiles, MoE experts) and must not fan out again. It does not
// allocate once its goroutine's workspace is warm.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmSerial", 1, 0, 0, 0)
	runSerial(&p)
}

// SgemmStrided runs batch independent GEMMs; matrix i uses a[i·strideA:], b[i·strideB:] and
// c[i·strideC:], with the shapes and leading dimensions of Sgemm. A stride of 0 broadcasts
// that operand (A or B only: outputs must not overlap). Work is spread over batch × tiles.
func SgemmStrided(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmStrided", batch, strideA, strideB, strideC)
	ps := make([]problem, batch)
	for i := range ps {
		q := p
		q.a = tail(a, i*strideA)
		q.b = tail(b, i*strideB)
		q.c = tail(c, i*strideC)
		ps[i] = q
	}
	run(ps, Threads())
}

// SgemmBF16B is Sgemm with B given as bfloat16 bits (a weight matrix): B is widened to
// float32 exactly while it is packed, and all arithmetic is float32. Layouts as in Sgemm.
func SgemmBF16B(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b16: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmBF16B", 1, 0, 0, 0)
	run([]problem{p}, Threads())
}

// problem is one GEMM; exactly one of a and a16, and one of b and b16, is used.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32 // op(A) [m,k]: stored [m,k], or [k,m] when transA
	a16            []uint16  // bf16 bits, same layout as a (dot && !roundA)
	roundA         bool      // a is float32 to be rounded to bf16 while packing (dot only)
	dot            bool      // bf16 × bf16: VDPBF16PS where the path has it (bf16.go)
	lda            int
	b              []float32 // op(B) [k,n]: stored [k,n], or [n,k] when transB
	b16            []uint16  // bf16 bits, same layout as b
	ldb            int
	c              []float32 // [m,n]
	ldc            int
}

func (p *problem) trivial() bool { return p.k == 0 || p.alpha == 0 }

// scaleC sets C = beta·C (C is not read when beta == 0).
func (p *problem) scaleC() {
	if p.beta == 1 {
		return
	}
	for i := 0; i < p.m; i++ {
		row := p.c[i*p.ldc : i*p.ldc+p.n]
		if p.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= p.beta
		}
	}
}

// extent is the number of elements a rows×cols matrix with leading dimension ld spans.
func extent(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// check panics unless batch matrices with the given strides fit their slices; it guards
// every later slice access and the assembly's raw pointers.
func (p *problem) check(fn string, batch, strideA, strideB, strideC int) {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("gemm.%s: %s (m=%d n=%d k=%d)", fn, fmt.Sprintf(format, args...), p.m, p.n, p.k))
	}
	if p.m < 0 || p.n < 0 || p.k < 0 || batch < 0 {
		fail("negative size (batch=%d)", batch)
	}
	if strideA < 0 || strideB < 0 || strideC < 0 {
		fail("negative stride")
	}
	ar, ac := p.m, p.k
	if p.transA {
		ar, ac = p.k, p.m
	}
	br, bc := p.k, p.n
	if p.transB {
		br, bc = p.n, p.k
	}
	if p.lda < max(ac, 1) || p.ldb < max(bc, 1) || p.ldc < max(p.n, 1) {
		fail("leading dimension too small: lda=%d (≥%d) ldb=%d (≥%d) ldc=%d (≥%d)", p.lda, ac, p.ldb, bc, p.ldc, p.n)
	}
	if batch == 0 {
		return
	}
	ea, eb, ec := extent(ar, ac, p.lda), extent(br, bc, p.ldb), extent(p.m, p.n, p.ldc)
	if batch > 1 && ec > 0 && strideC < ec {
		fail("strideC=%d overlaps outputs (need ≥ %d)", strideC, ec)
	}
	la, lb := len(p.a), len(p.b)
	if p.dot && !p.roundA {
		la = len(p.a16)
	}
	if p.b16 != nil || p.dot {
		lb = len(p.b16)
	}
	if ea > 0 && la < (batch-1)*strideA+ea {
		fail("len(a)=%d < %d", la, (batch-1)*strideA+ea)
	}
	if eb > 0 && lb < (batch-1)*strideB+eb {
		fail("len(b)=%d < %d", lb, (batch-1)*strideB+eb)
	}
	if ec > 0 && len(p.c) < (batch-1)*strideC+ec {
		fail("len(c)=%d < %d", len(p.c), (batch-1)*strideC+ec)
	}
}

// run computes the problems on up to threads goroutines. Problems with no products only scale
// C; the rest are cut into tasks in proportion to their share of the flops.
func run(ps []problem, threads int) {
	im := cur
	var total float64
	for i := range ps {
		p := &ps[i]
		if p.m == 0 || p.n == 0 {
			continue
		}
		if p.trivial() {
			p.scaleC()
			continue
		}
		total += 2 * float64(p.m) * float64(p.n) * float64(p.k)
	}
	if total == 0 {
		return
	}
	if threads <= 1 || total < minTaskFlops {
		threads = 1
	}
	if threads == 1 && len(ps) == 1 {
		runSerial(&ps[0])
		return
	}
	// At least two tasks per thread, and no task much above maxTaskFlops, so a late or
	// descheduled helper (waking one costs ~100 µs here) still leaves work balanced; more
	// tasks cost re-packing (each task packs its own A rows and B columns).
	want := min(max(2*threads, int(total/maxTaskFlops)), 16*threads)
	var ts []task
	for i := range ps {
		p := &ps[i]
		if p.m == 0 || p.n == 0 || p.trivial() {
			continue
		}
		w := 1
		if threads > 1 {
			w = int(float64(want)*2*float64(p.m)*float64(p.n)*float64(p.k)/total + 0.5)
		}
		ts = split(ts, p, im, w)
	}
	parallel(len(ts), threads, func(ws *workspace, i int) { ts[i].run(im, ws) })
}

// runSerial computes one problem on the calling goroutine.
func runSerial(p *problem) {
	if p.m == 0 || p.n == 0 {
		return
	}
	if p.trivial() {
		p.scaleC()
		return
	}
	ws := workspaces.Get().(*workspace)
	t := task{p: p, i0: 0, i1: p.m, j0: 0, j1: p.n}
	t.run(cur, ws)
	workspaces.Put(ws)
}

// tail is s[off:], or nil when off is past the end (only for matrices with no elements).
func tail[T any](s []T, off int) []T {
	if off > len(s) {
		return nil
	}
	return s[off:]
}
