package jpeg

import "golang.org/x/sys/cpu"

var hasAVX2 = cpu.X86.HasAVX2

// idctAVX2 is implemented in idct_amd64.s.
//
//go:noescape
func idctAVX2(coef *[64]int16, q *[64]int16, dst *uint8, stride int)

// The colour kernels are in color_amd64.s (see color.go for their contracts).
//
//go:noescape
func yccRGBAVX2(out, y, cb, cr *uint8, n int)

//go:noescape
func colsumAVX2(cs *int16, near, far *uint8, n int)

//go:noescape
func upH2AVX2(dst *uint8, cs *int16, n int, r0, r1 int)
