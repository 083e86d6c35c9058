//go:build !amd64 || purego

package attention

// Without assembly only pathGo exists.

func dsAsm(p, dp []float32, d float32) { dsGo(p, dp, d) }

func expSumAsm(x []float32, m float32) float32 { return expSumGo(x, m) }
