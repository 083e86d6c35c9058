package driver

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
	"github.com/glmflow/glmflow/kernels/cuda/internal/stubtest"
)

// stub is the stand-in libcuda plus its recording hooks.
type stub struct {
	d        *Driver
	fail     func(name string, code int32)
	lastCall func() string
	arg      func(i int32) uint64
	param    func(i int32) uint64
	setN     func(n int32)
	lastStr  func() string
}

// stubDir holds the stand-in library for the whole package run (a library once dlopened
// stays loaded, so it is built once).
var (
	stubDir  string
	stubOnce sync.Once
)

func TestMain(m *testing.M) {
	var err error
	if stubDir, err = os.MkdirTemp("", "cudastub"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(stubDir)
	os.Exit(code)
}

func loadStub(t *testing.T) *stub {
	t.Helper()
	stubtest.NeedGCC(t)
	dir := filepath.Join(stubDir, "lib")
	stubOnce.Do(func() { stubtest.Build(t, filepath.Join("testdata", "stub_cuda.c"), dir, "libcuda.so.1") })
	d, err := LoadFrom(dl.Search{LDLibraryPath: dir, NoLoaderCache: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &stub{d: d}
	b := dl.Binder{Lib: d.Lib}
	b.Bind(&s.fail, "stub_fail")
	b.Bind(&s.lastCall, "stub_last_call")
	b.Bind(&s.arg, "stub_arg")
	b.Bind(&s.param, "stub_param")
	b.Bind(&s.setN, "stub_set_nparams")
	b.Bind(&s.lastStr, "stub_last_string")
	if b.Err != nil {
		t.Fatal(b.Err)
	}
	s.fail("", 0)
	t.Cleanup(func() { s.fail("", 0) })
	return s
}

func TestMissingLibrary(t *testing.T) {
	_, err := LoadFrom(dl.Search{LDLibraryPath: t.TempDir(), NoLoaderCache: true})
	if err == nil || !errors.Is(err, dl.ErrNotFound) || !strings.Contains(err.Error(), "libcuda.so.1") ||
		!strings.Contains(err.Error(), "no NVIDIA driver; using the CPU backend") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingSymbol(t *testing.T) {
	dir := t.TempDir()
	stubtest.Build(t, filepath.Join("testdata", "stub_cuda_old.c"), dir, "libcuda.so")
	_, err := LoadFrom(dl.Search{LDLibraryPath: dir, NoLoaderCache: true})
	if !errors.Is(err, dl.ErrMissingSymbol) || !strings.Contains(err.Error(), "cuDriverGetVersion") {
		t.Fatalf("got %v", err)
	}
}

func TestDeviceQueries(t *testing.T) {
	s := loadStub(t)
	d := s.d
	if err := d.Init(); err != nil || s.arg(0) != 0 {
		t.Fatal(err)
	}
	if v, err := d.Version(); err != nil || v != 13000 {
		t.Fatalf("Version %d %v", v, err)
	}
	if n, err := d.DeviceCount(); err != nil || n != 2 {
		t.Fatalf("DeviceCount %d %v", n, err)
	}
	dev, err := d.DeviceGet(1)
	if err != nil || dev != 11 {
		t.Fatalf("DeviceGet %d %v", dev, err)
	}
	name, err := d.DeviceName(dev)
	if err != nil || name != "Stub GPU H200" || s.arg(0) != 256 || s.arg(1) != 11 {
		t.Fatalf("DeviceName %q %v (len %d dev %d)", name, err, s.arg(0), s.arg(1))
	}
	if v, err := d.DeviceAttribute(dev, AttrComputeCapabilityMajor); err != nil || v != 9 || s.arg(0) != 75 {
		t.Fatalf("attr %d %v", v, err)
	}
	if b, err := d.DeviceTotalMem(dev); err != nil || b != 150<<30 || s.arg(0) != 11 {
		t.Fatalf("TotalMem %d %v", b, err)
	}
	ctx, err := d.PrimaryCtxRetain(dev)
	if err != nil || ctx != 0xC0+11 {
		t.Fatalf("retain %x %v", ctx, err)
	}
	if err := d.CtxPush(ctx); err != nil || s.arg(0) != uint64(ctx) {
		t.Fatal(err)
	}
	if c, err := d.CtxPop(); err != nil || c != ctx {
		t.Fatalf("pop %x %v", c, err)
	}
	if err := d.CtxSetCurrent(ctx); err != nil || s.lastCall() != "cuCtxSetCurrent" {
		t.Fatal(err)
	}
	if err := d.PrimaryCtxRelease(dev); err != nil || s.lastCall() != "cuDevicePrimaryCtxRelease_v2" {
		t.Fatal(err, s.lastCall())
	}
	if f, tot, err := d.MemGetInfo(); err != nil || f != 100<<30 || tot != 150<<30 {
		t.Fatal(f, tot, err)
	}
}

func TestErrorMapping(t *testing.T) {
	s := loadStub(t)
	s.fail("cuMemAlloc_v2", 2)
	_, err := s.d.MemAlloc(1 << 40)
	var e *Error
	if !errors.As(err, &e) || e.Call != "cuMemAlloc_v2" || e.Code != ErrOutOfMem || e.Name != "CUDA_ERROR_OUT_OF_MEMORY" ||
		e.Desc != "out of memory" || !strings.Contains(err.Error(), "1099511627776 bytes") {
		t.Fatalf("got %v", err)
	}
	if s.arg(0) != 1<<40 {
		t.Fatalf("size passed %d", s.arg(0))
	}
	// A code cuGetErrorName does not know keeps its number.
	s.fail("cuInit", 999)
	if err := s.d.Init(); err == nil || err.Error() != "cuInit: CUresult(999) (999)" {
		t.Fatalf("got %v", err)
	}
	s.fail("cuDeviceGetCount", 100)
	if _, err := s.d.DeviceCount(); err == nil || !strings.Contains(err.Error(), "cuDeviceGetCount: CUDA_ERROR_NO_DEVICE (100)") {
		t.Fatalf("got %v", err)
	}
}

func TestMemoryRoundTrip(t *testing.T) {
	s := loadStub(t)
	d := s.d
	p, err := d.MemAlloc(64)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]byte, 64)
	for i := range src {
		src[i] = byte(i * 3)
	}
	if err := d.MemcpyHtoD(p, src); err != nil || s.arg(0) != uint64(p) || s.arg(2) != 64 {
		t.Fatal(err)
	}
	q, _ := d.MemAlloc(64)
	if err := d.MemcpyDtoD(q, p, 64); err != nil {
		t.Fatal(err)
	}
	if err := d.MemsetD32(q+8, 0xA1B2C3D4, 2); err != nil || s.arg(1) != 0xA1B2C3D4 || s.arg(2) != 2 {
		t.Fatal(err)
	}
	if err := d.MemsetD8(q, 0x7F, 3); err != nil || s.arg(1) != 0x7F || s.arg(2) != 3 {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	if err := d.MemcpyDtoH(got, q); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), src...)
	copy(want[0:3], []byte{0x7F, 0x7F, 0x7F})
	copy(want[8:16], []byte{0xD4, 0xC3, 0xB2, 0xA1, 0xD4, 0xC3, 0xB2, 0xA1})
	if string(got) != string(want) {
		t.Fatalf("round trip:\n got %x\nwant %x", got, want)
	}
	// Async copies through pinned memory on a stream.
	st, err := d.StreamCreate(StreamNonBlocking)
	if err != nil || st != 0x5700 || s.arg(0) != 1 {
		t.Fatal(err)
	}
	pin, err := d.MemHostAlloc(64, HostAllocPortable)
	if err != nil || len(pin) != 64 || s.arg(0) != 64 || s.arg(1) != 1 {
		t.Fatal(err)
	}
	if err := d.MemcpyDtoHAsync(unsafe.Pointer(&pin[0]), p, 64, st); err != nil || s.arg(3) != uint64(st) {
		t.Fatal(err)
	}
	if err := d.MemsetD32Async(q, 5, 16, st); err != nil || s.arg(3) != uint64(st) {
		t.Fatal(err)
	}
	if err := d.MemcpyHtoDAsync(q, unsafe.Pointer(&pin[0]), 32, st); err != nil {
		t.Fatal(err)
	}
	if err := d.MemcpyDtoDAsync(p, q, 64, st); err != nil {
		t.Fatal(err)
	}
	if err := d.StreamSynchronize(st); err != nil {
		t.Fatal(err)
	}
	if err := d.MemcpyDtoH(got, p); err != nil {
		t.Fatal(err)
	}
	if string(got[:32]) != string(src[:32]) || got[32] != 5 || got[36] != 5 {
		t.Fatalf("async path: %x", got)
	}
	if err := d.MemFreeHost(pin); err != nil {
		t.Fatal(err)
	}
	if err := d.StreamDestroy(st); err != nil || s.lastCall() != "cuStreamDestroy_v2" {
		t.Fatal(err)
	}
	for _, x := range []DevicePtr{p, q} {
		if err := d.MemFree(x); err != nil || s.arg(0) != uint64(x) {
			t.Fatal(err)
		}
	}
}

func TestEventsAndModules(t *testing.T) {
	s := loadStub(t)
	d := s.d
	a, _ := d.EventCreate(EventDefault)
	b, err := d.EventCreate(EventDisableTiming)
	if err != nil || s.arg(0) != 2 {
		t.Fatal(err)
	}
	if err := d.EventRecord(b, 0x5700); err != nil || s.arg(0) != uint64(b) || s.arg(1) != 0x5700 {
		t.Fatal(err)
	}
	if err := d.EventSynchronize(b); err != nil {
		t.Fatal(err)
	}
	ms, err := d.EventElapsed(a, b)
	if err != nil || ms != 1.5 || s.arg(0) != uint64(a) || s.arg(1) != uint64(b) {
		t.Fatalf("elapsed %v %v", ms, err)
	}
	if err := d.EventDestroy(a); err != nil || s.lastCall() != "cuEventDestroy_v2" {
		t.Fatal(err)
	}
	// PTX without a terminator arrives NUL-terminated.
	m, err := d.ModuleLoadData([]byte(".version 8.0\n.target sm_90a"))
	if err != nil || m != 0x3300 || s.lastStr() != ".version 8.0\n.target sm_90a" {
		t.Fatalf("module %x %v %q", m, err, s.lastStr())
	}
	f, err := d.ModuleFunction(m, "rmsnorm_fwd_f32")
	if err != nil || f != Function(0xF000+len("rmsnorm_fwd_f32")) || s.lastStr() != "rmsnorm_fwd_f32" {
		t.Fatalf("function %x %v", f, err)
	}
	s.fail("cuModuleGetFunction", 1)
	if _, err := d.ModuleFunction(m, "nope"); err == nil || !strings.Contains(err.Error(), `kernel "nope"`) {
		t.Fatalf("got %v", err)
	}
	if err := d.ModuleUnload(m); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ModuleLoadData(nil); err == nil {
		t.Fatal("empty image accepted")
	}
}

func TestLaunchMarshalling(t *testing.T) {
	s := loadStub(t)
	var a Args
	a.Ptr(0xDEADBEEF00).I32(-7).U32(0xFFFFFFF0).F32(1.25).F64(-2.5).I64(-1 << 40)
	s.setN(int32(a.Len()))
	if err := s.d.Launch(0xF00D, Dim3{3, 2, 1}, Dim3{256, 1, 1}, 4096, 0x5700, &a); err != nil {
		t.Fatal(err)
	}
	for i, w := range []uint64{0xF00D, 3, 2, 1, 256, 1, 1, 4096, 0x5700} {
		if s.arg(int32(i)) != w {
			t.Errorf("launch arg %d = %#x, want %#x", i, s.arg(int32(i)), w)
		}
	}
	if s.arg(10) != 0 {
		t.Error("extra must be NULL")
	}
	// The stub read 8 bytes through each kernelParams pointer; 4-byte values sit in the low
	// half (what the driver reads for an int/float parameter).
	got := make([]uint64, a.Len())
	for i := range got {
		got[i] = s.param(int32(i))
	}
	if got[0] != 0xDEADBEEF00 || int32(uint32(got[1])) != -7 || uint32(got[2]) != 0xFFFFFFF0 ||
		math.Float32frombits(uint32(got[3])) != 1.25 || math.Float64frombits(got[4]) != -2.5 || int64(got[5]) != -1<<40 {
		t.Fatalf("params %#x", got)
	}
	// No arguments: kernelParams is NULL.
	s.setN(0)
	if err := s.d.Launch(0xF00D, Dim3{1, 1, 1}, Dim3{32, 1, 1}, 0, 0, &Args{}); err != nil || s.arg(9) != 0 {
		t.Fatal(err, s.arg(9))
	}
	// Invalid dimensions never reach the driver.
	for _, c := range []struct{ g, b Dim3 }{{Dim3{0, 1, 1}, Dim3{1, 1, 1}}, {Dim3{1, 1, 1}, Dim3{1025, 1, 1}},
		{Dim3{1, 65536, 1}, Dim3{1, 1, 1}}, {Dim3{1, 1, 1}, Dim3{32, 32, 2}}} {
		if err := s.d.Launch(1, c.g, c.b, 0, 0, nil); err == nil {
			t.Errorf("grid %v block %v accepted", c.g, c.b)
		}
	}
	s.fail("cuLaunchKernel", 1)
	if err := s.d.Launch(1, Dim3{1, 1, 1}, Dim3{1, 1, 1}, 0, 0, nil); err == nil || !strings.HasPrefix(err.Error(), "cuLaunchKernel: CUDA_ERROR_INVALID_VALUE") {
		t.Fatalf("got %v", err)
	}
}

func TestGrid1D(t *testing.T) {
	for _, c := range []struct{ n, b, want int }{{0, 256, 1}, {1, 256, 1}, {256, 256, 1}, {257, 256, 2}, {1 << 20, 128, 8192}} {
		if g := Grid1D(c.n, c.b); g.X != uint32(c.want) || g.Y != 1 || g.Z != 1 {
			t.Errorf("Grid1D(%d,%d) = %v", c.n, c.b, g)
		}
	}
}
