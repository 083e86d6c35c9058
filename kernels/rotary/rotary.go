package rotary

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/internal/parallel"
	"github.com/glmflow/glmflow/tensors"
)

// Forward rotates the first R dims of every head of x by the per-token angles and writes out
// (NeoX half-split pairing, see the package doc). Dims [R, Dh) are copied unchanged.
//
//	out [T, H, Dh]  may be the same slice as x (in place); must not otherwise overlap it
//	x   [T, H, Dh]
//	cos [T, R/2]
//	sin [T, R/2]
//
// R must be even with 0 < R ≤ Dh.
func Forward(out, x, cos, sin []float32, T, H, Dh, R int) error {
	if err := check("rotary.Forward", "out", "x", out, x, cos, sin, T, H, Dh, R); err != nil {
		return err
	}
	run(T, H*Dh, func(t0, t1 int) { rotate(out, x, cos, sin, t0, t1, H, Dh, R, false) })
	return nil
}

// Forward16 is Forward with out in bfloat16: Forward's float32 result rounded to nearest even
// (tensors.F32ToBF16), token by token through a float32 row, so a mixed-precision caller gets
// the bf16 operand of its attention products without a float32 copy.
//
//	out [T, H, Dh] bf16 bits
//	x   [T, H, Dh]
func Forward16(out []uint16, x, cos, sin []float32, T, H, Dh, R int) error {
	return rotate16("rotary.Forward16", "out", "x", out, x, cos, sin, T, H, Dh, R, false)
}

// Backward16 is Backward with dx in bfloat16 (Backward's float32 result rounded, as
// Forward16 rounds Forward's), for a mixed-precision caller whose dx only feeds bf16 GEMMs.
func Backward16(dx []uint16, dout, cos, sin []float32, T, H, Dh, R int) error {
	return rotate16("rotary.Backward16", "dx", "dout", dx, dout, cos, sin, T, H, Dh, R, true)
}

// rotate16 rotates x (inverse: backward) a block of tokens at a time into a float32 buffer
// (about 8 KiB, L1-resident; measured best against one token and 16-64 KiB blocks) and rounds
// each block into out.
func rotate16(op, outName, inName string, out []uint16, x, cos, sin []float32, T, H, Dh, R int, inverse bool) error {
	if err := check(op, inName, inName, x, x, cos, sin, T, H, Dh, R); err != nil {
		return err
	}
	if len(out) != T*H*Dh {
		return fmt.Errorf("%s: len(%s) = %d, want %d", op, outName, len(out), T*H*Dh)
	}
	if T == 0 || H*Dh == 0 {
		return nil
	}
	const bufFloats = 2 << 10
	w, half := H*Dh, R/2
	nt := max(1, bufFloats/w) // tokens per block
	run(T, w, func(t0, t1 int) {
		buf := make([]float32, min(nt, t1-t0)*w)
		for a := t0; a < t1; a += nt {
			b := min(a+nt, t1)
			// Tokens [a, b) as tokens [0, b−a) of a view starting at token a.
			rotate(buf, x[a*w:b*w], cos[a*half:b*half], sin[a*half:b*half], 0, b-a, H, Dh, R, inverse)
			tensors.F32ToBF16(out[a*w:b*w], buf[:(b-a)*w])
		}
	})
	return nil
}

// Backward is the transpose (inverse rotation) of Forward: dx = Rᵀ·dout on the first R dims,
// dx = dout on the rest. dx is overwritten; it may be the same slice as dout.
//
//	dx   [T, H, Dh]
//	dout [T, H, Dh]
//	cos  [T, R/2]
//	sin  [T, R/2]
func Backward(dx, dout, cos, sin []float32, T, H, Dh, R int) error {
	if err := check("rotary.Backward", "dx", "dout", dx, dout, cos, sin, T, H, Dh, R); err != nil {
		return err
	}
	run(T, H*Dh, func(t0, t1 int) { rotate(dx, dout, cos, sin, t0, t1, H, Dh, R, true) })
	return nil
}

// rotate does tokens [t0, t1). inverse flips the sign of sin (Rᵀ = R(−θ)).
func rotate(out, x, cos, sin []float32, t0, t1, H, Dh, R int, inverse bool) {
	half := R / 2
	if rotateFast(out, x, cos, sin, t0, t1, H, Dh, half, inverse) {
		if R < Dh && &out[0] != &x[0] {
			for t := t0; t < t1; t++ {
				for h := range H {
					base := (t*H + h) * Dh
					copy(out[base+R:base+Dh], x[base+R:base+Dh])
				}
			}
		}
		return
	}
	for t := t0; t < t1; t++ {
		c := cos[t*half : (t+1)*half]
		s := sin[t*half : (t+1)*half]
		for h := range H {
			base := (t*H + h) * Dh
			xr := x[base : base+Dh]
			or := out[base : base+Dh]
			x1, x2 := xr[:half], xr[half:R]
			o1, o2 := or[:half], or[half:R]
			if inverse {
				for i := range half {
					a, b := x1[i], x2[i]
					// Explicit conversions keep each product rounded (no FMA fusion).
					o1[i] = float32(a*c[i]) + float32(b*s[i])
					o2[i] = float32(b*c[i]) - float32(a*s[i])
				}
			} else {
				for i := range half {
					a, b := x1[i], x2[i]
					o1[i] = float32(a*c[i]) - float32(b*s[i])
					o2[i] = float32(b*c[i]) + float32(a*s[i])
				}
			}
			if &or[0] != &xr[0] {
				copy(or[R:], xr[R:])
			}
		}
	}
}

func check(op, outName, inName string, out, x, cos, sin []float32, T, H, Dh, R int) error {
	switch {
	case T < 0 || H <= 0 || Dh <= 0:
		return fmt.Errorf("%s: bad dims T=%d H=%d Dh=%d", op, T, H, Dh)
	case R <= 0 || R%2 != 0 || R > Dh:
		return fmt.Errorf("%s: rotary dims R=%d must be even and in (0, Dh=%d]", op, R, Dh)
	}
	n := T * H * Dh
	for _, a := range []struct {
		name string
		got  int
		want int
	}{{outName, len(out), n}, {inName, len(x), n}, {"cos", len(cos), T * R / 2}, {"sin", len(sin), T * R / 2}} {
		if a.got != a.want {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, a.got, a.want)
		}
	}
	return nil
}

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 16

// run calls f over [0, n) in contiguous pieces, in parallel when n·width (elements touched)
// reaches parallelMin. Each index is computed the same way whatever the split.
func run(n, width int, f func(lo, hi int)) { parallel.Range(n, 1, n*width, parallelMin, f) }
