package gemm

// Cache blocking and the per-tile driver loop.
//
// For one task (rows i0..i1, columns j0..j1 of C) the loops are:
//
//	for ic in i0..i1 step mc:                 A block rows
//	  for pc in 0..k step kc:                 one k pass
//	    pack op(A)[ic:ic+mc, pc:pc+kc]        → mc/mr packed A panels (L2/L3)
//	    for jc in j0..j1 step nc:             B block columns
//	      pack op(B)[pc:pc+kc, jc:jc+nc]      → packed B block, kc × nc (L2)
//	      for ir in 0..mc step mr:            A panel ir (mr × kc) stays in L1 ...
//	        for jr in 0..nc step nr:          ... while B panels stream from L2
//	          C[ic+ir:+mr, jc+jr:+nr] (+)= A panel · B panel
//
// Each operand element is packed once per task (B once per A block when m > mc).
// Zen 4 sizes: 32 KiB L1d, 1 MiB L2 per core, shared L3. With the 6×64 AVX-512 tile an A
// panel is 6·kc floats (≤ 12 KiB) and each k step streams one 256-byte B row.

const (
	kcMax   = 512        // longest k pass
	aStride = kcMax + 16 // row-major A panel stride in floats; the pad staggers rows over L1 sets
	mcMax   = 1024       // most A block rows (before rounding up to a multiple of mr)
	// aStride16 is the row-major bf16 A panel stride in bf16 elements (pack16.go): kcMax
	// rounded up to pairs plus one cache line of stagger.
	aStride16 = kcMax + 32
)

// kBlock is the k-pass length for reduction length k: equal passes of at most kcMax, rounded
// up to a multiple of 8. It depends on k alone, so every C element sees the same reduction
// order whatever the tiling or thread count.
func kBlock(k int) int {
	if k <= kcMax {
		return k
	}
	passes := (k + kcMax - 1) / kcMax
	kc := (k + passes - 1) / passes
	return (kc + 7) &^ 7
}

// nBlock is the packed B block width for pass length kc: a multiple of nr within bBlockFloats.
func nBlock(kc, nr int) int {
	return max(bBlockFloats/kc/nr*nr, nr)
}

// task is one rectangle of one problem's C, computed by one goroutine.
type task struct {
	p              *problem
	i0, i1, j0, j1 int
}

// run computes the task with path im, using ws for packing.
func (t *task) run(im *impl, ws *workspace) {
	p := t.p
	if p.dot && im.dotTile != nil {
		t.runDot(im, ws)
		return
	}
	kc := kBlock(p.k)
	ncb := balance(t.j1-t.j0, nBlock(kc, im.nr), im.nr)
	mcb := roundUp(ceilDiv(t.i1-t.i0, ceilDiv(t.i1-t.i0, mcMax)), im.mr) // balanced A blocks
	ws.ensure(im, min(mcb, t.i1-t.i0), kc, min(ncb, t.j1-t.j0))
	panel := im.mr * aStride // A panel stride in ws.a
	for ic := t.i0; ic < t.i1; ic += mcb {
		mc := min(mcb, t.i1-ic)
		for pc := 0; pc < p.k; pc += kc {
			kb := min(kc, p.k-pc)
			p.packA(im, ws.a, ic, mc, pc, kb)
			beta, load := p.beta, p.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for jc := t.j0; jc < t.j1; jc += ncb {
				nc := min(ncb, t.j1-jc)
				p.packB(im, ws, pc, kb, jc, nc)
				for ir := 0; ir < mc; ir += im.mr {
					mr := min(im.mr, mc-ir)
					ap := ws.a[ir/im.mr*panel:]
					crow := p.c[(ic+ir)*p.ldc+jc:]
					for jr := 0; jr < nc; jr += im.nr {
						im.tile(p.transA, mr, min(im.nr, nc-jr), kb, ap, ws.b[jr*kb:], crow[jr:], p.ldc, p.alpha, beta, load)
					}
				}
			}
		}
	}
}

// split appends p's tasks, about want of them: a grid of near-square chunks whose rows are
// multiples of mr and columns multiples of nr. Splitting m re-packs B per chunk and splitting
// n re-packs A, so neither dimension is cut below a few register tiles.
func split(ts []task, p *problem, im *impl, want int) []task {
	ms, ns := 1, 1
	mr, nr := im.mr, im.nr
	if p.dot && im.dotTile != nil {
		mr, nr = im.dmr, im.dnr
	}
	minRows, minCols := 4*mr, 2*nr
	for ms*ns < want {
		canM := p.m/(ms+1) >= minRows
		canN := p.n/(ns+1) >= minCols
		switch {
		case canM && (!canN || p.m/ms >= p.n/ns):
			ms++
		case canN:
			ns++
		default:
			want = 0
		}
	}
	mStep := roundUp(ceilDiv(p.m, ms), mr)
	nStep := roundUp(ceilDiv(p.n, ns), nr)
	for i0 := 0; i0 < p.m; i0 += mStep {
		for j0 := 0; j0 < p.n; j0 += nStep {
			ts = append(ts, task{p: p, i0: i0, i1: min(i0+mStep, p.m), j0: j0, j1: min(j0+nStep, p.n)})
		}
	}
	return ts
}

// balance splits n columns into the fewest blocks of at most most columns and returns the
// equal block width, rounded up to a multiple of nr: N = 1024 in blocks of up to 960 becomes
// two of 512, not 960 and 64 (whose lone panel re-reads all of A for one tile).
func balance(n, most, nr int) int {
	if n <= 0 {
		return most
	}
	return roundUp(ceilDiv(n, ceilDiv(n, most)), nr)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// bBlockFloats is the packed B block budget (floats): 1 MiB. The block outgrows L2 once A
// panels and C share it, but B rows stream well from L3 (measured: no loss vs 512 KiB) and
// wider blocks re-read each A panel less often.
var bBlockFloats = 256 << 10

// minTaskFlops: problems below this many flops run inline on the calling goroutine
// (a variable so tests can force the parallel path on small shapes).
var minTaskFlops = 4e6

// maxTaskFlops is the task size parallel calls aim below (see run).
const maxTaskFlops = 256e6
