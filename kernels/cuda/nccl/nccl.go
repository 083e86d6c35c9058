package nccl

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
)

// UniqueID is ncclUniqueId: an opaque 128-byte token rank 0 creates and every rank passes to
// CommInitRank (sent between processes by the caller).
type UniqueID struct{ Internal [128]byte }

// DataType is ncclDataType_t.
type DataType int32

const (
	Int8     DataType = 0
	Uint8    DataType = 1
	Int32    DataType = 2
	Uint32   DataType = 3
	Int64    DataType = 4
	Uint64   DataType = 5
	Float16  DataType = 6
	Float32  DataType = 7
	Float64  DataType = 8
	BFloat16 DataType = 9
)

// RedOp is ncclRedOp_t.
type RedOp int32

const (
	Sum  RedOp = 0
	Prod RedOp = 1
	Max  RedOp = 2
	Min  RedOp = 3
	Avg  RedOp = 4
)

// Error is a failed NCCL call.
type Error struct {
	Call   string
	Result int32
	Desc   string // ncclGetErrorString
}

func (e *Error) Error() string { return fmt.Sprintf("%s: ncclResult %d: %s", e.Call, e.Result, e.Desc) }

// Lib is a bound libnccl.
type Lib struct {
	Lib *dl.Lib

	getVersion  func(v *int32) int32
	getUniqueID func(id *UniqueID) int32
	initRank    func(comm *uintptr, nranks int32, id UniqueID, rank int32) int32
	destroy     func(comm uintptr) int32
	send        func(buf uintptr, count uint64, dt int32, peer int32, comm, stream uintptr) int32
	recv        func(buf uintptr, count uint64, dt int32, peer int32, comm, stream uintptr) int32
	allReduce   func(send, recv uintptr, count uint64, dt, op int32, comm, stream uintptr) int32
	groupStart  func() int32
	groupEnd    func() int32
	errorString func(r int32) *byte
}

var (
	defaultOnce sync.Once
	defaultLib  *Lib
	defaultErr  error
)

// Load binds NCCL from the default search, once per process.
func Load() (*Lib, error) {
	defaultOnce.Do(func() { defaultLib, defaultErr = LoadFrom(dl.Default()) })
	return defaultLib, defaultErr
}

// LoadFrom binds the highest-versioned libnccl.so.* along s.
func LoadFrom(s dl.Search) (*Lib, error) {
	lib, err := dl.OpenVersioned(s, "nccl", "libnccl.so")
	if err != nil {
		return nil, fmt.Errorf("NCCL: %w", err)
	}
	l := &Lib{Lib: lib}
	b := dl.Binder{Lib: lib}
	b.Bind(&l.getVersion, "ncclGetVersion")
	b.Bind(&l.getUniqueID, "ncclGetUniqueId")
	b.Bind(&l.initRank, "ncclCommInitRank")
	b.Bind(&l.destroy, "ncclCommDestroy")
	b.Bind(&l.send, "ncclSend")
	b.Bind(&l.recv, "ncclRecv")
	b.Bind(&l.allReduce, "ncclAllReduce")
	b.Bind(&l.groupStart, "ncclGroupStart")
	b.Bind(&l.groupEnd, "ncclGroupEnd")
	b.Bind(&l.errorString, "ncclGetErrorString")
	if b.Err != nil {
		return nil, fmt.Errorf("NCCL: %w", b.Err)
	}
	return l, nil
}

func (l *Lib) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	return &Error{Call: call, Result: r, Desc: cString(l.errorString(r))}
}

func cString(p *byte) string {
	if p == nil {
		return "(no description)"
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// Version is ncclGetVersion (e.g. 22703 for 2.27.3).
func (l *Lib) Version() (int, error) {
	var v int32
	err := l.check("ncclGetVersion", l.getVersion(&v))
	return int(v), err
}

// UniqueID creates a new id (rank 0 calls it and shares the bytes).
func (l *Lib) UniqueID() (UniqueID, error) {
	var id UniqueID
	err := l.check("ncclGetUniqueId", l.getUniqueID(&id))
	return id, err
}

// Comm is a communicator.
type Comm struct {
	l *Lib
	c uintptr
}

// CommInitRank joins rank of nranks to the communicator of id (the CUDA device must be
// current; collective: every rank calls it).
func (l *Lib) CommInitRank(nranks int, id UniqueID, rank int) (*Comm, error) {
	if nranks < 1 || rank < 0 || rank >= nranks {
		return nil, fmt.Errorf("ncclCommInitRank: rank %d of %d out of range", rank, nranks)
	}
	var c uintptr
	if err := l.check("ncclCommInitRank", l.initRank(&c, int32(nranks), id, int32(rank))); err != nil {
		return nil, err
	}
	return &Comm{l, c}, nil
}

// Destroy frees the communicator.
func (c *Comm) Destroy() error { return c.l.check("ncclCommDestroy", c.l.destroy(c.c)) }

// Send queues count elements at device address buf to peer on stream.
func (c *Comm) Send(buf uintptr, count uint64, dt DataType, peer int, stream uintptr) error {
	return c.l.check("ncclSend", c.l.send(buf, count, int32(dt), int32(peer), c.c, stream))
}

// Recv queues receiving count elements from peer into buf on stream.
func (c *Comm) Recv(buf uintptr, count uint64, dt DataType, peer int, stream uintptr) error {
	return c.l.check("ncclRecv", c.l.recv(buf, count, int32(dt), int32(peer), c.c, stream))
}

// AllReduce reduces count elements of send over all ranks into recv (may alias send).
func (c *Comm) AllReduce(send, recv uintptr, count uint64, dt DataType, op RedOp, stream uintptr) error {
	return c.l.check("ncclAllReduce", c.l.allReduce(send, recv, count, int32(dt), int32(op), c.c, stream))
}

// GroupStart opens a group of calls (e.g. a send and a recv that must not deadlock).
func (l *Lib) GroupStart() error { return l.check("ncclGroupStart", l.groupStart()) }

// GroupEnd closes the group and issues its calls.
func (l *Lib) GroupEnd() error { return l.check("ncclGroupEnd", l.groupEnd()) }
