//go:build openblas && cgo

package cblas

// Built only with -tags openblas (cgo): see doc.go.

/*
#cgo CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// Sgemm is row-major cblas_sgemm with kernels/gemm.Sgemm's argument order; slices must be
// non-empty and long enough (the caller checks).
func Sgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	t := func(x bool) C.enum_CBLAS_TRANSPOSE {
		if x {
			return C.CblasTrans
		}
		return C.CblasNoTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, t(ta), t(tb), C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb), C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}

// SetThreads sets OpenBLAS's thread count.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
