//go:build !amd64 || purego

package gemm

// Only the portable path exists off amd64 and in purego builds.
