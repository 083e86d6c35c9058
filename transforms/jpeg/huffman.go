package jpeg

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Huffman tables and the bit reader. Semantics follow libjpeg-turbo's
// jdhuff.c: table validation in jpeg_make_d_derived_tbl, a bad code consumes
// 17 bits and yields symbol 0, a marker inside entropy data makes the reader
// supply zero bits (and the decoder then leaves the rest of the restart
// interval zero), and byte stuffing FF00 / fill bytes FF..FF00 are data 0xFF.

const lookBits = 10 // lookahead table size: 2^lookBits entries

// pairBits is the lookahead of the AC pair table: 2^pairBits uint32 entries.
const pairBits = 12

type huffTable struct {
	// lut[peek] = codeLen<<8 | symbol for codes of length <= lookBits; 0 when
	// the code is longer.
	lut [1 << lookBits]uint16
	// fast[peek]: value<<16 | run<<8 | total bits, for entries whose code and
	// extra bits both fit in lookBits; 0 otherwise. AC tables leave out size 0
	// (EOB, ZRL); DC tables include it (a zero difference, run 0).
	fast [1 << lookBits]int32
	// pair[peek] decodes up to two AC symbols whose codes and value bits all
	// fit in pairBits (see buildPair); built by the first sequential scan
	// that uses the table, nil until then.
	pair      *[1 << pairBits]uint32
	maxcode   [18]int32 // largest code of each length, -1 if none; [17] sentinel
	valoffset [18]int32
	vals      [256]uint8
	counts    [17]int // codes of each length (DHT BITS)
}

func buildHuffTable(counts [17]int, vals []byte, isDC bool) (*huffTable, error) {
	t := &huffTable{counts: counts}
	copy(t.vals[:], vals)
	if isDC {
		for _, v := range vals {
			if v > 15 {
				return nil, errors.New("DC symbol > 15")
			}
		}
	}
	code, p := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l])
		if n > 0 {
			t.valoffset[l] = p - code
			p += n
			code += n
			t.maxcode[l] = code - 1
		} else {
			t.maxcode[l] = -1
		}
		// libjpeg: "no code is allowed to be all ones"
		if n > 0 && code >= 1<<l {
			return nil, errors.New("code space overflow (all-ones code)")
		}
		code <<= 1
	}
	t.maxcode[17] = 0x7fffffff
	// Lookahead tables.
	code, p = 0, 0
	for l := 1; l <= lookBits; l++ {
		for i := 0; i < counts[l]; i++ {
			sym := t.vals[p]
			shift := lookBits - l
			base := int(code) << shift
			for j := 0; j < 1<<shift; j++ {
				idx := base | j
				t.lut[idx] = uint16(l)<<8 | uint16(sym)
				run, size := int(sym>>4), int(sym&15)
				if isDC {
					run, size = 0, int(sym)
					if l+size > lookBits {
						continue
					}
					if size == 0 {
						t.fast[idx] = int32(l)
						continue
					}
				} else if size == 0 || l+size > lookBits {
					continue
				}
				bits := (idx >> (lookBits - l - size)) & (1<<size - 1)
				val := extend(int32(bits), uint(size))
				t.fast[idx] = val<<16 | int32(run)<<8 | int32(l+size)
			}
			code++
			p++
		}
		code <<= 1
	}
	return t, nil
}

// AC pair table entries (0: not decodable here, use lut / decodeSlow):
//
//	bits 0..5   total bits of the one or two symbols (codes and value bits)
//	bits 6..9   run of the first symbol
//	bits 10..14 0 for one symbol; 1 + run of the second symbol for two
//	bits 15..22 value of the second symbol (int8); equals the first for one
//	bits 23..31 value of the first symbol (int9)
//
// Only symbols with size 1..7 are included (so both values fit in int8),
// never EOB or ZRL. Decoding an entry at zigzag index k (the next
// coefficient): k += run1, store v1 at k, k += adv2, store v2 at k; a single
// symbol stores its value twice at the same index. A second symbol belongs to
// the block only if k+run1 < 63 (libjpeg's loop stops after index 63), which
// the decoder checks before taking a pair.
func (t *huffTable) buildPair() {
	const size = 1 << pairBits
	var single [size]uint16 // code length<<8 | symbol for codes of length <= pairBits; 0 otherwise
	code, p := 0, 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < t.counts[l]; i++ {
			if l <= pairBits {
				base := code << (pairBits - l)
				for j := 0; j < 1<<(pairBits-l); j++ {
					single[base|j] = uint16(l)<<8 | uint16(t.vals[p])
				}
			}
			code++
			p++
		}
		code <<= 1
	}
	// first decodes the symbol at the top of the bits idx (width w <= pairBits):
	// its total length, run and value, ok only if it fits in w bits.
	first := func(idx, w int) (total, run int, val int32, ok bool) {
		e := single[(idx<<(pairBits-w))&(size-1)]
		if e == 0 {
			return
		}
		l, sym := int(e>>8), int(e&0xFF)
		run, sz := sym>>4, sym&15
		if sz == 0 || sz > 7 || l+sz > w {
			return
		}
		bits := (idx >> (w - l - sz)) & (1<<sz - 1)
		return l + sz, run, extend(int32(bits), uint(sz)), true
	}
	pt := new([size]uint32)
	for idx := range size {
		t1, r1, v1, ok := first(idx, pairBits)
		if !ok {
			continue
		}
		e := uint32(t1) | uint32(r1)<<6 | uint32(uint8(int8(v1)))<<15 | uint32(v1)<<23
		rest := pairBits - t1
		if rest > 0 {
			if t2, r2, v2, ok := first(idx&(1<<rest-1), rest); ok {
				e = uint32(t1+t2) | uint32(r1)<<6 | uint32(1+r2)<<10 | uint32(uint8(int8(v2)))<<15 | uint32(v1)<<23
			}
		}
		pt[idx] = e
	}
	t.pair = pt
}

// extend is HUFF_EXTEND: interpret s raw bits as a signed magnitude category.
func extend(v int32, s uint) int32 {
	if v < 1<<(s-1) {
		return v - (1 << s) + 1
	}
	return v
}

// bitReader reads one entropy-coded segment (the data between two markers)
// MSB first. start copies the segment with its byte stuffing removed (FF00 and
// fill bytes FF..FF00 become one 0xFF) into buf, followed by 8 zero bytes, so
// that a refill is one unaligned 8-byte load with no per-byte checks; past
// the segment the reader supplies zero bits, as libjpeg does after a marker
// or at the end of the data.
type bitReader struct {
	buf  []byte // unstuffed segment bytes, then 8 zero bytes
	real int    // number of segment bytes in buf
	pos  int    // next byte of buf to load; counts on past len(buf) in zeros
	acc  uint64 // bit buffer, next bit at the top; bits below n are also segment bits or zero
	n    uint   // valid bits at the top of acc

	marker   byte // marker that ends the segment (libjpeg's unread_marker); 0 if none
	next     int  // position in the source after the segment: after the marker code, or len(data)
	eof      bool // the segment runs to the end of the data without a marker
	badCodes int  // invalid Huffman codes seen (libjpeg JWRN_HUFF_BAD_CODE)
}

// start loads the segment of data that begins at pos.
func (b *bitReader) start(data []byte, pos int) {
	buf := b.buf[:0]
	if cap(buf) < len(data)-pos+8 {
		buf = make([]byte, 0, len(data)-pos+8)
	}
	b.marker, b.eof = 0, false
	for {
		i := bytes.IndexByte(data[pos:], 0xFF)
		if i < 0 {
			buf = append(buf, data[pos:]...)
			pos, b.eof = len(data), true
			break
		}
		buf = append(buf, data[pos:pos+i]...)
		p := pos + i + 1
		for p < len(data) && data[p] == 0xFF {
			p++
		}
		if p >= len(data) {
			pos, b.eof = len(data), true
			break
		}
		if data[p] == 0 {
			buf = append(buf, 0xFF)
			pos = p + 1
			continue
		}
		b.marker, pos = data[p], p+1
		break
	}
	b.real = len(buf)
	b.buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	b.next = pos
	b.pos, b.acc, b.n = 0, 0, 0
}

// startEmpty makes the reader supply only zero bits, with marker m (read by
// the caller, who is now at pos) pending.
func (b *bitReader) startEmpty(m byte, pos int) {
	b.buf = append(b.buf[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	b.real, b.pos, b.acc, b.n = 0, 0, 0, 0
	b.marker, b.next, b.eof = m, pos, false
}

// refill brings n to at least 57 bits: it takes the next (64-n)/8 whole
// bytes, exactly what a byte-at-a-time reader filling to more than 56 bits
// would take. n must be at most 56.
func (b *bitReader) refill() {
	if b.pos+8 <= len(b.buf) {
		x := binary.BigEndian.Uint64(b.buf[b.pos:])
		k := (64 - b.n) >> 3
		b.acc |= x >> (b.n & 63)
		b.pos += int(k)
		b.n += k << 3
		return
	}
	b.refillTail()
}

// refillTail refills from the last 8 bytes of buf and beyond (zeros).
func (b *bitReader) refillTail() {
	for b.n <= 56 {
		if b.pos < len(b.buf) {
			b.acc |= uint64(b.buf[b.pos]) << (56 - b.n)
		}
		b.pos++
		b.n += 8
	}
}

// consumedFake reports whether bits past the end of the segment were used.
func (b *bitReader) consumedFake() bool { return b.pos*8-int(b.n) > b.real*8 }

// decodeSlow decodes one symbol for codes longer than lookBits (or bad
// codes), following jpeg_huff_decode. n >= 17 must hold.
func (b *bitReader) decodeSlow(t *huffTable) int32 {
	l := uint(lookBits + 1)
	code := int32(b.acc >> (64 - l))
	for code > t.maxcode[l] {
		l++
		code = int32(b.acc >> (64 - l))
		if l == 17 {
			break
		}
	}
	b.acc <<= l
	b.n -= l
	if l > 16 {
		b.badCodes++
		return 0
	}
	return int32(t.vals[(code+t.valoffset[l])&0xFF])
}

// decode returns the next symbol. The caller guarantees n >= 17 bits... it
// refills itself when needed.
func (b *bitReader) decode(t *huffTable) int32 {
	if b.n < 17 {
		b.refill()
	}
	e := t.lut[b.acc>>(64-lookBits)]
	if e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return int32(e & 0xFF)
	}
	return b.decodeSlow(t)
}

// receiveExtend reads s (1..15) bits and sign-extends them.
func (b *bitReader) receiveExtend(s uint) int32 {
	if b.n < s {
		b.refill()
	}
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	return extend(v, s)
}

func (b *bitReader) bit() bool {
	if b.n < 1 {
		b.refill()
	}
	v := b.acc >> 63
	b.acc <<= 1
	b.n--
	return v != 0
}

func (b *bitReader) bits(s uint) int32 {
	if b.n < s {
		b.refill()
	}
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	return v
}
