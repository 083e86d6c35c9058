// Package bench is glmflow's kernel benchmark suite, the body of `glmflow bench`. Every line it
// prints puts a glmflow kernel beside a baseline measured in the same process, so the ratio is
// meaningful on a noisy machine: fp32 GEMM beside OpenBLAS's cblas_sgemm (dlopen'd at run time),
// memory-bound kernels beside a plain copy's bandwidth, attention and grouped GEMM beside
// OpenBLAS on a GEMM of the same FLOP count. Each figure is the median of several repetitions.
//
// The thread count is whatever GOMAXPROCS says (make bench sets 1); OpenBLAS is set to the same.
package bench
