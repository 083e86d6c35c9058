package gemm

// bf16 × bf16 GEMMs: A and B as bfloat16, products accumulated in float32, C float32.
//
// On PathAVX512BF16 (the default where the CPU has AVX512_BF16) both operands are packed in
// k pairs (pack16.go) and multiplied by VDPBF16PS. What one C element receives is then
//
//	acc = 0
//	for each pair q (k = 2q, 2q+1; an odd k's last pair has a zero second half):
//	    acc = fl(fl(acc + a[2q+1]·b[2q+1]) + a[2q]·b[2q])       (one VDPBF16PS lane)
//	C = fl(alpha·acc)                  (beta == 0)
//	C = fl(beta·C + fl(alpha·acc))     (fused; otherwise)
//
// with the sums restarting per k pass of kBlock(k) and the passes added through C as in
// the float32 path. Products of two bf16 values are exact in float32; fl is float32
// round-to-nearest-even. Unlike VFMADD231PS the instruction ignores MXCSR: bf16 denormal
// inputs are read as zero (DAZ) and denormal float32 results are flushed to zero (FTZ).
// (This is Intel's definition, odd element first; on Zen 4 TestBF16DotEmulation matches it
// bit for bit on normal-range data and TestBF16Denormals shows the flushes.) For data in the normal range the error is
// the float32 dot-product bound γ_k·Σ|a||b| (k roundings per element); DAZ/FTZ add at most
// 2⁻¹²⁶ per flushed product or partial sum, i.e. ≤ 2⁻¹²⁶·(k + Σ_p(|a_p|+|b_p|)) absolute.
//
// On every other path the bf16 values are widened to float32 exactly while packing and the
// float32 kernels run (one FMA per k, denormals kept): correct, about half the speed.
// Results are deterministic per path (thread count never matters) but differ between paths.

// SgemmBF16 computes C = alpha·op(A)·op(B) + beta·C with A and B given as bfloat16 bits and
// float32 accumulation; layouts, leading dimensions and the beta/k/alpha rules as in Sgemm:
//
//	op(A) [m,k]: A stored [m,k] (lda ≥ k), or [k,m] (lda ≥ m) when transA
//	op(B) [k,n]: B stored [k,n] (ldb ≥ n), or [n,k] (ldb ≥ k) when transB
//	C     [m,n]: ldc ≥ n
//
// A linear layer Y [T,out] = X [T,in] · Wᵀ with HF weights W [out,in] is
// SgemmBF16(false, true, T, out, in, 1, x, in, w, in, 0, y, out).
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a16: a, dot: true, lda: lda, b16: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmBF16", 1, 0, 0, 0)
	run([]problem{p}, Threads())
}

// SgemmBF16Serial is SgemmBF16 on the calling goroutine only (as SgemmSerial is Sgemm): for
// callers that run it inside their own parallel tasks, such as attention tiles. Same bits as
// SgemmBF16 on the same path.
func SgemmBF16Serial(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a16: a, dot: true, lda: lda, b16: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmBF16Serial", 1, 0, 0, 0)
	runSerial(&p)
}

// SgemmBF16Round is SgemmBF16 with A given in float32: every element of A is rounded to
// bfloat16 while it is packed, exactly as tensors.BF16FromF32 does (round to nearest even,
// NaN stays NaN), and the product is then that of SgemmBF16. B holds bfloat16 bits.
// Layouts as in SgemmBF16.
func SgemmBF16Round(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, roundA: true, dot: true, lda: lda, b16: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmBF16Round", 1, 0, 0, 0)
	run([]problem{p}, Threads())
}

// SgemmBF16RoundSerial is SgemmBF16Round on the calling goroutine only (as SgemmSerial is
// Sgemm). Same bits as SgemmBF16Round on the same path.
func SgemmBF16RoundSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, roundA: true, dot: true, lda: lda, b16: b, ldb: ldb, c: c, ldc: ldc}
	p.check("SgemmBF16RoundSerial", 1, 0, 0, 0)
	runSerial(&p)
}

// runDot computes the task with the bf16 pair kernel of im (im.dotTile != nil); the loop
// nest is that of run, over packed bf16 panels of kp = ⌈kb/2⌉ pairs.
func (t *task) runDot(im *impl, ws *workspace) {
	p := t.p
	mr, nr := im.dmr, im.dnr
	kc := kBlock(p.k)
	ncb := balance(t.j1-t.j0, nBlock16(kc, nr), nr)
	mcb := roundUp(ceilDiv(t.i1-t.i0, ceilDiv(t.i1-t.i0, mcMax)), mr)
	ws.ensure16(mr, nr, min(mcb, t.i1-t.i0), kc, min(ncb, t.j1-t.j0))
	panel := mr * aStride16
	inPlace := p.aInPlace16()
	tile := func(ic, mc, pc, jc, nc, kp int, beta float32, load bool) {
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			ap, lda := ws.a16[ir/mr*panel:], aStride16
			if inPlace {
				ap, lda = p.a16[(ic+ir)*p.lda+pc:], p.lda
				if next := min(mr, mc-ir-mr); next > 0 && im.prefetch16 != nil {
					// The next panel's rows towards L2 while this one computes: in place,
					// they are met cold (the vision training step: 0.5–0.9% faster).
					im.prefetch16(p.a16[(ic+ir+mr)*p.lda+pc:], next, p.lda, 2*kp)
				}
			}
			crow := p.c[(ic+ir)*p.ldc+jc:]
			for jr := 0; jr < nc; jr += nr {
				im.dotTile(p.transA, rows, min(nr, nc-jr), kp, ap, lda, ws.b16[jr*2*kp:], crow[jr:], p.ldc, p.alpha, beta, load)
			}
		}
	}
	// Loop order: A blocks outer packs op(A) once and op(B) once per A block; B blocks outer
	// the reverse. Pick the one that packs fewer elements (the arithmetic per C element, its
	// k passes in order, is the same either way, so the choice never changes a result).
	nIC, nJC := ceilDiv(t.i1-t.i0, mcb), ceilDiv(t.j1-t.j0, ncb)
	aPacks := t.i1 - t.i0 // A elements packed per pass over all of B, per k column
	if inPlace {
		aPacks = 0
	}
	if nJC*aPacks+(t.j1-t.j0) < aPacks+nIC*(t.j1-t.j0) {
		for pc := 0; pc < p.k; pc += kc {
			kb := min(kc, p.k-pc)
			kp := (kb + 1) / 2
			beta, load := p.beta, p.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for jc := t.j0; jc < t.j1; jc += ncb {
				nc := min(ncb, t.j1-jc)
				p.packB16(im, nr, ws, pc, kb, jc, nc)
				for ic := t.i0; ic < t.i1; ic += mcb {
					mc := min(mcb, t.i1-ic)
					if !inPlace {
						p.packA16(im, ws, ic, mc, pc, kb)
					}
					tile(ic, mc, pc, jc, nc, kp, beta, load)
				}
			}
		}
		return
	}
	for ic := t.i0; ic < t.i1; ic += mcb {
		mc := min(mcb, t.i1-ic)
		for pc := 0; pc < p.k; pc += kc {
			kb := min(kc, p.k-pc)
			kp := (kb + 1) / 2
			if !inPlace {
				p.packA16(im, ws, ic, mc, pc, kb)
			}
			beta, load := p.beta, p.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for jc := t.j0; jc < t.j1; jc += ncb {
				nc := min(ncb, t.j1-jc)
				p.packB16(im, nr, ws, pc, kb, jc, nc)
				tile(ic, mc, pc, jc, nc, kp, beta, load)
			}
		}
	}
}

// PackedLD16 is the leading dimension (bf16 elements) of the packed row-major A panels: k up
// to kcMax with one cache line of stagger, so the 6 rows of a panel fall in different L1
// sets. On PathAVX512BF16 SgemmBF16 reads a row-major A (transA false) with even k in place at
// any lda; callers that produce A themselves (attention's probability and dS rows) may
// write it at this stride to get the packed panels' cache behaviour.
const PackedLD16 = aStride16

// aInPlace16 reports whether runDot reads op(A) in place: row-major bf16 A whose k pairs
// never straddle the end of a row (k even; the packed panels pad an odd k with a zero).
// The kernels read the same pairs in the same order either way, so results are the same bits.
func (p *problem) aInPlace16() bool {
	return !packAlways16 && !p.transA && !p.roundA && p.k%2 == 0
}

// packAlways16 turns reading A in place off (BenchmarkBF16InPlaceA's baseline).
var packAlways16 bool

// nBlock16 is the packed bf16 B block width for pass length kc: a multiple of nr within
// bBlock16 bf16 elements.
func nBlock16(kc, nr int) int {
	return max(bBlock16/(kc+1)/nr*nr, nr)
}

// bBlock16 is the packed bf16 B block budget in elements (1 MiB).
var bBlock16 = 512 << 10
