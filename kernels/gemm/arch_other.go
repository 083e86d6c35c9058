//go:build !amd64

package gemm

// Only the portable path exists off amd64.
