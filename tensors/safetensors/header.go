package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/glmflow/glmflow/tensors"
)

// Format limits.
const (
	MaxHeaderSize = 100_000_000 // bytes, as in the reference implementation
	MaxRank       = 64          // this reader's bound on len(shape)
	metadataKey   = "__metadata__"
)

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType tensors.DType
	Shape []int
	Begin int64 // data_offsets[0]: byte offset within the data section (after the header)
	End   int64 // data_offsets[1]
}

// NBytes is End − Begin.
func (i Info) NBytes() int64 { return i.End - i.Begin }

// header is a parsed, validated header.
type header struct {
	infos    []Info         // sorted by name
	byName   map[string]int // index into infos
	metadata map[string]string
	dataLen  int64 // size of the data section
}

// parseHeader decodes and validates the N header bytes of file (fileSize bytes in all). Every
// allocation here is bounded by len(hdr), which the caller bounded by MaxHeaderSize and the
// file size.
func parseHeader(file string, hdr []byte, fileSize int64) (*header, error) {
	if !utf8.Valid(hdr) {
		return nil, errf(file, "", InvalidHeader, "header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errf(file, "", InvalidHeader, "header does not start with '{'")
	}
	p := &jsonWalk{file: file, dec: json.NewDecoder(bytes.NewReader(hdr))}
	p.dec.UseNumber()
	h := &header{byName: map[string]int{}}
	if err := p.delim('{', ""); err != nil {
		return nil, err
	}
	seenMeta := false
	for p.dec.More() {
		key, err := p.key("")
		if err != nil {
			return nil, err
		}
		if _, dup := h.byName[key]; dup || key == metadataKey && seenMeta {
			return nil, errf(file, key, DuplicateKey, "key %q appears twice", key)
		}
		if key == metadataKey {
			seenMeta = true
			if h.metadata, err = p.stringMap(BadMetadata, ""); err != nil {
				return nil, err
			}
			continue
		}
		info, err := p.tensorInfo(key)
		if err != nil {
			return nil, err
		}
		h.byName[key] = len(h.infos)
		h.infos = append(h.infos, info)
	}
	if err := p.delim('}', ""); err != nil {
		return nil, err
	}
	if rest := hdr[p.dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, errf(file, "", InvalidJSON, "trailing bytes after the header object")
	}

	// Offsets: sorted, they must tile [0, dataLen) exactly.
	order := make([]int, len(h.infos))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := h.infos[a], h.infos[b]
		if x.Begin != y.Begin {
			return cmp.Compare(x.Begin, y.Begin)
		}
		if x.End != y.End {
			return cmp.Compare(x.End, y.End)
		}
		return cmp.Compare(x.Name, y.Name)
	})
	var end int64
	for _, i := range order {
		in := h.infos[i]
		if in.Begin != end || in.End < in.Begin {
			return nil, errf(file, in.Name, InvalidOffset, "data_offsets [%d, %d], expected to begin at %d", in.Begin, in.End, end)
		}
		end = in.End
	}
	// Checked: 8 + N + end == fileSize.
	if end > math.MaxInt64-8-int64(len(hdr)) || 8+int64(len(hdr))+end != fileSize {
		return nil, errf(file, "", IncompleteBuffer, "data section is %d bytes, file has %d after the header", end, fileSize-8-int64(len(hdr)))
	}
	h.dataLen = end
	slices.SortFunc(h.infos, func(a, b Info) int { return cmp.Compare(a.Name, b.Name) })
	for i, in := range h.infos {
		h.byName[in.Name] = i
	}
	if h.metadata == nil {
		h.metadata = map[string]string{}
	}
	return h, nil
}

// jsonWalk is a token-level JSON reader that detects duplicate keys (encoding/json's
// Unmarshal silently keeps the last one).
type jsonWalk struct {
	file string
	dec  *json.Decoder
}

func (p *jsonWalk) token(tensor string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &FormatError{File: p.file, Tensor: tensor, Kind: InvalidJSON, Err: err}
	}
	return tok, nil
}

func (p *jsonWalk) delim(d json.Delim, tensor string) error {
	tok, err := p.token(tensor)
	if err != nil {
		return err
	}
	if tok != d {
		return errf(p.file, tensor, InvalidJSON, "want %q, got %v", d, tok)
	}
	return nil
}

func (p *jsonWalk) key(tensor string) (string, error) {
	tok, err := p.token(tensor)
	if err != nil {
		return "", err
	}
	return tok.(string), nil // inside an object the decoder only yields string keys
}

// stringMap reads an object of string values; null reads as an empty map. Non-string values
// are errors of kind k.
func (p *jsonWalk) stringMap(k Kind, tensor string) (map[string]string, error) {
	tok, err := p.token(tensor)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if tok == nil {
		return m, nil
	}
	if tok != json.Delim('{') {
		return nil, errf(p.file, tensor, k, "want an object of strings, got %v", tok)
	}
	for p.dec.More() {
		key, err := p.key(tensor)
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, errf(p.file, tensor, DuplicateKey, "key %q appears twice", key)
		}
		tok, err := p.token(tensor)
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, errf(p.file, tensor, k, "value of %q is %v, want a string", key, tok)
		}
		m[key] = v
	}
	return m, p.delim('}', tensor)
}

// uints reads an array of non-negative integers that fit in int64; at most maxLen of them.
func (p *jsonWalk) uints(name, field string, maxLen int) ([]int64, error) {
	if err := p.delim('[', name); err != nil {
		return nil, errf(p.file, name, TensorInvalidInfo, "%s is not an array", field)
	}
	var out []int64
	for p.dec.More() {
		tok, err := p.token(name)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, errf(p.file, name, TensorInvalidInfo, "%s holds %v, want integers", field, tok)
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && v > math.MaxInt64:
			return nil, errf(p.file, name, ValidationOverflow, "%s value %s overflows int64", field, num)
		case err != nil:
			return nil, errf(p.file, name, TensorInvalidInfo, "%s value %s is not a non-negative integer", field, num)
		}
		if len(out) == maxLen {
			return nil, errf(p.file, name, TensorInvalidInfo, "%s has more than %d entries", field, maxLen)
		}
		out = append(out, int64(v))
	}
	return out, p.delim(']', name)
}

func (p *jsonWalk) tensorInfo(name string) (Info, error) {
	in := Info{Name: name}
	if tok, err := p.token(name); err != nil {
		return in, err
	} else if tok != json.Delim('{') {
		return in, errf(p.file, name, TensorInvalidInfo, "want an object, got %v", tok)
	}
	var have [3]bool // dtype, shape, data_offsets
	var shape, offs []int64
	for p.dec.More() {
		field, err := p.key(name)
		if err != nil {
			return in, err
		}
		var idx int
		switch field {
		case "dtype":
			idx = 0
		case "shape":
			idx = 1
		case "data_offsets":
			idx = 2
		default:
			return in, errf(p.file, name, TensorInvalidInfo, "unknown field %q", field)
		}
		if have[idx] {
			return in, errf(p.file, name, DuplicateKey, "field %q appears twice", field)
		}
		have[idx] = true
		switch idx {
		case 0:
			tok, err := p.token(name)
			if err != nil {
				return in, err
			}
			s, ok := tok.(string)
			if !ok {
				return in, errf(p.file, name, TensorInvalidInfo, "dtype is %v, want a string", tok)
			}
			if in.DType, err = tensors.ParseDType(s); err != nil {
				return in, &FormatError{File: p.file, Tensor: name, Kind: UnknownDType, Err: err}
			}
		case 1:
			if shape, err = p.uints(name, "shape", MaxRank); err != nil {
				return in, err
			}
		case 2:
			if offs, err = p.uints(name, "data_offsets", 2); err != nil {
				return in, err
			}
		}
	}
	if err := p.delim('}', name); err != nil {
		return in, err
	}
	if !have[0] || !have[1] || !have[2] {
		return in, errf(p.file, name, TensorInvalidInfo, "needs dtype, shape and data_offsets")
	}
	if len(offs) != 2 {
		return in, errf(p.file, name, TensorInvalidInfo, "data_offsets has %d entries, want 2", len(offs))
	}
	in.Begin, in.End = offs[0], offs[1]
	in.Shape = make([]int, len(shape))
	for i, d := range shape {
		if d > math.MaxInt {
			return in, errf(p.file, name, ValidationOverflow, "dimension %d overflows int", d)
		}
		in.Shape[i] = int(d)
	}
	n, err := tensors.NumelOf(in.Shape)
	if err != nil || n > math.MaxInt64/int64(in.DType.Size()) {
		return in, errf(p.file, name, ValidationOverflow, "%v%v: byte size overflows int64", in.DType, in.Shape)
	}
	if in.End >= in.Begin && n*int64(in.DType.Size()) != in.End-in.Begin {
		return in, errf(p.file, name, TensorInvalidInfo, "%v%v is %d bytes, data_offsets [%d, %d] hold %d",
			in.DType, in.Shape, n*int64(in.DType.Size()), in.Begin, in.End, in.End-in.Begin)
	}
	return in, nil
}
