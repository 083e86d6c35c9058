package prepare

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/glmflow/glmflow/datasets/shard"
)

// Samples travel between pipeline steps as bytes in this encoding (all integers little-endian
// or unsigned varints):
//
//	uvarint len, source_file bytes | varint source_row
//	uvarint T | T × int32 input_ids | T × int32 labels
//	uvarint I | I × (3 × int32 grid, uvarint len, pixel bytes)
//
// Beam only moves and groups these bytes; the shard writer decodes them. A fixed encoding of
// our own keeps the element coder out of the determinism argument.

// encodeSample appends the encoding of s to dst.
func encodeSample(dst []byte, s *shard.Sample) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.SourceFile)))
	dst = append(dst, s.SourceFile...)
	dst = binary.AppendVarint(dst, s.SourceRow)
	dst = binary.AppendUvarint(dst, uint64(len(s.InputIDs)))
	for _, v := range s.InputIDs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
	}
	for _, v := range s.Labels {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Grids)))
	for k, g := range s.Grids {
		for _, v := range g {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
		dst = binary.AppendUvarint(dst, uint64(len(s.Pixels[k])))
		dst = append(dst, s.Pixels[k]...)
	}
	return dst
}

var errShort = errors.New("truncated")

// decoder reads an encoded sample, checking every length against the bytes left.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(limit uint64) int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.err = fmt.Errorf("bad length (limit %d)", limit)
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = errShort
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) int32s(n int) []int32 {
	raw := d.bytes(4 * n)
	if d.err != nil {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// decodeSample decodes b (the sample's slices alias b).
func decodeSample(b []byte) (*shard.Sample, error) {
	d := &decoder{b: b}
	s := &shard.Sample{}
	s.SourceFile = string(d.bytes(d.uvarint(shard.MaxSourceName)))
	if d.err == nil {
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errShort
		} else {
			s.SourceRow, d.b = v, d.b[n:]
		}
	}
	t := d.uvarint(uint64(min(shard.MaxTokens, len(b)/8)))
	s.InputIDs = d.int32s(t)
	s.Labels = d.int32s(t)
	ni := d.uvarint(uint64(min(shard.MaxImages, len(b)/12)))
	if d.err == nil {
		s.Grids = make([][3]int32, ni)
		s.Pixels = make([][]byte, ni)
	}
	for k := 0; k < ni && d.err == nil; k++ {
		copy(s.Grids[k][:], d.int32s(3))
		s.Pixels[k] = d.bytes(d.uvarint(uint64(len(d.b))))
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("encoded sample: %w", d.err)
	}
	return s, nil
}
