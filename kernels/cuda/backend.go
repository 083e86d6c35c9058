package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/kernels/cuda/ptx"
	"github.com/glmflow/glmflow/tensors"
)

// Backend is the CUDA backend on one device.
type Backend struct {
	d      *driver.Driver
	blas   *cublas.Handle
	index  int
	dev    driver.Device
	ctx    driver.Context
	stream driver.Stream
	mod    driver.Module
	fn     map[string]driver.Function
	name   string // device name
	arch   string // "sm_90a", "sm_80"

	scratch [4]scratchBuf // per-op temporaries (see scratchLocked)

	mu     sync.Mutex // one op at a time: the stream and the cuBLAS handle are shared
	live   atomic.Int64
	nlive  atomic.Int64
	closed bool
}

var _ kernels.Backend = (*Backend)(nil)

// New opens device index: loads libcuda and cuBLAS, retains the primary context, creates the
// stream and the cuBLAS handle, loads the PTX module for the device's architecture and looks
// up every kernel of the contract table. Without a driver, a device or a library it returns
// an error saying which; nothing is left allocated then.
func New(index int) (*Backend, error) {
	d, err := driver.Load()
	if err != nil {
		return nil, err
	}
	bl, err := cublas.Load()
	if err != nil {
		return nil, fmt.Errorf("%w; using the CPU backend", err)
	}
	return open(d, bl, index, PTX)
}

// PTX returns the module text for an architecture ("sm_90a", "sm_80"); it is
// kernels/cuda/ptx.Module, a variable so tests can substitute a module.
var PTX = ptx.Module

// open builds a backend over bound libraries.
func open(d *driver.Driver, bl *cublas.Lib, index int, loadPTX func(string) ([]byte, error)) (b *Backend, err error) {
	if err := d.Init(); err != nil {
		return nil, fmt.Errorf("%w: no usable CUDA device; using the CPU backend", err)
	}
	n, err := d.DeviceCount()
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= n {
		return nil, fmt.Errorf("cuda:%d: the driver reports %d device(s)", index, n)
	}
	b = &Backend{d: d, index: index, fn: map[string]driver.Function{}}
	if b.dev, err = d.DeviceGet(index); err != nil {
		return nil, err
	}
	if b.name, err = d.DeviceName(b.dev); err != nil {
		return nil, err
	}
	major, err := d.DeviceAttribute(b.dev, driver.AttrComputeCapabilityMajor)
	if err != nil {
		return nil, err
	}
	minor, err := d.DeviceAttribute(b.dev, driver.AttrComputeCapabilityMinor)
	if err != nil {
		return nil, err
	}
	if major < 8 {
		return nil, fmt.Errorf("cuda:%d (%s): compute capability %d.%d is older than sm_80; using the CPU backend", index, b.name, major, minor)
	}
	b.arch = ptx.ArchFor(major, minor)
	if b.ctx, err = d.PrimaryCtxRetain(b.dev); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.teardown()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err = d.CtxSetCurrent(b.ctx); err != nil {
		return nil, err
	}
	if b.stream, err = d.StreamCreate(0); err != nil {
		return nil, err
	}
	if b.blas, err = bl.Create(); err != nil {
		return nil, err
	}
	if err = b.blas.SetStream(uintptr(b.stream)); err != nil {
		return nil, err
	}
	if err = b.blas.SetMathMode(cublas.DefaultMath); err != nil { // true fp32, no TF32
		return nil, err
	}
	text, err := loadPTX(b.arch)
	if err != nil {
		return nil, fmt.Errorf("cuda: PTX for %s: %w", b.arch, err)
	}
	if b.mod, err = d.ModuleLoadData(text); err != nil {
		return nil, fmt.Errorf("cuda: loading the %s PTX: %w", b.arch, err)
	}
	for _, name := range KernelNames() {
		f, err := d.ModuleFunction(b.mod, name)
		if err != nil {
			return nil, err
		}
		b.fn[name] = f
	}
	return b, nil
}

func (b *Backend) teardown() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if b.d.CtxSetCurrent(b.ctx) == nil {
		for i := range b.scratch {
			if b.scratch[i].ptr != 0 {
				b.d.MemFree(b.scratch[i].ptr)
				b.scratch[i] = scratchBuf{}
			}
		}
		if b.mod != 0 {
			b.d.ModuleUnload(b.mod)
		}
		if b.blas != nil {
			b.blas.Destroy()
		}
		if b.stream != 0 {
			b.d.StreamDestroy(b.stream)
		}
	}
	if b.ctx != 0 {
		b.d.PrimaryCtxRelease(b.dev)
	}
}

// Close waits for queued work and releases the stream, handle, module and context. Tensors of
// this backend must not be used afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	err := b.syncLocked()
	b.closed = true
	b.teardown()
	return err
}

func (b *Backend) Name() string           { return "cuda" }
func (b *Backend) Device() tensors.Device { return tensors.CUDA(b.index) }

// DeviceName is the GPU's name; Arch the PTX flavour loaded.
func (b *Backend) DeviceName() string { return b.name }
func (b *Backend) Arch() string       { return b.arch }

// LiveBytes is the device memory held by this backend's live tensors.
func (b *Backend) LiveBytes() int64 { return b.live.Load() }

// Driver exposes the bound driver (timing with events, the check tool).
func (b *Backend) Driver() *driver.Driver { return b.d }

// Stream is the stream every op is queued on.
func (b *Backend) Stream() driver.Stream { return b.stream }

var errClosed = errors.New("cuda: backend is closed")

// enter locks the backend, pins the goroutine to its OS thread and makes the context current.
// The returned function undoes both.
func (b *Backend) enter() (func(), error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	runtime.LockOSThread()
	if err := b.d.CtxSetCurrent(b.ctx); err != nil {
		runtime.UnlockOSThread()
		b.mu.Unlock()
		return nil, err
	}
	return func() { runtime.UnlockOSThread(); b.mu.Unlock() }, nil
}

// Sync waits for every queued op and reports the first asynchronous error.
func (b *Backend) Sync() error {
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	return b.syncLocked()
}

func (b *Backend) syncLocked() error { return b.d.StreamSynchronize(b.stream) }

// launch queues kernel name with args over the geometry sizes (launchDims). A geometry with
// a zero size has nothing to do.
func (b *Backend) launch(name string, sizes []int, k *kargs) error {
	spec, err := checkArgs(name, k)
	if err != nil {
		return err
	}
	for _, n := range sizes {
		if n == 0 {
			return nil
		}
	}
	grid, block, err := launchDims(spec.k, sizes)
	if err != nil {
		return fmt.Errorf("cuda: kernel %s: %w", name, err)
	}
	return b.d.Launch(b.fn[name], grid, block, 0, b.stream, &k.a)
}

// dims is the sizes argument of launch.
func dims(n ...int) []int { return n }

// allocation is one cuMemAlloc block; freed once, by Release or by the GC cleanup.
type allocation struct {
	b     *Backend
	ptr   driver.DevicePtr
	size  int64
	freed atomic.Bool
}

func (a *allocation) free() error {
	if a.freed.Swap(true) {
		return nil
	}
	leave, err := a.b.enter()
	if err != nil {
		return err
	}
	defer leave()
	a.b.live.Add(-a.size)
	a.b.nlive.Add(-1)
	return a.b.d.MemFree(a.ptr)
}

// allocLocked allocates n bytes (at least 1, so every tensor has a distinct address); on out
// of memory it lets the GC release unreachable tensors once and retries.
func (b *Backend) allocLocked(n int64) (driver.DevicePtr, error) {
	size := uint64(max(n, 1))
	p, err := b.d.MemAlloc(size)
	var de *driver.Error
	if err != nil && errors.As(err, &de) && de.Code == driver.ErrOutOfMem {
		// Cleanups of unreachable tensors need the backend lock: release it while they run.
		runtime.UnlockOSThread()
		b.mu.Unlock()
		before := b.live.Load()
		runtime.GC()
		for i := 0; i < 50 && b.live.Load() == before; i++ {
			time.Sleep(2 * time.Millisecond)
		}
		b.mu.Lock()
		runtime.LockOSThread()
		if cerr := b.d.CtxSetCurrent(b.ctx); cerr != nil {
			return 0, cerr
		}
		p, err = b.d.MemAlloc(size)
	}
	return p, err
}

// newTensor allocates an uninitialised device tensor (caller holds the lock).
func (b *Backend) newTensor(dt tensors.DType, shape []int) (*tensors.Tensor, error) {
	n, err := tensors.NumelOf(shape)
	if err != nil {
		return nil, err
	}
	if dt.Size() == 0 {
		return nil, fmt.Errorf("invalid dtype %v", dt)
	}
	nb := n * int64(dt.Size())
	p, err := b.allocLocked(nb)
	if err != nil {
		return nil, err
	}
	a := &allocation{b: b, ptr: p, size: max(nb, 1)}
	b.live.Add(a.size)
	b.nlive.Add(1)
	st := tensors.DeviceStorage(b.Device(), uintptr(p), nb, a.free)
	runtime.AddCleanup(st, func(a *allocation) { a.free() }, a)
	return tensors.FromStorage(dt, shape, st, 0)
}

// dptr is a device tensor's address (nil tensors give 0, i.e. NULL).
func dptr(t *tensors.Tensor) driver.DevicePtr {
	if t == nil {
		return 0
	}
	return driver.DevicePtr(t.Storage().Ptr() + uintptr(t.Offset()))
}

// byteOff is a byte offset as a device-address delta.
func byteOff(n int) driver.DevicePtr { return driver.DevicePtr(n) }

// scratchBuf is a grow-only device buffer.
type scratchBuf struct {
	ptr  driver.DevicePtr
	size int64
}

// Scratch slots: an op may use several at once.
const (
	slotPartA = iota // column-sum partials, norm partials
	slotPartB        // a second partial (LayerNorm db)
	slotWide         // cast operands, LM-head logits blocks
	slotSmall        // per-row losses, attention segment tables
)

// scratchLocked returns slot's buffer of at least n bytes. Work queued on the one stream runs
// in order, so a later op reusing the buffer never overlaps an earlier one; growing frees the
// old buffer (cuMemFree waits for the device).
func (b *Backend) scratchLocked(slot int, n int64) (driver.DevicePtr, error) {
	s := &b.scratch[slot]
	if n <= s.size {
		return s.ptr, nil
	}
	if s.ptr != 0 {
		if err := b.syncLocked(); err != nil { // queued kernels may still read the old buffer
			return 0, err
		}
		if err := b.d.MemFree(s.ptr); err != nil {
			return 0, err
		}
		b.live.Add(-s.size)
		s.ptr, s.size = 0, 0
	}
	p, err := b.allocLocked(n)
	if err != nil {
		return 0, err
	}
	s.ptr, s.size = p, n
	b.live.Add(n)
	return p, nil
}

// colChunks is the chunking of a deterministic column sum over rows (ptx.ColChunkRows rows per
// partial): a function of the shape only, so results repeat bit for bit.
func colChunks(rows int) (chunks, chunkRows int) {
	return (rows + ptx.ColChunkRows - 1) / ptx.ColChunkRows, ptx.ColChunkRows
}

// colSum accumulates dst [cols] += Σ_rows through a partial kernel (ColChunks geometry) whose
// arguments args builds from the partial buffer and chunkRows, then colsum_finish_f32.
func (b *Backend) colSum(dst *tensors.Tensor, cols, rows int, args func(part driver.DevicePtr, chunkRows int) *kargs, kernel string) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	chunks, chunkRows := colChunks(rows)
	part, err := b.scratchLocked(slotPartA, int64(chunks)*int64(cols)*4)
	if err != nil {
		return err
	}
	if err := b.launch(kernel, dims(cols, rows), args(part, chunkRows)); err != nil {
		return err
	}
	return b.launch("colsum_finish_f32", dims(cols), new(kargs).p(dptr(dst)).p(part).i(chunks).i(cols))
}

// Elapsed runs f (ops of this backend) between two events recorded on the stream and returns
// the device time in milliseconds.
func (b *Backend) Elapsed(f func() error) (float64, error) {
	var start, end driver.Event
	err := b.run("Elapsed", func() error {
		var err error
		if start, err = b.d.EventCreate(driver.EventDefault); err != nil {
			return err
		}
		if end, err = b.d.EventCreate(driver.EventDefault); err != nil {
			return err
		}
		return b.d.EventRecord(start, b.stream)
	})
	defer func() {
		b.run("Elapsed", func() error {
			if start != 0 {
				b.d.EventDestroy(start)
			}
			if end != 0 {
				b.d.EventDestroy(end)
			}
			return nil
		})
	}()
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	var ms float32
	err = b.run("Elapsed", func() error {
		if err := b.d.EventRecord(end, b.stream); err != nil {
			return err
		}
		if err := b.d.EventSynchronize(end); err != nil {
			return err
		}
		ms, err = b.d.EventElapsed(start, end)
		return err
	})
	return float64(ms), err
}
