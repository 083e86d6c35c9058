package gemm

import "fmt"

// Prepacked B: for callers that multiply many A matrices by the same B (flash-attention
// tiles reuse one K or V tile for every query block), PackedB holds op(B) packed once in the
// panel layout of the path active at Pack time, and SgemmPackedB skips B packing. A row-major
// A whose leading dimension is PackedLD (and k ≤ PackedMaxK) already is a sequence of packed A
// panels, so it is read in place with no copy at all; other A are packed as usual.
// Results are bit-identical to SgemmSerial with the same operands on the same path.

// PackedLD is the leading dimension (floats) at which SgemmPackedB reads A without copying it.
const PackedLD = aStride

// PackedMaxK is the largest k for which an A with lda == PackedLD is read in place.
const PackedMaxK = kcMax

// PackedB is op(B) [k, n] packed for one path; the zero value is empty. Pack may be called
// again to reuse its memory for another matrix.
type PackedB struct {
	im   *impl
	k, n int
	kc   int       // k-pass length kBlock(k)
	np   int       // n rounded up to the panel width
	data []float32 // pass starting at k row pc: pc·np floats in, panels of nr columns at jp·kb
}

// Pack packs op(B) [k, n] (B stored [k, n] with ldb ≥ n, or [n, k] with ldb ≥ k when transB)
// for the current path. It allocates only when its buffer is too small and panics on bad
// shapes like SgemmSerial.
func (pb *PackedB) Pack(transB bool, k, n int, b []float32, ldb int) {
	rows, cols := k, n
	if transB {
		rows, cols = n, k
	}
	if k < 0 || n < 0 || ldb < max(cols, 1) {
		panic(fmt.Sprintf("gemm.PackedB.Pack: bad shape k=%d n=%d ldb=%d", k, n, ldb))
	}
	if e := extent(rows, cols, ldb); e > 0 && len(b) < e {
		panic(fmt.Sprintf("gemm.PackedB.Pack: len(b)=%d < %d", len(b), e))
	}
	im := cur
	pb.im, pb.k, pb.n, pb.kc, pb.np = im, k, n, kBlock(k), roundUp(n, im.nr)
	need := k * pb.np
	if cap(pb.data) < need {
		pb.data = alignedFloats(need)
	}
	pb.data = pb.data[:need]
	if need == 0 {
		return
	}
	p := problem{transB: transB, k: k, n: n, b: b, ldb: ldb}
	for pc := 0; pc < k; pc += pb.kc {
		kb := min(pb.kc, k-pc)
		ws := workspace{b: pb.data[pc*pb.np:]}
		p.packB(im, &ws, pc, kb, 0, n)
	}
}

// SgemmPackedB computes C = alpha·A·op(B)[:k, :n] + beta·C on the calling goroutine, with
// op(B) packed by pb.Pack as [kp, np]: n ≤ np, and k ≤ kp when kp ≤ PackedMaxK (else k == kp),
// so one packed tile also serves products with its leading rows or columns:
//
//	A [m, k]  row-major, lda ≥ k; read in place when lda == PackedLD and k ≤ PackedMaxK
//	C [m, n]  ldc ≥ n; beta == 0 means C is not read
//
// It panics on shapes that do not fit pb or slices too short, like SgemmSerial.
func SgemmPackedB(m, n, k int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	switch {
	case pb == nil || pb.im == nil || n > pb.n || k > pb.k || (k != pb.k && pb.k > kcMax):
		panic(fmt.Sprintf("gemm.SgemmPackedB: op(B)[:%d, :%d] is not in the packed B", k, n))
	case m < 0 || lda < max(k, 1) || ldc < max(n, 1):
		panic(fmt.Sprintf("gemm.SgemmPackedB: bad shape m=%d n=%d k=%d lda=%d ldc=%d", m, n, k, lda, ldc))
	}
	if e := extent(m, k, lda); e > 0 && len(a) < e {
		panic(fmt.Sprintf("gemm.SgemmPackedB: len(a)=%d < %d", len(a), e))
	}
	if e := extent(m, n, ldc); e > 0 && len(c) < e {
		panic(fmt.Sprintf("gemm.SgemmPackedB: len(c)=%d < %d", len(c), e))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		p := problem{m: m, n: n, beta: beta, c: c, ldc: ldc}
		p.scaleC()
		return
	}
	im := pb.im
	if lda == aStride && k <= kcMax {
		pb.tiles(im, m, n, a, alpha, beta, beta != 0, 0, k, c, ldc)
		return
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	mcb := roundUp(ceilDiv(m, ceilDiv(m, mcMax)), im.mr)
	ws.ensure(im, min(mcb, m), min(pb.kc, k), 0)
	p := problem{m: m, k: k, a: a, lda: lda}
	for ic := 0; ic < m; ic += mcb {
		mc := min(mcb, m-ic)
		for pc := 0; pc < k; pc += pb.kc {
			kb := min(pb.kc, k-pc) // == the packed pass length except for k < pb.k (one pass)
			p.packA(im, ws.a, ic, mc, pc, kb)
			bt, load := beta, beta != 0
			if pc > 0 {
				bt, load = 1, true
			}
			pb.tiles(im, mc, n, ws.a, alpha, bt, load, pc, kb, c[ic*ldc:], ldc)
		}
	}
}

// tiles runs the register tiles of rows [0, m) of a packed A block (row-major panels of
// stride aStride) against columns [0, n) and the first kb rows of the k pass of pb that starts
// at row pc.
func (pb *PackedB) tiles(im *impl, m, n int, a []float32, alpha, beta float32, load bool, pc, kb int, c []float32, ldc int) {
	bp := pb.data[pc*pb.np:]
	ks := min(pb.kc, pb.k-pc) // rows per panel of this pass
	for ir := 0; ir < m; ir += im.mr {
		mr := min(im.mr, m-ir)
		ap := a[ir*aStride:]
		crow := c[ir*ldc:]
		for jr := 0; jr < n; jr += im.nr {
			im.tile(false, mr, min(im.nr, n-jr), kb, ap, bp[jr*ks:], crow[jr:], ldc, alpha, beta, load)
		}
	}
}
