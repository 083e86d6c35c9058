package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glmflow/glmflow/tensors"
)

// Entry is one tensor to write: its header fields up front, its bytes on demand, so a
// checkpoint can be written without holding all of it in memory.
type Entry struct {
	Name  string
	DType tensors.DType
	Shape []int
	// Data writes exactly numel × dtype size little-endian bytes to w. It is called once, in
	// file order, after the header is written.
	Data func(w io.Writer) error
}

// TensorEntry makes an Entry from a host tensor (its bytes are written as they are).
func TensorEntry(name string, t *tensors.Tensor) Entry {
	return Entry{Name: name, DType: t.DType(), Shape: t.Shape(), Data: func(w io.Writer) error {
		b := t.Bytes()
		if b == nil && t.NBytes() > 0 {
			return fmt.Errorf("tensor %q: %v is not in host memory", name, t)
		}
		_, err := w.Write(b)
		return err
	}}
}

func entriesOf(ts map[string]*tensors.Tensor) []Entry {
	out := make([]Entry, 0, len(ts))
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		out = append(out, TensorEntry(name, ts[name]))
	}
	return out
}

// Write writes ts and metadata to path (atomically: temp file, fsync, rename).
func Write(path string, ts map[string]*tensors.Tensor, metadata map[string]string) error {
	return WriteEntries(path, entriesOf(ts), metadata)
}

// dtypeRank orders dtypes by alignment as the reference writer's Dtype enum does (BOOL lowest,
// U64 highest); the writer sorts by rank descending, then name.
var dtypeRank = map[tensors.DType]int{
	tensors.Bool: 0, tensors.U8: 1, tensors.I8: 2, tensors.F8E5M2: 3, tensors.F8E4M3: 4,
	tensors.I16: 5, tensors.U16: 6, tensors.F16: 7, tensors.BF16: 8, tensors.I32: 9,
	tensors.U32: 10, tensors.F32: 11, tensors.F64: 12, tensors.I64: 13, tensors.U64: 14,
}

type planned struct {
	Entry
	nbytes int64
}

// plan validates entries and returns them in file order with their byte sizes.
func plan(path string, entries []Entry, metadata map[string]string) ([]planned, error) {
	out := make([]planned, len(entries))
	seen := map[string]bool{}
	for i, e := range entries {
		if seen[e.Name] {
			return nil, errf(path, e.Name, BadInput, "name given twice")
		}
		seen[e.Name] = true
		if e.Name == metadataKey || !utf8.ValidString(e.Name) {
			return nil, errf(path, e.Name, BadInput, "invalid tensor name")
		}
		if _, ok := dtypeRank[e.DType]; !ok {
			return nil, errf(path, e.Name, BadInput, "cannot write dtype %v", e.DType)
		}
		n, err := tensors.NumelOf(e.Shape)
		if err != nil || n > math.MaxInt64/int64(e.DType.Size()) {
			return nil, errf(path, e.Name, BadInput, "bad shape %v", e.Shape)
		}
		if e.Data == nil {
			return nil, errf(path, e.Name, BadInput, "no Data function")
		}
		out[i] = planned{e, n * int64(e.DType.Size())}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, errf(path, "", BadInput, "metadata %q is not valid UTF-8", k)
		}
	}
	slices.SortFunc(out, func(a, b planned) int {
		if ra, rb := dtypeRank[a.DType], dtypeRank[b.DType]; ra != rb {
			return rb - ra
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// encodeHeader renders the header as the reference writer does (serde_json compact form,
// __metadata__ first with sorted keys, then tensors in file order), padded with spaces to a
// multiple of 8 bytes.
func encodeHeader(es []planned, metadata map[string]string) []byte {
	b := []byte{'{'}
	if len(metadata) > 0 {
		b = appendJSONString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}
	var off int64
	for i, e := range es {
		if i > 0 || len(metadata) > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.Name)
		b = append(b, `:{"dtype":"`...)
		b = append(b, e.DType.String()...)
		b = append(b, `","shape":[`...)
		for j, d := range e.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		b = append(b, ',')
		off += e.nbytes
		b = strconv.AppendInt(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendJSONString quotes s as serde_json does: escapes only '"', '\\' and control
// characters (short forms \b \f \n \r \t, else \u00xx); UTF-8 passes through.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// WriteEntries writes entries (in the deterministic file order, whatever their order here)
// and metadata to path atomically. Each entry's Data is called once, streaming to the file.
func WriteEntries(path string, entries []Entry, metadata map[string]string) error {
	es, hdr, err := prepare(path, entries, metadata)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return stream(w, path, es, hdr) })
}

// Encode writes the file bytes of entries and metadata to w: the bytes WriteEntries puts in a
// file, for callers that manage their own files (checkpoints written through a file-system
// interface). name only labels errors.
func Encode(w io.Writer, name string, entries []Entry, metadata map[string]string) error {
	es, hdr, err := prepare(name, entries, metadata)
	if err != nil {
		return err
	}
	return stream(w, name, es, hdr)
}

func prepare(path string, entries []Entry, metadata map[string]string) ([]planned, []byte, error) {
	es, err := plan(path, entries, metadata)
	if err != nil {
		return nil, nil, err
	}
	hdr := encodeHeader(es, metadata)
	if len(hdr) > MaxHeaderSize {
		return nil, nil, errf(path, "", BadInput, "header would be %d bytes (limit %d)", len(hdr), MaxHeaderSize)
	}
	return es, hdr, nil
}

func stream(w io.Writer, path string, es []planned, hdr []byte) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, e := range es {
		cw := &countWriter{w: w}
		if err := e.Data(cw); err != nil {
			return fmt.Errorf("tensor %q: %w", e.Name, err)
		}
		if cw.n != e.nbytes {
			return errf(path, e.Name, BadInput, "Data wrote %d bytes, %v%v needs %d", cw.n, e.DType, e.Shape, e.nbytes)
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeAtomic writes path through a temporary file in the same directory: write, fsync,
// rename, fsync the directory. On error the temporary file is removed and path is untouched.
func writeAtomic(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteSharded writes ts into dir as a Hugging Face sharded checkpoint; see
// WriteShardedEntries.
func WriteSharded(dir string, ts map[string]*tensors.Tensor, metadata map[string]string, maxShardBytes int64) ([]string, error) {
	return WriteShardedEntries(dir, entriesOf(ts), metadata, maxShardBytes)
}

// WriteShardedEntries splits entries like huggingface_hub's split_torch_state_dict_into_shards
// (in name order: a tensor larger than maxShardBytes gets a shard of its own; otherwise a new
// shard starts when the next tensor would push the current one past maxShardBytes) and writes
// model-00001-of-0000N.safetensors ... plus model.safetensors.index.json (keys sorted,
// total_size = sum of tensor bytes), every shard carrying metadata. With a single shard it
// writes model.safetensors and no index, as Hugging Face does. The index is written last, so
// a reader never sees an index whose shards are not all complete. It returns the files written.
func WriteShardedEntries(dir string, entries []Entry, metadata map[string]string, maxShardBytes int64) ([]string, error) {
	if maxShardBytes <= 0 {
		return nil, errf(dir, "", BadInput, "maxShardBytes %d", maxShardBytes)
	}
	es, err := plan(dir, entries, metadata)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(es, func(a, b planned) int { return strings.Compare(a.Name, b.Name) })
	var groups [][]Entry
	var cur []Entry
	var curSize, total int64
	for _, e := range es {
		total += e.nbytes
		if e.nbytes > maxShardBytes {
			groups = append(groups, []Entry{e.Entry})
			continue
		}
		if len(cur) > 0 && curSize+e.nbytes > maxShardBytes {
			groups = append(groups, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, e.Entry)
		curSize += e.nbytes
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	if len(groups) == 1 {
		return []string{SingleFileName}, WriteEntries(filepath.Join(dir, SingleFileName), groups[0], metadata)
	}
	weightMap := map[string]string{}
	var files []string
	for i, g := range groups {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(groups))
		if err := WriteEntries(filepath.Join(dir, name), g, metadata); err != nil {
			return nil, err
		}
		files = append(files, name)
		for _, e := range g {
			weightMap[e.Name] = name
		}
	}
	idx := encodeIndex(total, weightMap)
	if err := writeAtomic(filepath.Join(dir, IndexName), func(w io.Writer) error {
		_, err := w.Write(idx)
		return err
	}); err != nil {
		return nil, err
	}
	return append(files, IndexName), nil
}

// encodeIndex renders the index as Python's json.dumps(index, indent=2, sort_keys=True) + "\n"
// (what transformers writes), ASCII-escaped like Python's default.
func encodeIndex(total int64, weightMap map[string]string) []byte {
	b := []byte("{\n  \"metadata\": {\n    \"total_size\": ")
	b = strconv.AppendInt(b, total, 10)
	b = append(b, "\n  },\n  \"weight_map\": {"...)
	for i, k := range slices.Sorted(maps.Keys(weightMap)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendPyJSONString(b, k)
		b = append(b, ": "...)
		b = appendPyJSONString(b, weightMap[k])
	}
	if len(weightMap) > 0 {
		b = append(b, "\n  "...)
	}
	return append(b, "}\n}\n"...)
}

// appendPyJSONString quotes s as Python's json with ensure_ascii: everything outside
// printable ASCII becomes \uXXXX (UTF-16, surrogate pairs above U+FFFF).
func appendPyJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r >= 0x20 && r <= 0x7e:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u4(u4(b, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		default:
			b = u4(b, r)
		}
	}
	return append(b, '"')
}
