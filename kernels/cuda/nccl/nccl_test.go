package nccl

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
	"github.com/glmflow/glmflow/kernels/cuda/internal/stubtest"
)

type stub struct {
	l      *Lib
	fail   func(name string, code int32)
	rec    func(i int32) uint64
	idByte func(i int32) int32
}

var (
	root    string
	once    sync.Once
	stubVal *stub
	stubErr error
)

func TestMain(m *testing.M) {
	var err error
	if root, err = os.MkdirTemp("", "ncclstub"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// loadStub puts libnccl.so.2 in a fake dist-packages/nvidia/nccl/lib and an unrelated
// libnccl.so.1 on LD_LIBRARY_PATH: the wheel's higher version must win.
func loadStub(t *testing.T) *stub {
	t.Helper()
	stubtest.NeedGCC(t)
	once.Do(func() {
		wheel := filepath.Join(root, "usr", "local", "lib", "python3.11", "dist-packages", "nvidia", "nccl", "lib")
		stubtest.Build(t, filepath.Join("testdata", "stub_nccl.c"), wheel, "libnccl.so.2")
		ld := filepath.Join(root, "ld")
		if err := os.MkdirAll(ld, 0o755); err != nil {
			stubErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(ld, "libnccl.so.1"), []byte("not a library"), 0o644); err != nil {
			stubErr = err
			return
		}
		s := dl.Search{LDLibraryPath: ld, PythonRoots: []string{filepath.Join(root, "usr", "local", "lib")}, NoLoaderCache: true}
		st := &stub{}
		if st.l, stubErr = LoadFrom(s); stubErr != nil {
			return
		}
		b := dl.Binder{Lib: st.l.Lib}
		b.Bind(&st.fail, "stub_fail")
		b.Bind(&st.rec, "stub_rec")
		b.Bind(&st.idByte, "stub_id_byte")
		stubErr, stubVal = b.Err, st
	})
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	stubVal.fail("", 0)
	return stubVal
}

func TestUniqueIDByValue(t *testing.T) {
	s := loadStub(t)
	if !strings.HasSuffix(s.l.Lib.Path, filepath.Join("nvidia", "nccl", "lib", "libnccl.so.2")) {
		t.Fatalf("loaded %s", s.l.Lib.Path)
	}
	if v, err := s.l.Version(); err != nil || v != 22703 {
		t.Fatal(v, err)
	}
	id, err := s.l.UniqueID()
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range id.Internal {
		if b != byte(i*7+1) {
			t.Fatalf("UniqueID byte %d = %d", i, b)
		}
	}
	// A distinct pattern by value: every byte must arrive, in order.
	var mine UniqueID
	for i := range mine.Internal {
		mine.Internal[i] = byte(255 - i)
	}
	c, err := s.l.CommInitRank(4, mine, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.rec(0) != 4 || s.rec(1) != 3 {
		t.Fatalf("nranks %d rank %d", s.rec(0), s.rec(1))
	}
	for i := range 128 {
		if got := s.idByte(int32(i)); got != int32(255-i) {
			t.Fatalf("id byte %d arrived as %d", i, got)
		}
	}
	if err := s.l.GroupStart(); err != nil || s.rec(0) != 1 {
		t.Fatal(err)
	}
	if err := c.Send(0xAA00, 1<<33, BFloat16, 2, 0x5700); err != nil {
		t.Fatal(err)
	}
	if got := []uint64{s.rec(0), s.rec(1), s.rec(2), s.rec(3), s.rec(4), s.rec(5)}; !slices.Equal(got, []uint64{0xAA00, 1 << 33, 9, 2, 0xC0AA, 0x5700}) {
		t.Fatalf("send args %#x", got)
	}
	if err := c.Recv(0xBB00, 7, Float32, 1, 0x5701); err != nil || s.rec(0) != 0xBB00 || s.rec(2) != 7 || s.rec(3) != 1 {
		t.Fatal(err)
	}
	if err := s.l.GroupEnd(); err != nil || s.rec(0) != 2 {
		t.Fatal(err)
	}
	if err := c.AllReduce(0x10, 0x20, 99, Float32, Avg, 0x5702); err != nil {
		t.Fatal(err)
	}
	if got := []uint64{s.rec(0), s.rec(1), s.rec(2), s.rec(3), s.rec(4), s.rec(5), s.rec(6)}; !slices.Equal(got, []uint64{0x10, 0x20, 99, 7, 4, 0xC0AA, 0x5702}) {
		t.Fatalf("allreduce args %#x", got)
	}
	if err := c.Destroy(); err != nil || s.rec(0) != 0xC0AA {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	s := loadStub(t)
	s.fail("ncclAllReduce", 5)
	c := &Comm{s.l, 1}
	err := c.AllReduce(0, 0, 1, Float32, Sum, 0)
	var e *Error
	if !errors.As(err, &e) || err.Error() != "ncclAllReduce: ncclResult 5: invalid usage" {
		t.Fatalf("got %v", err)
	}
	if _, err := s.l.CommInitRank(2, UniqueID{}, 2); err == nil {
		t.Fatal("rank out of range accepted")
	}
	if _, err := LoadFrom(dl.Search{LDLibraryPath: t.TempDir(), NoLoaderCache: true}); !errors.Is(err, dl.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}
