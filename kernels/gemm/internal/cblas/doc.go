// Package cblas binds OpenBLAS's cblas_sgemm through cgo for the side-by-side benchmark in
// kernels/gemm (openblas_bench_test.go). It lives in its own package because a Go package
// cannot mix cgo and Go assembly. Its code is built only with -tags openblas and cgo
// (headers and library: Debian libopenblas-dev, pthread flavour); without the tag the
// package is empty.
package cblas
