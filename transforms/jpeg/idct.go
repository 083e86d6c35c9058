package jpeg

// Accurate integer inverse DCT, bit-exact with libjpeg-turbo's
// jsimd_idct_islow_avx2/_sse2, which is what Pillow runs on x86-64. The
// algorithm is jidctint.c's (CONST_BITS 13, PASS1_BITS 2) but with the SIMD
// code's integer widths: dequantized coefficients and the sums in0+in4,
// in7+in3, in5+in1 wrap at 16 bits, products and sums are 32-bit, each pass's
// outputs saturate to 16 bits, the final samples saturate to [-128, 127]
// before +128, and pass 1 takes a block-wide shortcut (shift without
// saturation) when rows 1..7 of the coefficients are zero. For in-range data
// this equals jidctint.c; it differs only on corrupt, overflowing
// coefficients, where it still matches what Pillow produces.

const (
	fix0298 = 2446
	fix0390 = 3196
	fix0541 = 4433
	fix0765 = 6270
	fix0899 = 7373
	fix1175 = 9633
	fix1501 = 12299
	fix1847 = 15137
	fix1961 = 16069
	fix2053 = 16819
	fix2562 = 20995
	fix3072 = 25172
)

// useAVX2 selects the assembly IDCT; tests flip it to cover both paths.
var useAVX2 = hasAVX2

func idctBlock(coef *[64]int16, q *[64]int16, dst []uint8, stride int) {
	_ = dst[7*stride+7]
	if useAVX2 {
		idctAVX2(coef, q, &dst[0], stride)
		return
	}
	idctGo(coef, q, dst, stride)
}

func sat16(x int32) int16 {
	if x > 32767 {
		return 32767
	}
	if x < -32768 {
		return -32768
	}
	return int16(x)
}

// idct1D is one pass of the SIMD islow transform on x[0..7] (stride s).
func idct1D(x0, x1, x2, x3, x4, x5, x6, x7 int16, shift uint) (o [8]int16) {
	i1, i2, i3, i5, i6, i7 := int32(x1), int32(x2), int32(x3), int32(x5), int32(x6), int32(x7)
	tmp3 := i2*(fix0541+fix0765) + i6*fix0541
	tmp2 := i2*fix0541 + i6*(fix0541-fix1847)
	tmp0 := int32(x0+x4) << 13
	tmp1 := int32(x0-x4) << 13
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	z3 := int32(x7 + x3)
	z4 := int32(x5 + x1)
	z3p := z3*(fix1175-fix1961) + z4*fix1175
	z4p := z3*fix1175 + z4*(fix1175-fix0390)
	t0 := i7*(fix0298-fix0899) + i1*(-fix0899) + z3p
	t1 := i5*(fix2053-fix2562) + i3*(-fix2562) + z4p
	t3 := i7*(-fix0899) + i1*(fix1501-fix0899) + z4p
	t2 := i5*(-fix2562) + i3*(fix3072-fix2562) + z3p

	r := int32(1) << (shift - 1)
	o[0] = sat16((tmp10 + t3 + r) >> shift)
	o[7] = sat16((tmp10 - t3 + r) >> shift)
	o[1] = sat16((tmp11 + t2 + r) >> shift)
	o[6] = sat16((tmp11 - t2 + r) >> shift)
	o[2] = sat16((tmp12 + t1 + r) >> shift)
	o[5] = sat16((tmp12 - t1 + r) >> shift)
	o[3] = sat16((tmp13 + t0 + r) >> shift)
	o[4] = sat16((tmp13 - t0 + r) >> shift)
	return o
}

func idctGo(coef *[64]int16, q *[64]int16, dst []uint8, stride int) {
	var in, ws [64]int16
	acRowsZero := true
	for i := 0; i < 64; i++ {
		in[i] = coef[i] * q[i]
		if i >= 8 && coef[i] != 0 {
			acRowsZero = false
		}
	}
	if acRowsZero {
		for c := 0; c < 8; c++ {
			w := in[c] << 2
			for r := 0; r < 8; r++ {
				ws[r*8+c] = w
			}
		}
	} else {
		for c := 0; c < 8; c++ {
			o := idct1D(in[c], in[8+c], in[16+c], in[24+c], in[32+c], in[40+c], in[48+c], in[56+c], 11)
			for r := 0; r < 8; r++ {
				ws[r*8+c] = o[r]
			}
		}
	}
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8]
		o := idct1D(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], 18)
		row := dst[r*stride : r*stride+8]
		for i, v := range o {
			row[i] = clampSample(v)
		}
	}
}

// clampSample is packsswb followed by +128.
func clampSample(v int16) uint8 {
	if v > 127 {
		v = 127
	} else if v < -128 {
		v = -128
	}
	return uint8(v + 128)
}

// dcOnlyValue is the sample value of a block whose AC coefficients are all
// zero, computed exactly as the SIMD transform would.
func dcOnlyValue(dc, q int16) uint8 {
	w := int32((dc * q) << 2)
	return clampSample(sat16((w<<13 + 1<<17) >> 18))
}
