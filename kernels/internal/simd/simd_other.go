//go:build !amd64 || purego

package simd

const hasAVX2, hasAVX512 = false, false
