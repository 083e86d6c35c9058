package gemm

import (
	"unsafe"

	"github.com/glmflow/glmflow/tensors"
)

// Packing for the bf16 pair kernel (PathAVX512BF16). VDPBF16PS multiplies bf16 pairs along
// k, so both operands are packed with k pairs adjacent; a pass with odd kc gets a zero
// second half in its last pair (kp = ⌈kc/2⌉ pairs).
//
// A block: panels of mr rows, panel t at t·mr·aStride16 (bf16 elements), in one of two
// layouts (the kernels read one 32-bit pair per row and k step and broadcast it):
//
//	row-major (op(A) = A, stored [m,k]):  panel[r·aStride16 + p]     = op(A)[i0+t·mr+r, p0+p]
//	k-major   (op(A) = Aᵀ, stored [k,m]): panel[2·(q·mr + r) + e]    = op(A)[i0+t·mr+r, p0+2q+e]
//
// B block: panels of nr columns, panel at jp·2kp: b[jp·2kp + 2·(q·nr + j) + e] =
// op(B)[p0+2q+e, j0+jp+j]; columns past n are zero.
//
// Row-major A is a copy (or tensors.F32ToBF16 for SgemmBF16Round); with even k the pair
// kernel reads a row-major bf16 A in place instead (its rows lda apart: aInPlace16), so only
// odd k and SgemmBF16Round pack it. B stored [k,n] and
// k-major A interleave two source rows (im.interleave, AVX-512BW assembly); k-major A
// interleaves whole rows into ws.t16 first, then hands each panel its 6 pairs. B stored
// [n,k] (the weight layout) is a transpose of 32-bit pairs and reuses the float32 8×8
// assembly transpose on a 32-bit view of the bf16 rows (even ldb, aligned rows; otherwise
// element by element). The 32-bit views assume little-endian pairs (amd64, the only
// architecture with a pair kernel).

// ensure16 grows the bf16 buffers to hold an mc-row A block and a kc × nc B block.
func (ws *workspace) ensure16(mr, nr, mc, kc, nc int) {
	if n := roundUp(mc, mr) * aStride16; len(ws.a16) < n {
		ws.a16 = alignedU16(n)
	}
	if n := (kc + 1) &^ 1 * roundUp(nc, nr); len(ws.b16) < n {
		ws.b16 = alignedU16(n)
	}
}

// alignedU16 returns n zeroed uint16s starting on a 64-byte boundary.
func alignedU16(n int) []uint16 {
	s := make([]uint16, n+32)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 2
	if off != 0 {
		off = 32 - off
	}
	return s[off : off+n : off+n]
}

// pairs returns s[0:2n] viewed as n 32-bit pairs, as float32 so the float32 transposes apply
// (bits are only moved). s must start 4-byte aligned.
func pairs(s []uint16, n int) []float32 {
	if n == 0 {
		return nil
	}
	_ = s[2*n-1]
	return unsafe.Slice((*float32)(unsafe.Pointer(&s[0])), n)
}

// words64 views s (8-byte aligned, as the workspace buffers are) as len(s)/4 uint64s.
func words64(s []uint16) []uint64 {
	if len(s) < 4 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s)/4)
}

// aligned4 reports whether s starts on a 4-byte boundary.
func aligned4(s []uint16) bool { return len(s) == 0 || uintptr(unsafe.Pointer(&s[0]))&3 == 0 }

// zero16 is the missing second row of an odd k pass (never written).
var zero16 [256]uint16

// interleaveGo sets dst[2i] = r0[i], dst[2i+1] = r1[i] for i < len(r0).
func interleaveGo(dst, r0, r1 []uint16) {
	dst = dst[:2*len(r0)]
	r1 = r1[:len(r0)]
	for i, v := range r0 {
		dst[2*i], dst[2*i+1] = v, r1[i]
	}
}

// a16At returns op(A)'s storage element idx as bf16 bits (rounding float32 A).
func (p *problem) a16At(idx int) uint16 {
	if p.roundA {
		return tensors.BF16FromF32(p.a[idx])
	}
	return p.a16[idx]
}

// packA16 packs op(A)[i0:i0+mc, p0:p0+kc] into dst as mr-row bf16 panels (layouts above).
func (p *problem) packA16(im *impl, ws *workspace, i0, mc, p0, kc int) {
	mr, dst := im.dmr, ws.a16
	panel := mr * aStride16
	if !p.transA {
		for ir := 0; ir < mc; ir += mr {
			d := dst[ir/mr*panel:]
			for r := 0; r < min(mr, mc-ir); r++ {
				row := d[r*aStride16 : r*aStride16+kc+kc&1]
				off := (i0+ir+r)*p.lda + p0
				if p.roundA {
					tensors.F32ToBF16(row, p.a[off:off+kc])
				} else {
					copy(row, p.a16[off:off+kc])
				}
				if kc&1 != 0 {
					row[kc] = 0
				}
			}
		}
		return
	}
	// k-major: pair (r, q) takes A rows p0+2q and p0+2q+1 at column i0+ir+r. With
	// im.interleaveK6 each pair of source rows (after rounding, for float32 A) goes straight
	// into the panels, 48 columns at a time; the columns left over are interleaved into ws.t16
	// and each panel copies its 2·mr elements from there.
	kp := (kc + 1) / 2
	if len(ws.t16) < 4*mc {
		ws.t16 = alignedU16(4 * mc)
	}
	il, t0, t1 := ws.t16[:2*mc], ws.t16[2*mc:3*mc], ws.t16[3*mc:4*mc]
	for q := 0; q < kp; q++ {
		if !p.roundA && im.prefetch16 != nil && 2*(q+packAhead)+1 < kc {
			im.prefetch16(p.a16[(p0+2*(q+packAhead))*p.lda+i0:], 2, p.lda, mc)
		}
		s0 := (p0+2*q)*p.lda + i0
		a0, a1 := t0, t1
		switch {
		case p.roundA:
			tensors.F32ToBF16(a0, p.a[s0:s0+mc])
			if 2*q+1 < kc {
				tensors.F32ToBF16(a1, p.a[s0+p.lda:s0+p.lda+mc])
			}
		default:
			a0 = p.a16[s0 : s0+mc]
			if 2*q+1 < kc {
				a1 = p.a16[s0+p.lda : s0+p.lda+mc]
			}
		}
		if 2*q+1 == kc {
			clear(t1)
		}
		ir := 0
		if mr == 6 && im.interleaveK6 != nil {
			// Straight into the panels, 48 columns at a time (the rest below).
			ir = im.interleaveK6(dst[12*q:], a0[:mc], a1[:mc], panel)
			if ir == mc {
				continue
			}
		}
		im.interleave(il[2*ir:], a0[ir:mc], a1[ir:mc])
		if mr == 6 && panel%4 == 0 {
			// The common case as three 64-bit moves per panel (a [12]uint16 copy compiles to
			// a memmove call): 6 pairs at il[2·ir] go to dst[t·panel + 12q], all 8-byte aligned.
			il64, d64 := words64(il), words64(dst)
			for ; ir+6 <= mc; ir += 6 {
				s, d := ir/2, (ir/6*panel+12*q)/4
				d64[d], d64[d+1], d64[d+2] = il64[s], il64[s+1], il64[s+2]
			}
		}
		for ; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			copy(dst[ir/mr*panel+2*q*mr:][:2*rows], il[2*ir:])
		}
	}
}

// packB16 packs op(B)[p0:p0+kc, j0:j0+nc] (bf16 in p.b16) into ws.b16 as nr-wide pair
// panels (layout above).
func (p *problem) packB16(im *impl, nr int, ws *workspace, p0, kc, j0, nc int) {
	kp := (kc + 1) / 2
	if !p.transB {
		// Stored [k,n]: row pairs outer, panels inner, so the source is read row by row
		// (sequentially) rather than down a 2·nr-byte column strip per panel.
		for q := 0; q < kp; q++ {
			if im.prefetch16 != nil && 2*(q+packAhead)+1 < kc {
				im.prefetch16(p.b16[(p0+2*(q+packAhead))*p.ldb+j0:], 2, p.ldb, nc)
			}
			r0 := p.b16[(p0+2*q)*p.ldb+j0:][:nc]
			r1 := zero16[:0]
			if 2*q+1 < kc {
				r1 = p.b16[(p0+2*q+1)*p.ldb+j0:][:nc]
			}
			for jp := 0; jp < nc; jp += nr {
				w := min(nr, nc-jp)
				row := ws.b16[jp*2*kp+2*q*nr : jp*2*kp+2*(q+1)*nr]
				b1 := zero16[:w]
				if len(r1) > 0 {
					b1 = r1[jp : jp+w]
				}
				im.interleave(row, r0[jp:jp+w], b1)
				clear(row[2*w:])
			}
		}
		return
	}
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := ws.b16[jp*2*kp : (jp+nr)*2*kp]
		j := j0 + jp
		if im.prefetch16 != nil && jp+nr < nc {
			// The next panel's nr source rows: too many streams for the hardware prefetcher
			// (0.4–0.8% on the vision step).
			im.prefetch16(p.b16[(j+nr)*p.ldb+p0:], min(nr, nc-jp-nr), p.ldb, kc)
		}
		// Stored [n,k]: panel pair (q, x) is the 32-bit pair q of B row j+x.
		src := p.b16[j*p.ldb+p0:]
		r8, c8 := 0, 0
		if im.transpose8 != nil && p.ldb%2 == 0 && aligned4(src) {
			r8, c8 = w/8, kc/2/8
			if r8 > 0 && c8 > 0 {
				ls := p.ldb / 2
				im.transpose8(pairs(panel, kp*nr), pairs(src, (8*r8-1)*ls+8*c8), nr, ls, r8, c8)
			}
		}
		for x := 0; x < w; x++ {
			q0 := 0
			if x < 8*r8 {
				q0 = 8 * c8
			}
			s := src[x*p.ldb:]
			for q := q0; q < kp; q++ {
				panel[2*(q*nr+x)] = s[2*q]
				if 2*q+1 < kc {
					panel[2*(q*nr+x)+1] = s[2*q+1]
				} else {
					panel[2*(q*nr+x)+1] = 0
				}
			}
		}
		if w < nr {
			for q := 0; q < kp; q++ {
				clear(panel[2*(q*nr+w) : 2*(q+1)*nr])
			}
		}
	}
}

// packAhead is how many k pairs ahead the k-major packing loops prefetch their source rows
// (im.prefetch16): the weight-gradient GEMMs pack activations written long before, mostly
// out of cache; 4–16 measured alike, 1.6–1.8% on the vision training step, 7–9% on its
// 384×384×2048 weight gradient.
const packAhead = 8
