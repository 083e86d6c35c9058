// Package openblas binds OpenBLAS's cblas_sgemm at run time (dlopen through purego, no cgo), so
// the same static glmflow binary can measure its own GEMM against OpenBLAS in one run. It is a
// benchmark baseline only: no glmflow compute path calls it.
package openblas

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Candidate library names, most specific first (Debian's libopenblas0-pthread provides
// libopenblas.so.0 through the alternatives system).
var libNames = []string{
	"libopenblas.so.0",
	"libopenblas.so",
	"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
}

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// Lib is a loaded OpenBLAS.
type Lib struct {
	Path       string
	sgemm      func(order, ta, tb, m, n, k int32, alpha float32, a unsafe.Pointer, lda int32, b unsafe.Pointer, ldb int32, beta float32, c unsafe.Pointer, ldc int32)
	setThreads func(n int32)
	getConfig  func() string
}

var (
	once    sync.Once
	loaded  *Lib
	loadErr error
)

// Load opens OpenBLAS once. The error says which names were tried.
func Load() (*Lib, error) {
	once.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Lib, error) {
	if p := os.Getenv("GLMFLOW_OPENBLAS"); p != "" {
		libNames = append([]string{p}, libNames...)
	}
	var errs []string
	for _, name := range libNames {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		l := &Lib{Path: name}
		for sym, fn := range map[string]any{
			"cblas_sgemm":              &l.sgemm,
			"openblas_set_num_threads": &l.setThreads,
			"openblas_get_config":      &l.getConfig,
		} {
			addr, err := purego.Dlsym(h, sym)
			if err != nil {
				return nil, fmt.Errorf("openblas: %s: missing symbol %s: %v", name, sym, err)
			}
			purego.RegisterFunc(fn, addr)
		}
		return l, nil
	}
	return nil, fmt.Errorf("openblas: not found (install Debian's libopenblas0-pthread or set GLMFLOW_OPENBLAS): %v", errs)
}

// SetThreads sets OpenBLAS's thread count (benchmarks use 1).
func (l *Lib) SetThreads(n int) { l.setThreads(int32(n)) }

// Config is OpenBLAS's build description (version, core type).
func (l *Lib) Config() string { return l.getConfig() }

// Sgemm is row-major C = alpha·op(A)·op(B) + beta·C with the same argument meaning as
// kernels/gemm.Sgemm. Slices are bounds-checked before the call.
func (l *Lib) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if len(a) < need(ar, ac, lda) || len(b) < need(br, bc, ldb) || len(c) < need(m, n, ldc) {
		panic("openblas.Sgemm: slice too short for the given dimensions")
	}
	if m == 0 || n == 0 {
		return
	}
	ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	l.sgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha, ptr(a), int32(lda), ptr(b), int32(ldb), beta, ptr(c), int32(ldc))
}

func ptr(x []float32) unsafe.Pointer {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Pointer(&x[0])
}
