package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/glmflow/glmflow/tensors"
)

// Reader is what single files and sharded checkpoints have in common.
type Reader interface {
	Names() []string                             // sorted
	Info(name string) (Info, error)              // header entry, without reading data
	Tensor(name string) (*tensors.Tensor, error) // read-only view (or copy) of the data
	Metadata() map[string]string                 // a copy
	Close() error
}

// File is an open safetensors file. Its methods are safe for concurrent use, except Close,
// which must not race with the others.
type File struct {
	path      string
	h         *header
	dataStart int64            // 8 + N
	mapped    []byte           // the whole file, read-only; nil when reading with ReadAt
	st        *tensors.Storage // over mapped
	f         *os.File         // set only when not mapped
	closed    atomic.Bool
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Sharded)(nil)
)

// Open reads and validates path's header and maps the file read-only. Only the header is
// read; tensor data is paged in when used.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sf, err := open(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func open(path string, f *os.File) (*File, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s is not a regular file", path)
	}
	if size < 8 {
		return nil, errf(path, "", HeaderTooSmall, "file is %d bytes", size)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > MaxHeaderSize:
		return nil, errf(path, "", HeaderTooLarge, "header length %d exceeds %d", n, MaxHeaderSize)
	case n < 2:
		return nil, errf(path, "", HeaderTooSmall, "header length %d", n)
	case int64(n) > size-8:
		return nil, errf(path, "", InvalidHeaderLength, "header length %d, but only %d bytes follow", n, size-8)
	}
	hdr := make([]byte, n) // n ≤ MaxHeaderSize and ≤ the file size
	if _, err := f.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header: %w", path, err)
	}
	h, err := parseHeader(path, hdr, size)
	if err != nil {
		return nil, err
	}
	sf := &File{path: path, h: h, dataStart: 8 + int64(n)}
	if m, err := mmapFile(f, size); err == nil {
		sf.mapped = m
		sf.st = tensors.HostStorage(m, true, nil) // File.Close unmaps, not Storage.Release
		f.Close()                                 // the mapping outlives the descriptor
	} else {
		sf.f = f // fall back to ReadAt per tensor
	}
	return sf, nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Mapped reports whether the file is memory-mapped (false: tensors are read into copies).
func (f *File) Mapped() bool { return f.mapped != nil }

// DataStart is the file offset of the data section (8 + header length).
func (f *File) DataStart() int64 { return f.dataStart }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	out := make([]string, len(f.h.infos))
	for i, in := range f.h.infos {
		out[i] = in.Name
	}
	return out
}

// Len is the number of tensors.
func (f *File) Len() int { return len(f.h.infos) }

// Info returns the header entry of name.
func (f *File) Info(name string) (Info, error) {
	i, ok := f.h.byName[name]
	if !ok {
		return Info{}, errf(f.path, name, TensorNotFound, "")
	}
	in := f.h.infos[i]
	in.Shape = append([]int(nil), in.Shape...)
	return in, nil
}

// Metadata returns a copy of __metadata__ (empty if absent).
func (f *File) Metadata() map[string]string { return maps.Clone(f.h.metadata) }

// Tensor returns name's data as a CPU tensor. On a mapped file it is a zero-copy view over
// read-only memory (writing to it faults) valid until Close; when the data is misaligned for
// its dtype, or the file is not mapped, it is a fresh copy.
func (f *File) Tensor(name string) (*tensors.Tensor, error) {
	if f.closed.Load() {
		return nil, fmt.Errorf("safetensors: %s: file is closed", f.path)
	}
	in, err := f.Info(name)
	if err != nil {
		return nil, err
	}
	off := f.dataStart + in.Begin
	if f.mapped != nil {
		align := uintptr(in.DType.Size())
		if in.NBytes() == 0 || (uintptr(unsafe.Pointer(unsafe.SliceData(f.mapped)))+uintptr(off))&(align-1) == 0 {
			return tensors.FromStorage(in.DType, in.Shape, f.st, off)
		}
		t := tensors.New(in.DType, in.Shape...)
		copy(t.Bytes(), f.mapped[off:off+in.NBytes()])
		return t, nil
	}
	t := tensors.New(in.DType, in.Shape...) // size validated against the file size
	if _, err := f.f.ReadAt(t.Bytes(), off); err != nil && !(errors.Is(err, io.EOF) && in.NBytes() == 0) {
		return nil, fmt.Errorf("safetensors: %s: reading %q: %w", f.path, name, err)
	}
	return t, nil
}

// Close unmaps the file (or closes it). Views from Tensor are invalid afterwards.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	if f.mapped != nil {
		m := f.mapped
		f.mapped = nil
		return munmap(m)
	}
	return f.f.Close()
}
