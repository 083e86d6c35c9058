package jpeg

import "golang.org/x/sys/cpu"

var hasAVX2 = cpu.X86.HasAVX2

// idctAVX2 is implemented in idct_amd64.s.
//
//go:noescape
func idctAVX2(coef *[64]int16, q *[64]int16, dst *uint8, stride int)
