package jpeg

import "encoding/binary"

// Sequential (baseline / extended Huffman) scans. Each block is decoded and
// immediately inverse-transformed into its component plane while it is hot
// in cache; no coefficient buffer is kept.

// usePairs selects two-symbol AC decoding (huffTable.pair); tests turn it
// off to check it against one symbol at a time (every AC symbol through lut
// or decodeSlow).
var usePairs = true

// noPairs is a pair table without entries.
var noPairs [1 << pairBits]uint32

func (d *decoder) decodeSequential(br *bitReader) error {
	type scomp struct {
		c        *component
		dct, act *huffTable
		pair     *[1 << pairBits]uint32
	}
	var sc [4]scomp
	for i, ci := range d.scanComps {
		c := &d.comps[ci]
		dct, err := d.table(false, c.dcTbl)
		if err != nil {
			return err
		}
		act, err := d.table(true, c.acTbl)
		if err != nil {
			return err
		}
		if act.pair == nil {
			act.buildPair()
		}
		pair := act.pair
		if !usePairs {
			pair = &noPairs
		}
		sc[i] = scomp{c, dct, act, pair}
	}
	n := len(d.scanComps)
	mx, my := d.scanGeometry()
	restartsToGo := d.restartInterval
	nextRST := 0
	hasData := true
	var blk [64]int16
	for y := 0; y < my; y++ {
		for x := 0; x < mx; x++ {
			if d.restartInterval > 0 {
				if restartsToGo == 0 {
					ok, err := d.restart(br, &nextRST)
					if err != nil {
						return err
					}
					hasData = ok
					restartsToGo = d.restartInterval
				}
				restartsToGo--
			}
			for i := 0; i < n; i++ {
				s := &sc[i]
				c := s.c
				bh, bv := c.h, c.v
				if n == 1 {
					bh, bv = 1, 1
				}
				for v := 0; v < bv; v++ {
					for h := 0; h < bh; h++ {
						bx, by := x*bh+h, y*bv+v
						last := 0
						if hasData {
							var ok bool
							last, ok = decodeBlock(br, &blk, &c.pred, s.dct, s.act, s.pair)
							if last > 63 {
								d.warnings++ // run past the block end: silently clipped by libjpeg
							}
							if !ok {
								return errf(ErrFormat, "scan %d: DC coefficient overflow at block (%d,%d) of component %d", d.scanCount+1, bx, by, d.scanComps[i])
							}
						}
						if bx*8 >= c.dw || by*8 >= c.dh {
							continue
						}
						dst := c.plane[by*8*c.stride+bx*8:]
						if d.countWide && hasData && wideBlock(&blk, &c.q) {
							d.wideBlocks++
						}
						if !hasData {
							fillBlock(dst, c.stride, 128)
						} else if last == 0 {
							fillBlock(dst, c.stride, dcOnlyValue(blk[0], c.q[0]))
						} else {
							idctBlock(&blk, &c.q, dst, c.stride)
						}
					}
				}
			}
			if hasData && br.consumedFake() {
				if br.eof {
					return errf(ErrTruncated, "entropy data of scan %d ends early (MCU %d of %d)", d.scanCount+1, y*mx+x+1, mx*my)
				}
				hasData = false
				d.warnings++ // libjpeg: "insufficient data", rest of interval stays zero
			}
		}
		if !d.multiScan { // the scan holds every component: convert the finished band
			rowsPerMCU := 8
			d.out.emitReady(func(c *component) int {
				if n > 1 {
					return min((y+1)*8*c.v, c.dh)
				}
				return min((y+1)*rowsPerMCU, c.dh)
			})
		}
	}
	if br.eof {
		// Pillow's libjpeg suspends when it must read past the end of the
		// data, and Pillow then reports a truncated file.
		return errf(ErrTruncated, "data ends inside scan %d (no marker after the entropy data)", d.scanCount+1)
	}
	return nil
}

// decodeBlock decodes one sequential block into blk (natural order) and
// returns the highest zigzag index written (0: DC only).
//
// The hot path keeps the bit buffer and the read position in locals and
// refills with one 8-byte load when fewer than 32 bits remain (a symbol needs
// at most 16 code bits plus 15 value bits). AC symbols decode mostly two at a
// time through huffTable.pair; others go through lut or decodeSlow. Shift
// counts are masked with &63 so the compiler emits plain shifts.
func decodeBlock(br *bitReader, blk *[64]int16, pred *int32, dct, act *huffTable, pair *[1 << pairBits]uint32) (int, bool) {
	*blk = [64]int16{}
	acc, n := br.acc, br.n
	if n < 32 {
		br.refill()
		acc, n = br.acc, br.n
	}
	var diff int32
	if f := dct.fast[acc>>(64-lookBits)]; f != 0 {
		l := uint(f) & 63
		acc <<= l
		n -= l
		diff = f >> 16
	} else {
		br.acc, br.n = acc, n
		if s := br.decode(dct); s != 0 {
			diff = br.receiveExtend(uint(s))
		}
		acc, n = br.acc, br.n
	}
	if !addDC(pred, diff) {
		br.acc, br.n = acc, n
		return 0, false
	}
	blk[0] = int16(*pred)
	last := 0
	buf, pos := br.buf, br.pos
	for k := 1; k < 64; k++ {
		if n < 32 {
			if pos+8 <= len(buf) {
				x := binary.BigEndian.Uint64(buf[pos:])
				m := (64 - n) >> 3
				acc |= x >> (n & 63)
				pos += int(m)
				n += m << 3
			} else {
				br.acc, br.n, br.pos = acc, n, pos
				br.refillTail()
				acc, n, pos = br.acc, br.n, br.pos
			}
		}
		peek := acc >> (64 - pairBits)
		if e := pair[peek]; e != 0 && (k+int(e>>6&15) < 63 || e&(31<<10) == 0) {
			l := uint(e) & 63
			acc <<= l
			n -= l
			k += int(e>>6) & 15
			blk[zigzag128[k&127]&63] = int16(int32(e) >> 23)
			k += int(e>>10) & 31
			blk[zigzag128[k&127]&63] = int16(int32(e<<9) >> 24)
			last = k
			continue
		}
		var sym int32
		if e := act.lut[peek>>(pairBits-lookBits)]; e != 0 {
			l := uint(e>>8) & 63
			acc <<= l
			n -= l
			sym = int32(e & 0xFF)
		} else {
			br.acc, br.n = acc, n
			sym = br.decodeSlow(act)
			acc, n = br.acc, br.n
		}
		r, sz := int(sym>>4), uint(sym&15)
		if sz != 0 {
			k += r
			v := int32(acc >> (64 - sz))
			acc <<= sz
			n -= sz
			blk[zigzag128[k&127]&63] = int16(extend(v, sz))
			last = k
		} else {
			if r != 15 {
				break
			}
			k += 15
		}
	}
	br.acc, br.n, br.pos = acc, n, pos
	return last, true
}

func fillBlock(dst []uint8, stride int, v uint8) {
	for r := 0; r < 8; r++ {
		row := dst[r*stride : r*stride+8]
		for i := range row {
			row[i] = v
		}
	}
}
