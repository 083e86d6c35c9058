package gemm

import (
	"math"
	"sync"
	"unsafe"

	"github.com/glmflow/glmflow/tensors"
)

// Packing: copy (and transpose or widen) the operands into the layouts the kernels read.
//
// A block: mc/mr panels, panel t at t·mr·aStride, each in one of two layouts:
//
//	row-major (op(A) = A, stored [m,k]):   panel[r·aStride + q] = op(A)[i0+t·mr+r, p0+q]
//	k-major   (op(A) = Aᵀ, stored [k,m]):  panel[q·mr + r]      = op(A)[i0+t·mr+r, p0+q]
//
// B block: panels of nr columns, panel at jp·kc: b[jp·kc + q·nr + j] = op(B)[p0+q, j0+jp+j];
// columns past n in the last panel are zero.
//
// Only transposed B (stored [n,k]) needs a real transpose; it runs 8×8 blocks in assembly
// where the path has them. k-major A reads Aᵀ rows in chunks of kChunk so the source pages
// and lines stay hot while all panels of the block take their share.

// workspace holds one goroutine's packing buffers, 64-byte aligned.
type workspace struct {
	a   []float32 // A block: ⌈mc/mr⌉ panels of mr·aStride floats
	b   []float32 // B block: kc × roundUp(nc, nr) floats
	t   []float32 // bf16 → fp32 staging for transposed bf16 B: nr × kcMax
	a16 []uint16  // bf16 pair A block (pack16.go): ⌈mc/mr⌉ panels of mr·aStride16
	b16 []uint16  // bf16 pair B block: 2⌈kc/2⌉ × roundUp(nc, nr)
	t16 []uint16  // bf16 pair staging (pack16.go)
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// ensure grows the buffers (never shrinks them) to hold an mc-row A block and a kc × nc B
// block, so small GEMMs (attention tiles) keep small workspaces.
func (ws *workspace) ensure(im *impl, mc, kc, nc int) {
	if n := roundUp(mc, im.mr) * aStride; len(ws.a) < n {
		ws.a = alignedFloats(n)
	}
	if n := kc * roundUp(nc, im.nr); len(ws.b) < n {
		ws.b = alignedFloats(n)
	}
}

// alignedFloats returns n zeroed float32s starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

// kChunk is how many rows of Aᵀ a k-major A block pack handles per sweep over its panels.
const kChunk = 32

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into dst as mr-row panels (layout above).
func (p *problem) packA(im *impl, dst []float32, i0, mc, p0, kc int) {
	panel := im.mr * aStride
	if !p.transA {
		for ir := 0; ir < mc; ir += im.mr {
			d := dst[ir/im.mr*panel:]
			for r := 0; r < min(im.mr, mc-ir); r++ {
				row, off := d[r*aStride:r*aStride+kc], (i0+ir+r)*p.lda+p0
				switch {
				case p.roundA:
					roundWiden(row, p.a[off:off+kc])
				case p.dot:
					im.widen(row, p.a16[off:off+kc])
				default:
					copy(row, p.a[off:])
				}
			}
		}
		return
	}
	mr := im.mr
	for q0 := 0; q0 < kc; q0 += kChunk {
		qn := min(kChunk, kc-q0)
		for ir := 0; ir < mc; ir += mr {
			d := dst[ir/mr*panel+q0*mr:]
			rows := min(mr, mc-ir)
			if p.dot {
				// bf16 A on a float32 path: widen (after rounding) element by element.
				for q := 0; q < qn; q++ {
					for r := 0; r < rows; r++ {
						d[q*mr+r] = bf16(p.a16At((p0+q0+q)*p.lda + i0 + ir + r))
					}
				}
				continue
			}
			s := p.a[(p0+q0)*p.lda+i0+ir:]
			if rows == 6 && mr == 6 && im.packK6 != nil {
				im.packK6(d, s, p.lda, qn)
				continue
			}
			for q := 0; q < qn; q++ {
				dq := d[q*mr : q*mr+rows]
				sq := s[q*p.lda:]
				sq = sq[:len(dq)]
				for r := range dq {
					dq[r] = sq[r]
				}
			}
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into ws.b as nr-wide panels.
func (p *problem) packB(im *impl, ws *workspace, p0, kc, j0, nc int) {
	nr := im.nr
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := ws.b[jp*kc : jp*kc+kc*nr]
		j := j0 + jp
		switch {
		case p.b16 != nil && !p.transB:
			for q := 0; q < kc; q++ {
				row := panel[q*nr : q*nr+nr]
				im.widen(row, p.b16[(p0+q)*p.ldb+j:][:w])
				clear(row[w:])
			}
		case p.b16 != nil:
			// Widen the w stored rows to fp32 first, then transpose like the fp32 case.
			if len(ws.t) < nr*kcMax {
				ws.t = alignedFloats(nr * kcMax)
			}
			for x := 0; x < w; x++ {
				im.widen(ws.t[x*kc:x*kc+kc], p.b16[(j+x)*p.ldb+p0:][:kc])
			}
			transposePanel(im, panel, ws.t, kc, w, nr, kc)
		case !p.transB:
			for q := 0; q < kc; q++ {
				row := panel[q*nr : q*nr+nr]
				copy(row[:w], p.b[(p0+q)*p.ldb+j:])
				clear(row[w:])
			}
		default:
			transposePanel(im, panel, p.b[j*p.ldb+p0:], p.ldb, w, nr, kc)
		}
	}
}

// transposePanel writes panel[q·nr + x] = src[x·ls + q] for x < w, q < kc, and zeroes the
// columns w..nr.
func transposePanel(im *impl, panel, src []float32, ls, w, nr, kc int) {
	r8, c8 := 0, 0
	if im.transpose8 != nil {
		r8, c8 = w/8, kc/8
		im.transpose8(panel, src, nr, ls, r8, c8)
	}
	for x := 0; x < w; x++ {
		q0 := 0
		if x < 8*r8 {
			q0 = 8 * c8
		}
		s := src[x*ls:]
		for q := q0; q < kc; q++ {
			panel[q*nr+x] = s[q]
		}
	}
	if w < nr {
		for q := 0; q < kc; q++ {
			clear(panel[q*nr+w : q*nr+nr])
		}
	}
}

// widenBF16Go sets dst[i] = bf16(src[i]) for i < len(src).
func widenBF16Go(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = bf16(h)
	}
}

// roundWiden sets dst[i] to src[i] rounded to bfloat16 (tensors.BF16FromF32), as float32.
func roundWiden(dst, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = bf16(tensors.BF16FromF32(f))
	}
}

// bf16 widens bfloat16 bits to float32 (exact).
func bf16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
