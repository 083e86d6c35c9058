package cublas

import (
	"errors"
	"fmt"
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

type stub struct {
	l       *Lib
	h       *Handle
	version func() int32
	fail    func(name string, status int32)
	rec     func(i int32) uint64
	alpha   func() float32
	beta    func() float32
}

var (
	stubRoot string
	stubOnce sync.Once
	stubVal  *stub
	stubErr  error
)

func TestMain(m *testing.M) {
	var err error
	if stubRoot, err = os.MkdirTemp("", "cublasstub"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(stubRoot)
	os.Exit(code)
}

// loadStub builds a fake wheel layout (site-packages/nvidia/cublas/lib with versions 12 and
// 13) and loads the library from it.
func loadStub(t *testing.T) *stub {
	t.Helper()
	stubtest.NeedGCC(t)
	stubOnce.Do(func() {
		sp := filepath.Join(stubRoot, "venv", "lib", "python3.12", "site-packages", "nvidia", "cublas", "lib")
		stubtest.Build(t, filepath.Join("testdata", "stub_cublas.c"), sp, "libcublas.so.12", "-DVERSION=12")
		stubtest.Build(t, filepath.Join("testdata", "stub_cublas.c"), sp, "libcublas.so.13", "-DVERSION=13")
		stubtest.Build(t, filepath.Join("testdata", "stub_cublaslt.c"), sp, "libcublasLt.so.13")
		s := dl.Search{PythonRoots: []string{filepath.Join(stubRoot, "venv", "lib")}, NoLoaderCache: true}
		st := &stub{}
		if st.l, stubErr = LoadFrom(s); stubErr != nil {
			return
		}
		b := dl.Binder{Lib: st.l.Lib}
		b.Bind(&st.version, "stub_version")
		b.Bind(&st.fail, "stub_fail")
		b.Bind(&st.rec, "stub_rec")
		b.Bind(&st.alpha, "stub_alpha")
		b.Bind(&st.beta, "stub_beta")
		if stubErr = b.Err; stubErr != nil {
			return
		}
		st.h, stubErr = st.l.Create()
		stubVal = st
	})
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	stubVal.fail("", 0)
	return stubVal
}

func TestHighestVersionFromWheel(t *testing.T) {
	s := loadStub(t)
	if v := s.version(); v != 13 {
		t.Fatalf("loaded version %d, want 13 (%s)", v, s.l.Lib.Path)
	}
	if !strings.HasSuffix(s.l.Lib.Path, filepath.Join("nvidia", "cublas", "lib", "libcublas.so.13")) {
		t.Fatalf("path %s", s.l.Lib.Path)
	}
}

func TestMissing(t *testing.T) {
	_, err := LoadFrom(dl.Search{LDLibraryPath: t.TempDir(), NoLoaderCache: true})
	if !errors.Is(err, dl.ErrNotFound) || !strings.Contains(err.Error(), "libcublas.so") {
		t.Fatalf("got %v", err)
	}
}

func TestHandleCalls(t *testing.T) {
	s := loadStub(t)
	if err := s.h.SetStream(0x5700); err != nil || s.rec(0) != 0xB1A5 || s.rec(1) != 0x5700 {
		t.Fatal(err)
	}
	if err := s.h.SetMathMode(PedanticMath); err != nil || s.rec(1) != 2 {
		t.Fatal(err)
	}
	s.fail("cublasSetMathMode", 7)
	err := s.h.SetMathMode(DefaultMath)
	var e *Error
	if !errors.As(err, &e) || err.Error() != "cublasSetMathMode: CUBLAS_STATUS_INVALID_VALUE (7)" {
		t.Fatalf("got %v", err)
	}
}

func rnd(seed uint64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		seed = seed*6364136223846793005 + 1442695040888963407
		out[i] = float32(int32(seed>>33)%2001-1000) / 1000
	}
	return out
}

func ptr(v []float32) uintptr { return uintptr(unsafe.Pointer(&v[0])) }

// refRowMajor is C = α·op(A)·op(B) + β·C in row-major float64, per batch.
func refRowMajor(ta, tb bool, m, n, k int, alpha float32, a []float32, sa int, b []float32, sb int, beta float32, c []float32, sc, batch int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for p := range batch {
		for i := range m {
			for j := range n {
				s := 0.0
				for l := range k {
					av := a[p*sa+i*k+l]
					if ta {
						av = a[p*sa+l*m+i]
					}
					bv := b[p*sb+l*n+j]
					if tb {
						bv = b[p*sb+j*k+l]
					}
					s += float64(av) * float64(bv)
				}
				out[p*sc+i*n+j] = float64(alpha)*s + float64(beta)*float64(c[p*sc+i*n+j])
			}
		}
	}
	return out
}

// TestRowMajorThroughStub runs row-major GEMMs through RowMajor and the bound cublasGemmEx /
// cublasGemmStridedBatchedEx of the stand-in (which computes with cuBLAS's column-major
// semantics) and compares with a row-major reference: the mapping and the 19- and 23-argument
// marshalling are both checked.
func TestRowMajorThroughStub(t *testing.T) {
	s := loadStub(t)
	for _, c := range []struct {
		m, n, k, batch int
		ta, tb         bool
		bcastA, bcastB bool
		alpha, beta    float32
	}{
		{3, 5, 4, 1, false, false, false, false, 1, 0},
		{3, 5, 4, 1, true, false, false, false, 0.5, 1},
		{3, 5, 4, 1, false, true, false, false, 2, -1},
		{7, 2, 9, 1, true, true, false, false, 1, 0.25},
		{4, 3, 6, 3, false, true, false, false, 1, 0},
		{4, 3, 6, 3, true, false, false, true, 1, 1},
		{4, 3, 6, 2, false, false, true, false, -1, 0.5},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d_b%d_t%v%v", c.m, c.n, c.k, c.batch, c.ta, c.tb), func(t *testing.T) {
			na, nb := c.batch, c.batch
			if c.bcastA {
				na = 1
			}
			if c.bcastB {
				nb = 1
			}
			a, b := rnd(1, na*c.m*c.k), rnd(2, nb*c.k*c.n)
			cc := rnd(3, c.batch*c.m*c.n)
			ar, ac := c.m, c.k
			if c.ta {
				ar, ac = ac, ar
			}
			br, bc := c.k, c.n
			if c.tb {
				br, bc = bc, br
			}
			sa, sb := int64(c.m*c.k), int64(c.k*c.n)
			if c.bcastA || c.batch == 1 {
				sa = 0
			}
			if c.bcastB || c.batch == 1 {
				sb = 0
			}
			want := refRowMajor(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a, int(sa), b, int(sb), c.beta, cc, c.m*c.n, c.batch)
			g := RowMajorGemm{TransA: c.ta, TransB: c.tb, Alpha: c.alpha, Beta: c.beta, Batch: c.batch,
				A: Operand{ptr(a), R32F, ar, ac, sa}, B: Operand{ptr(b), R32F, br, bc, sb},
				C: Operand{ptr(cc), R32F, c.m, c.n, int64(c.m * c.n)}}
			if err := s.h.Gemm(g); err != nil {
				t.Fatal(err)
			}
			for i := range cc {
				if math.Abs(float64(cc[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
					t.Fatalf("C[%d] = %v, want %v", i, cc[i], want[i])
				}
			}
			if s.alpha() != c.alpha || s.beta() != c.beta {
				t.Errorf("alpha/beta arrived as %v/%v", s.alpha(), s.beta())
			}
			compute, algo := 15, 16 // record indices for GemmEx
			if c.batch > 1 {
				compute, algo = 19, 20
				if s.rec(18) != uint64(c.batch) {
					t.Errorf("batch arrived as %d", s.rec(18))
				}
			}
			if int32(s.rec(int32(compute))) != int32(Compute32F) || int32(s.rec(int32(algo))) != -1 {
				t.Errorf("compute %d algo %d", int32(s.rec(int32(compute))), int32(s.rec(int32(algo))))
			}
		})
	}
}

func TestRowMajorArgs(t *testing.T) {
	// bf16 inputs, TransB (the x·wᵀ of a linear layer): cuBLAS gets (N, M, K), A = w with 'T'.
	a, err := RowMajor(RowMajorGemm{TransB: true, Batch: 1, Alpha: 1,
		A: Operand{0xA0, R16BF, 128, 64, 0}, B: Operand{0xB0, R16BF, 256, 64, 0}, C: Operand{0xC0, R32F, 128, 256, 0}})
	if err != nil {
		t.Fatal(err)
	}
	want := Args{TransA: OpT, TransB: OpN, M: 256, N: 128, K: 64, A: 0xB0, B: 0xA0, C: 0xC0,
		AType: R16BF, BType: R16BF, CType: R32F, LdA: 64, LdB: 64, LdC: 256, Batch: 1, Alpha: 1}
	if a != want {
		t.Fatalf("got  %+v\nwant %+v", a, want)
	}
	for _, bad := range []RowMajorGemm{
		{Batch: 1, A: Operand{1, R32F, 2, 3, 0}, B: Operand{1, R32F, 4, 5, 0}, C: Operand{1, R32F, 2, 5, 0}},  // K mismatch
		{Batch: 1, A: Operand{1, R32F, 2, 3, 0}, B: Operand{1, R16BF, 3, 5, 0}, C: Operand{1, R32F, 2, 5, 0}}, // mixed types
		{Batch: 1, A: Operand{1, R16BF, 2, 3, 0}, B: Operand{1, R16BF, 3, 5, 0}, C: Operand{1, R16BF, 2, 5, 0}},
		{Batch: 0, A: Operand{1, R32F, 2, 3, 0}, B: Operand{1, R32F, 3, 5, 0}, C: Operand{1, R32F, 2, 5, 0}},
	} {
		if _, err := RowMajor(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestGemmError(t *testing.T) {
	s := loadStub(t)
	a, b, c := rnd(1, 4), rnd(2, 4), rnd(3, 4)
	s.fail("cublasGemmEx", 13)
	err := s.h.Gemm(RowMajorGemm{Batch: 1, Alpha: 1, A: Operand{ptr(a), R32F, 2, 2, 0},
		B: Operand{ptr(b), R32F, 2, 2, 0}, C: Operand{ptr(c), R32F, 2, 2, 0}})
	if err == nil || err.Error() != "cublasGemmEx: CUBLAS_STATUS_EXECUTION_FAILED (13)" {
		t.Fatalf("got %v", err)
	}
}

// TestGroupedThroughStub runs the three grouped plans (with an empty expert) through the stub
// against per-expert references.
func TestGroupedThroughStub(t *testing.T) {
	s := loadStub(t)
	const E, N, K = 3, 5, 4
	offs := []int32{0, 2, 2, 6}
	R := 6
	groups, err := Groups(offs, R)
	if err != nil {
		t.Fatal(err)
	}
	x, w, dy := rnd(1, R*K), rnd(2, E*N*K), rnd(3, R*N)
	y, dx, dw := rnd(4, R*N), rnd(5, R*K), rnd(6, E*N*K)
	dw0 := append([]float32(nil), dw...)
	fwd, _ := GroupedPlan(Forward, groups, N, K, ptr(x), ptr(w), ptr(y), R32F)
	bwd, _ := GroupedPlan(BackwardInput, groups, N, K, ptr(dy), ptr(w), ptr(dx), R32F)
	wp := GroupedWeightPlan(groups, N, K, ptr(dy), ptr(x), ptr(dw), R32F)
	if len(fwd) != 2 || len(bwd) != 2 || len(wp) != 2 {
		t.Fatalf("plans %d %d %d: the empty expert must be skipped", len(fwd), len(bwd), len(wp))
	}
	for _, p := range [][]RowMajorGemm{fwd, bwd, wp} {
		if err := s.h.Grouped(p); err != nil {
			t.Fatal(err)
		}
	}
	close := func(name string, got float32, want float64) {
		if math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	for e := range E {
		for r := int(offs[e]); r < int(offs[e+1]); r++ {
			for n := range N {
				sum := 0.0
				for k := range K {
					sum += float64(x[r*K+k]) * float64(w[e*N*K+n*K+k])
				}
				close(fmt.Sprintf("y[%d,%d]", r, n), y[r*N+n], sum)
			}
			for k := range K {
				sum := 0.0
				for n := range N {
					sum += float64(dy[r*N+n]) * float64(w[e*N*K+n*K+k])
				}
				close(fmt.Sprintf("dx[%d,%d]", r, k), dx[r*K+k], sum)
			}
		}
		for n := range N {
			for k := range K {
				sum := float64(dw0[e*N*K+n*K+k])
				for r := int(offs[e]); r < int(offs[e+1]); r++ {
					sum += float64(dy[r*N+n]) * float64(x[r*K+k])
				}
				close(fmt.Sprintf("dw[%d,%d,%d]", e, n, k), dw[e*N*K+n*K+k], sum)
			}
		}
	}
	if _, err := Groups([]int32{0, 3, 2}, 2); err == nil {
		t.Error("decreasing offsets accepted")
	}
	if _, err := Groups([]int32{0, 1}, 2); err == nil {
		t.Error("offsets not ending at R accepted")
	}
}
