package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/glmflow/glmflow/tensors"
)

// Frame layout (little endian). Header, 32 bytes:
//
//	magic "GLMF" | version u8 | type u8 | reserved u16 | from u32 |
//	tag kind u8 | reserved 3 bytes | tag chunk i32 | tag mb i32 | payload length u64
//
// Payload of a data frame: count u32, then per tensor (in name order)
//
//	name length u16 | name | dtype length u8 | dtype name ("F32", …) | ndim u8 |
//	dims u64 × ndim | the tensor's bytes (dtype size × Π dims)
//
// An abort frame's payload is the error text; hello and table frames carry JSON. Every
// length is checked against the payload length, and the payload length against the
// configured maximum, before anything is allocated.
const (
	frameMagic   = "GLMF"
	frameVersion = 1
	headerSize   = 32
	maxNameLen   = 1 << 12
	maxDims      = 8
)

type frameType uint8

const (
	frameData  frameType = 1
	frameAbort frameType = 2
	frameBye   frameType = 3
	frameHello frameType = 4
	frameTable frameType = 5
)

type header struct {
	typ     frameType
	from    int
	tag     Tag
	payload uint64
}

func putHeader(b []byte, h header) {
	copy(b, frameMagic)
	b[4] = frameVersion
	b[5] = byte(h.typ)
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint32(b[8:], uint32(h.from))
	b[12] = byte(h.tag.Kind)
	b[13], b[14], b[15] = 0, 0, 0
	binary.LittleEndian.PutUint32(b[16:], uint32(int32(h.tag.Chunk)))
	binary.LittleEndian.PutUint32(b[20:], uint32(int32(h.tag.MB)))
	binary.LittleEndian.PutUint64(b[24:], h.payload)
}

func readHeader(r io.Reader, maxPayload uint64) (header, error) {
	var b [headerSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return header{}, err
	}
	if string(b[:4]) != frameMagic {
		return header{}, fmt.Errorf("bad frame: magic %q, want %q", b[:4], frameMagic)
	}
	if b[4] != frameVersion {
		return header{}, fmt.Errorf("bad frame: protocol version %d, want %d", b[4], frameVersion)
	}
	h := header{
		typ:  frameType(b[5]),
		from: int(binary.LittleEndian.Uint32(b[8:])),
		tag: Tag{Kind: Kind(b[12]), Chunk: int(int32(binary.LittleEndian.Uint32(b[16:]))),
			MB: int(int32(binary.LittleEndian.Uint32(b[20:])))},
		payload: binary.LittleEndian.Uint64(b[24:]),
	}
	if h.typ < frameData || h.typ > frameTable {
		return header{}, fmt.Errorf("bad frame: type %d", h.typ)
	}
	if h.payload > maxPayload {
		return header{}, fmt.Errorf("bad frame: payload of %d bytes exceeds the limit of %d", h.payload, maxPayload)
	}
	return h, nil
}

// dataPayloadSize is the payload length of a data frame holding ts.
func dataPayloadSize(names []string, ts Tensors) uint64 {
	n := uint64(4)
	for _, name := range names {
		t := ts[name]
		n += 2 + uint64(len(name)) + 1 + uint64(len(t.DType().String())) + 1 + 8*uint64(len(t.Shape())) + uint64(t.NBytes())
	}
	return n
}

// writeData writes a data frame.
func writeData(w *bufio.Writer, from int, tag Tag, ts Tensors) error {
	names := make([]string, 0, len(ts))
	for n, t := range ts {
		if t == nil {
			return fmt.Errorf("tensor %q is nil", n)
		}
		if t.Device() != tensors.CPU || t.Bytes() == nil {
			return fmt.Errorf("tensor %q is on %v: download it to the host before sending", n, t.Device())
		}
		if len(n) > maxNameLen || len(t.Shape()) > maxDims {
			return fmt.Errorf("tensor %q: name or rank too long to send", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var hb [headerSize]byte
	putHeader(hb[:], header{typ: frameData, from: from, tag: tag, payload: dataPayloadSize(names, ts)})
	w.Write(hb[:])
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(len(names)))
	w.Write(b[:4])
	for _, n := range names {
		t := ts[n]
		binary.LittleEndian.PutUint16(b[:], uint16(len(n)))
		w.Write(b[:2])
		w.WriteString(n)
		dt := t.DType().String()
		w.WriteByte(byte(len(dt)))
		w.WriteString(dt)
		w.WriteByte(byte(len(t.Shape())))
		for _, d := range t.Shape() {
			binary.LittleEndian.PutUint64(b[:], uint64(d))
			w.Write(b[:])
		}
		if _, err := w.Write(t.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// readData reads a data frame's payload of n bytes.
func readData(r io.Reader, n uint64) (Tensors, error) {
	lr := &limited{r: r, n: n}
	var b [8]byte
	if err := lr.full(b[:4]); err != nil {
		return nil, err
	}
	count := binary.LittleEndian.Uint32(b[:])
	if uint64(count) > n/12 { // each tensor takes at least 12 bytes
		return nil, fmt.Errorf("bad data frame: %d tensors in %d bytes", count, n)
	}
	ts := make(Tensors, count)
	for i := range count {
		if err := lr.full(b[:2]); err != nil {
			return nil, err
		}
		nameLen := int(binary.LittleEndian.Uint16(b[:]))
		if nameLen > maxNameLen {
			return nil, fmt.Errorf("bad data frame: tensor %d: name of %d bytes", i, nameLen)
		}
		name := make([]byte, nameLen)
		if err := lr.full(name); err != nil {
			return nil, err
		}
		if err := lr.full(b[:1]); err != nil {
			return nil, err
		}
		dtName := make([]byte, b[0])
		if err := lr.full(dtName); err != nil {
			return nil, err
		}
		dt, err := tensors.ParseDType(string(dtName))
		if err != nil {
			return nil, fmt.Errorf("bad data frame: tensor %q: %w", name, err)
		}
		if err := lr.full(b[:1]); err != nil {
			return nil, err
		}
		ndim := int(b[0])
		if ndim > maxDims {
			return nil, fmt.Errorf("bad data frame: tensor %q has %d dimensions", name, ndim)
		}
		shape := make([]int, ndim)
		size := uint64(dt.Size())
		for d := range shape {
			if err := lr.full(b[:]); err != nil {
				return nil, err
			}
			v := binary.LittleEndian.Uint64(b[:])
			if v > lr.n || (v > 0 && size > lr.n/v) {
				return nil, fmt.Errorf("bad data frame: tensor %q: shape does not fit the %d bytes left", name, lr.n)
			}
			shape[d] = int(v)
			size *= v
		}
		if size > lr.n {
			return nil, fmt.Errorf("bad data frame: tensor %q needs %d bytes, %d left", name, size, lr.n)
		}
		if _, dup := ts[string(name)]; dup {
			return nil, fmt.Errorf("bad data frame: tensor %q twice", name)
		}
		t := tensors.New(dt, shape...)
		if err := lr.full(t.Bytes()); err != nil {
			return nil, err
		}
		ts[string(name)] = t
	}
	if lr.n != 0 {
		return nil, fmt.Errorf("bad data frame: %d bytes after the last tensor", lr.n)
	}
	return ts, nil
}

// limited reads at most n bytes and reports overruns as frame errors.
type limited struct {
	r io.Reader
	n uint64
}

func (l *limited) full(b []byte) error {
	if uint64(len(b)) > l.n {
		return fmt.Errorf("bad data frame: needs %d more bytes, %d left in the frame", len(b), l.n)
	}
	if _, err := io.ReadFull(l.r, b); err != nil {
		return err
	}
	l.n -= uint64(len(b))
	return nil
}
