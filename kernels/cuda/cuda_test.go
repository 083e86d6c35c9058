package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/backendtest"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
	"github.com/glmflow/glmflow/kernels/cuda/internal/stubtest"
	"github.com/glmflow/glmflow/kernels/cuda/ptx"
	"github.com/glmflow/glmflow/tensors"
)

// TestConformance runs the backend conformance suite on a real GPU.
func TestConformance(t *testing.T) {
	be, err := New(0)
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	defer be.Close()
	backendtest.Run(t, be)
}

// TestKernelTable: every kernel the backend launches is in kernels/cuda/ptx's table and its
// module, and every call site passes the declared argument kinds (checked at launch; here the
// names).
func TestKernelTable(t *testing.T) {
	text, err := ptx.Module("sm_90a")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range KernelNames() {
		if _, err := specOf(name); err != nil {
			t.Error(err)
		}
		if !strings.Contains(string(text), ".entry "+name+"(") {
			t.Errorf("the sm_90a module has no entry %s", name)
		}
	}
}

func TestLaunchDims(t *testing.T) {
	for _, c := range []struct {
		name  string
		sizes []int
		grid  driver.Dim3
		block uint32
	}{
		{"add_f32", []int{1000}, driver.Dim3{X: 4, Y: 1, Z: 1}, 256},
		{"add_f32", []int{1 << 40}, driver.Dim3{X: ptx.MaxGridStride, Y: 1, Z: 1}, 256},
		{"rmsnorm_f32", []int{4096}, driver.Dim3{X: 4096, Y: 1, Z: 1}, 256},
		{"colsum_partial_f32", []int{4096, 130}, driver.Dim3{X: 16, Y: 3, Z: 1}, 256},
		{"colsum_finish_f32", []int{257}, driver.Dim3{X: 2, Y: 1, Z: 1}, 256},
		{"attention_forward_f32", []int{4096, 96, 1}, driver.Dim3{X: 256, Y: 96, Z: 1}, 128},
		{"attention_bwd_dkv_f32", []int{33, 8, 3}, driver.Dim3{X: 3, Y: 8, Z: 3}, 128},
		{"attention_bwd_dsum_f32", []int{10}, driver.Dim3{X: 3, Y: 1, Z: 1}, 128},
		{"moe_route_f32", []int{4096}, driver.Dim3{X: 32, Y: 1, Z: 1}, 128},
		{"sumsq_partial_f32", []int{4097}, driver.Dim3{X: 2, Y: 1, Z: 1}, 256},
		{"sum_f64", nil, driver.Dim3{X: 1, Y: 1, Z: 1}, 256},
		{"moe_offsets", nil, driver.Dim3{X: 1, Y: 1, Z: 1}, 32},
	} {
		s, err := specOf(c.name)
		if err != nil {
			t.Fatal(err)
		}
		g, b, err := launchDims(s.k, c.sizes)
		if err != nil || g != c.grid || b.X != c.block || b.Y != 1 {
			t.Errorf("%s %v: grid %v block %v err %v; want grid %v block %d", c.name, c.sizes, g, b, err, c.grid, c.block)
		}
	}
	s, _ := specOf("rmsnorm_f32")
	if _, _, err := launchDims(s.k, []int{1 << 32}); err == nil {
		t.Error("2³² rows accepted")
	}
}

func TestArgKinds(t *testing.T) {
	if _, err := checkArgs("rmsnorm_f32", new(kargs).p(1).p(2).p(3).p(4).i(5).i(6).f(1e-5)); err != nil {
		t.Fatal(err)
	}
	if _, err := checkArgs("rmsnorm_f32", new(kargs).p(1).p(2).p(3).p(4).i(5).i(6).i(7)); err == nil {
		t.Fatal("int passed for eps accepted")
	}
	if _, err := checkArgs("no_such_kernel", new(kargs)); err == nil {
		t.Fatal("unknown kernel accepted")
	}
}

// stubEnv is a Backend over the stand-in libcuda (host memory as device memory, launches
// recorded) and the stand-in libcublas (fp32 GEMMs computed with cuBLAS's semantics).
type stubEnv struct {
	be       *Backend
	setN     func(n int32)
	param    func(i int32) uint64
	arg      func(i int32) uint64
	fail     func(name string, code int32)
	lastCall func() string
}

var (
	stubRoot string
	stubOnce sync.Once
	stubVal  *stubEnv
	stubErr  error
)

func TestMain(m *testing.M) {
	var err error
	if stubRoot, err = os.MkdirTemp("", "cudabe"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(stubRoot)
	os.Exit(code)
}

func stubBackend(t *testing.T) *stubEnv {
	t.Helper()
	stubtest.NeedGCC(t)
	stubOnce.Do(func() {
		stubtest.Build(t, filepath.Join("driver", "testdata", "stub_cuda.c"), stubRoot, "libcuda.so.1")
		stubtest.Build(t, filepath.Join("cublas", "testdata", "stub_cublas.c"), stubRoot, "libcublas.so.13")
		s := dl.Search{LDLibraryPath: stubRoot, NoLoaderCache: true}
		d, err := driver.LoadFrom(s)
		if err != nil {
			stubErr = err
			return
		}
		bl, err := cublas.LoadFrom(s)
		if err != nil {
			stubErr = err
			return
		}
		e := &stubEnv{}
		b := dl.Binder{Lib: d.Lib}
		b.Bind(&e.setN, "stub_set_nparams")
		b.Bind(&e.param, "stub_param")
		b.Bind(&e.arg, "stub_arg")
		b.Bind(&e.fail, "stub_fail")
		b.Bind(&e.lastCall, "stub_last_call")
		if stubErr = b.Err; stubErr != nil {
			return
		}
		e.be, stubErr = open(d, bl, 0, func(arch string) ([]byte, error) { return []byte("// stand-in module for " + arch), nil })
		stubVal = e
	})
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	stubVal.fail("", 0)
	return stubVal
}

func seq(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

func up(t *testing.T, be kernels.Backend, data []float32, shape ...int) *tensors.Tensor {
	t.Helper()
	d, err := be.Upload(tensors.MustF32(data, shape...))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func down(t *testing.T, be kernels.Backend, d *tensors.Tensor) []float32 {
	t.Helper()
	h, err := be.Download(d)
	if err != nil {
		t.Fatal(err)
	}
	return h.F32()
}

func TestStubDeviceAndMemory(t *testing.T) {
	e := stubBackend(t)
	be := e.be
	if be.Arch() != "sm_90a" || be.DeviceName() != "Stub GPU H200" || be.Device() != tensors.CUDA(0) || be.Name() != "cuda" {
		t.Fatalf("device %s %s %v", be.Arch(), be.DeviceName(), be.Device())
	}
	z, err := be.Alloc(tensors.F32, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if z.Device() != tensors.CUDA(0) || z.Bytes() != nil {
		t.Fatalf("alloc %v", z)
	}
	for i, v := range down(t, be, z) {
		if v != 0 {
			t.Fatalf("Alloc not zeroed at %d: %v", i, v)
		}
	}
	x := up(t, be, seq(12, func(i int) float32 { return float32(i) + 0.5 }), 3, 4)
	if err := be.Copy(z, x); err != nil {
		t.Fatal(err)
	}
	got := down(t, be, z)
	if got[11] != 11.5 || got[0] != 0.5 {
		t.Fatalf("copy %v", got)
	}
	// A view: rows 1..2 of x share its storage at an offset.
	v, err := x.Slice(0, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := down(t, be, v); got[0] != 4.5 || len(got) != 8 {
		t.Fatalf("view %v", got)
	}
	if err := be.Zero(v); err != nil {
		t.Fatal(err)
	}
	if got := down(t, be, x); got[3] != 3.5 || got[4] != 0 || got[11] != 0 {
		t.Fatalf("zero of a view %v", got)
	}
	live := be.LiveBytes()
	if err := x.Storage().Release(); err != nil {
		t.Fatal(err)
	}
	if be.LiveBytes() != live-48 {
		t.Fatalf("release: live %d → %d", live, be.LiveBytes())
	}
	if err := x.Storage().Release(); err != nil { // idempotent
		t.Fatal(err)
	}
	// Host tensors are refused with ErrUnsupported; dtype and shape mismatches name the argument.
	h := tensors.New(tensors.F32, 3, 4)
	if err := be.Add(z, h, z); !errors.Is(err, kernels.ErrUnsupported) || !strings.Contains(err.Error(), "cuda.Add: a is on cpu") {
		t.Fatalf("got %v", err)
	}
	w, _ := be.Alloc(tensors.F32, 5)
	if err := be.AddBias(z, z, w); err == nil || !strings.Contains(err.Error(), "bias") {
		t.Fatalf("got %v", err)
	}
	// Out-of-memory surfaces as an error naming the call.
	e.fail("cuMemAlloc_v2", 2)
	if _, err := be.Alloc(tensors.F32, 1<<20); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("got %v", err)
	}
}

// TestStubMatmul runs Matmul through the stand-in cuBLAS (which computes) against the CPU
// backend: the row-major mapping, batching, broadcasting, α and β end to end.
func TestStubMatmul(t *testing.T) {
	e := stubBackend(t)
	c := cpu.New()
	rnd := func(seed, n int) []float32 {
		return seq(n, func(i int) float32 { return float32(math.Sin(float64(seed*1000+i) * 0.7)) })
	}
	for _, tc := range []struct {
		a, b, c []int
		o       kernels.MatmulOpts
	}{
		{[]int{3, 4}, []int{4, 5}, []int{3, 5}, kernels.MatmulOpts{}},
		{[]int{4, 3}, []int{5, 4}, []int{3, 5}, kernels.MatmulOpts{TransA: true, TransB: true, Alpha: 0.5, Beta: 1}},
		{[]int{2, 3, 4}, []int{5, 4}, []int{2, 3, 5}, kernels.MatmulOpts{TransB: true, Beta: -1}},
		{[]int{3, 4}, []int{2, 4, 5}, []int{2, 3, 5}, kernels.MatmulOpts{Alpha: 2}},
	} {
		t.Run(fmt.Sprint(tc.a, tc.b, tc.o), func(t *testing.T) {
			na, nb, nc := numel(tc.a), numel(tc.b), numel(tc.c)
			ha, hb, hc := tensors.MustF32(rnd(1, na), tc.a...), tensors.MustF32(rnd(2, nb), tc.b...), tensors.MustF32(rnd(3, nc), tc.c...)
			da, db, dc := up(t, e.be, rnd(1, na), tc.a...), up(t, e.be, rnd(2, nb), tc.b...), up(t, e.be, rnd(3, nc), tc.c...)
			if err := c.Matmul(hc, ha, hb, tc.o); err != nil {
				t.Fatal(err)
			}
			if err := e.be.Matmul(dc, da, db, tc.o); err != nil {
				t.Fatal(err)
			}
			for i, g := range down(t, e.be, dc) {
				if w := hc.F32()[i]; math.Abs(float64(g-w)) > 1e-5*(1+math.Abs(float64(w))) {
					t.Fatalf("C[%d] = %v, CPU %v", i, g, w)
				}
			}
		})
	}
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// TestStubGroupedLinear compares the three grouped GEMMs (one expert empty) with the CPU.
func TestStubGroupedLinear(t *testing.T) {
	e := stubBackend(t)
	c := cpu.New()
	const E, N, K, R = 3, 5, 4, 6
	offs := tensors.New(tensors.I32, E+1)
	copy(offs.I32(), []int32{0, 2, 2, 6})
	doffs, err := e.be.Upload(offs)
	if err != nil {
		t.Fatal(err)
	}
	x := seq(R*K, func(i int) float32 { return float32(i%7) - 3 })
	w := seq(E*N*K, func(i int) float32 { return float32(i%5)*0.25 - 0.5 })
	dy := seq(R*N, func(i int) float32 { return float32(i%3) - 1 })
	run := func(be kernels.Backend, load func([]float32, ...int) *tensors.Tensor, get func(*tensors.Tensor) []float32, of *tensors.Tensor) [][]float32 {
		xs, ws, dys := load(x, R, K), load(w, E, N, K), load(dy, R, N)
		y, dx, dw := load(make([]float32, R*N), R, N), load(make([]float32, R*K), R, K), load(seq(E*N*K, func(i int) float32 { return 1 }), E, N, K)
		for _, err := range []error{be.GroupedLinear(y, xs, ws, of), be.GroupedLinearBackwardInput(dx, dys, ws, of),
			be.GroupedLinearBackwardWeight(dw, dys, xs, of)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return [][]float32{get(y), get(dx), get(dw)}
	}
	want := run(c, func(v []float32, s ...int) *tensors.Tensor {
		return tensors.MustF32(append([]float32(nil), v...), s...)
	},
		func(t *tensors.Tensor) []float32 { return t.F32() }, offs)
	got := run(e.be, func(v []float32, s ...int) *tensors.Tensor { return up(t, e.be, append([]float32(nil), v...), s...) },
		func(d *tensors.Tensor) []float32 { return down(t, e.be, d) }, doffs)
	for k, name := range []string{"y", "dx", "dw"} {
		for i := range want[k] {
			if math.Abs(float64(got[k][i]-want[k][i])) > 1e-5 {
				t.Fatalf("%s[%d] = %v, CPU %v", name, i, got[k][i], want[k][i])
			}
		}
	}
	bad := tensors.New(tensors.I32, E+1)
	copy(bad.I32(), []int32{0, 3, 2, 6})
	dbad, _ := e.be.Upload(bad)
	y, _ := e.be.Alloc(tensors.F32, R, N)
	if err := e.be.GroupedLinear(y, up(t, e.be, x, R, K), up(t, e.be, w, E, N, K), dbad); err == nil || !strings.Contains(err.Error(), "offsets decrease") {
		t.Fatalf("got %v", err)
	}
}

// TestStubLaunchMarshalling checks what reaches cuLaunchKernel for two ops: pointers at the
// right offsets, sizes, float scalars by bits, grid and block from the table.
func TestStubLaunchMarshalling(t *testing.T) {
	e := stubBackend(t)
	be := e.be
	x := up(t, be, seq(6*8, func(i int) float32 { return 1 }), 6, 8)
	out, _ := be.Alloc(tensors.F32, 6, 8)
	w, _ := be.Alloc(tensors.F32, 8)
	rstd, _ := be.Alloc(tensors.F32, 6)
	defer e.setN(0)
	e.setN(7)
	if err := be.RMSNorm(out, rstd, x, w, 1e-6); err != nil {
		t.Fatal(err)
	}
	if err := be.Sync(); err != nil {
		t.Fatal(err)
	}
	wantP := []uint64{uint64(dptr(out)), uint64(dptr(rstd)), uint64(dptr(x)), uint64(dptr(w)), 6, 8, uint64(math.Float32bits(1e-6))}
	for i, v := range wantP {
		got := e.param(int32(i))
		if i >= 4 {
			got &= 0xffffffff
		}
		if got != v {
			t.Errorf("rmsnorm param %d = %#x, want %#x", i, got, v)
		}
	}
	if e.arg(1) != 6 || e.arg(4) != 256 || e.arg(8) != uint64(be.Stream()) {
		t.Errorf("grid.x %d block.x %d stream %#x", e.arg(1), e.arg(4), e.arg(8))
	}
	// Rotary backward: the inverse flag and n = T·H·(Dh − R/2) threads' grid.
	q := up(t, be, seq(2*3*8, func(i int) float32 { return 0 }), 2, 3, 8)
	cs := up(t, be, seq(2*2, func(i int) float32 { return 1 }), 2, 2)
	e.setN(9)
	if err := be.RotaryBackward(q, q, cs, cs); err != nil {
		t.Fatal(err)
	}
	if e.param(8)&0xffffffff != 1 || e.param(7)&0xffffffff != 4 || e.arg(1) != 1 {
		t.Errorf("rotary inverse %d R %d grid %d", e.param(8), e.param(7), e.arg(1))
	}
	e.setN(0) // the stand-in reads this many kernelParams: none for the launches below
	// An index out of range is caught before any launch.
	idx := tensors.New(tensors.I32, 2)
	copy(idx.I32(), []int32{0, 6})
	didx, _ := be.Upload(idx)
	g, _ := be.Alloc(tensors.F32, 2, 8)
	if err := be.GatherRows(g, x, didx); err == nil || !strings.Contains(err.Error(), "idx[1] = 6 out of range [0, 6)") {
		t.Fatalf("got %v", err)
	}
	// Attention segment tables are validated on the host.
	k := up(t, be, seq(2*3*8, func(i int) float32 { return 0 }), 2, 3, 8)
	lse, _ := be.Alloc(tensors.F32, 3, 2)
	if err := be.Attention(q, lse, q, k, k, kernels.AttentionOpts{CuSeqlens: []int32{0, 3}}); err == nil || !strings.Contains(err.Error(), "CuSeqlens") {
		t.Fatalf("got %v", err)
	}
	// A launch failure is reported with the CUDA name.
	e.fail("cuLaunchKernel", 1)
	if err := be.Add(out, out, out); err == nil || !strings.Contains(err.Error(), "cuda.Add: cuLaunchKernel: CUDA_ERROR_INVALID_VALUE") {
		t.Fatalf("got %v", err)
	}
}

func TestSelect(t *testing.T) {
	be, note, err := Select("cpu")
	if err != nil || be.Name() != "cpu" || note != "cpu backend" {
		t.Fatal(be, note, err)
	}
	if _, _, err := Select("tpu"); err == nil {
		t.Fatal("tpu accepted")
	}
	be, note, err = Select("auto")
	if err != nil {
		t.Fatal(err)
	}
	if be.Name() == "cpu" && !strings.Contains(note, "CUDA unavailable") {
		t.Fatalf("fallback note %q", note)
	}
	if cb, ok := be.(*Backend); ok {
		cb.Close()
	}
}
