package jpeg

import (
	"encoding/binary"
	"errors"
)

// Huffman tables and the bit reader. Semantics follow libjpeg-turbo's
// jdhuff.c: table validation in jpeg_make_d_derived_tbl, a bad code consumes
// 17 bits and yields symbol 0, a marker inside entropy data makes the reader
// supply zero bits (and the decoder then leaves the rest of the restart
// interval zero), and byte stuffing FF00 / fill bytes FF..FF00 are data 0xFF.

const lookBits = 10 // lookahead table size: 2^lookBits entries

type huffTable struct {
	// lut[peek] = codeLen<<8 | symbol for codes of length <= lookBits; 0 when
	// the code is longer.
	lut [1 << lookBits]uint16
	// fast[peek]: value<<16 | run<<8 | total bits, for entries whose code and
	// extra bits both fit in lookBits; 0 otherwise. AC tables leave out size 0
	// (EOB, ZRL); DC tables include it (a zero difference, run 0).
	fast      [1 << lookBits]int32
	maxcode   [18]int32 // largest code of each length, -1 if none; [17] sentinel
	valoffset [18]int32
	vals      [256]uint8
}

func buildHuffTable(counts [17]int, vals []byte, isDC bool) (*huffTable, error) {
	t := &huffTable{}
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

// extend is HUFF_EXTEND: interpret s raw bits as a signed magnitude category.
func extend(v int32, s uint) int32 {
	if v < 1<<(s-1) {
		return v - (1 << s) + 1
	}
	return v
}

// bitReader holds up to 64 bits, MSB first.
type bitReader struct {
	data     []byte
	pos      int
	acc      uint64
	n        uint // valid bits at the top of acc
	fake     uint // zero bits appended past a marker or the end of data
	marker   byte // marker that ended the segment (libjpeg's unread_marker)
	eof      bool // the data ended without a marker
	badCodes int  // invalid Huffman codes seen (libjpeg JWRN_HUFF_BAD_CODE)
}

func hasFF(x uint64) bool {
	y := ^x // 0xFF bytes become 0x00
	return (y-0x0101010101010101)&^y&0x8080808080808080 != 0
}

// refill brings n to at least 57 bits.
func (b *bitReader) refill() {
	if b.pos+8 <= len(b.data) && b.marker == 0 {
		x := binary.BigEndian.Uint64(b.data[b.pos:])
		if !hasFF(x) {
			b.acc |= x >> b.n
			b.pos += int(63-b.n) >> 3
			b.n |= 56
			return
		}
	}
	b.refillSlow()
}

func (b *bitReader) refillSlow() {
	for b.n <= 56 {
		if b.marker != 0 || b.pos >= len(b.data) {
			if b.marker == 0 {
				b.eof = true
			}
			b.n += 8
			b.fake += 8
			continue
		}
		c := b.data[b.pos]
		if c != 0xFF {
			b.acc |= uint64(c) << (56 - b.n)
			b.pos++
			b.n += 8
			continue
		}
		p := b.pos + 1
		for p < len(b.data) && b.data[p] == 0xFF {
			p++
		}
		if p >= len(b.data) {
			b.pos = len(b.data)
			continue
		}
		if b.data[p] == 0 {
			b.acc |= 0xFF << (56 - b.n)
			b.n += 8
			b.pos = p + 1
			continue
		}
		b.marker = b.data[p]
		b.pos = p + 1
	}
}

// consumedFake reports whether bits past the end of the segment were used.
func (b *bitReader) consumedFake() bool { return b.fake > b.n }

// reset discards buffered bits (at a restart marker).
func (b *bitReader) reset() {
	b.acc, b.n, b.fake, b.marker, b.eof = 0, 0, 0, 0, false // badCodes is kept
}

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
