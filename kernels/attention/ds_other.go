//go:build !amd64 || purego

package attention

// Without assembly only pathGo exists.

func dsAsm(p, dp []float32, d float32) { dsGo(p, dp, d) }

func expSumAsm(x []float32, m float32) float32 { return expSumGo(x, m) }

func probsDSRow16(st, dpt, lse, d []float32, p16, ds16 []uint16) bool { return false }

func expSumRow16(x []float32, m float32, p16 []uint16) (float32, bool) { return 0, false }

// cvt16 is ds_amd64.go's rounding switch; without the assembly there is only F32ToBF16.
var cvt16 int
