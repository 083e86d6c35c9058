//go:build !amd64 || purego

package simd

const hasAVX2, hasAVX512, hasBF16 = false, false, false
