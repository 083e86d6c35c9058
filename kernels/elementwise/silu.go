package elementwise

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/vec"
	"github.com/glmflow/glmflow/tensors"
)

// SiLU sets out = x·σ(x), σ(x) = 1/(1+e^−x).
//
//	out, x [n]
func SiLU(out, x []float32) error {
	if err := checkLen("SiLU", len(out), []string{"x"}, x); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) { siluRange(out[lo:hi], x[lo:hi]) })
	return nil
}

// SiLUBackward sets dx = dout·σ(x)·(1 + x·(1−σ(x))).
//
//	dx, dout, x [n]
func SiLUBackward(dx, dout, x []float32) error {
	if err := checkLen("SiLUBackward", len(dx), []string{"dout", "x"}, dout, x); err != nil {
		return err
	}
	run(len(dx), func(lo, hi int) { siluGradRange(dx[lo:hi], dout[lo:hi], x[lo:hi]) })
	return nil
}

// SwiGLU sets out = silu(g)·u = g·σ(g)·u.
//
//	out, g, u [n]
func SwiGLU(out, g, u []float32) error {
	if err := checkLen("SwiGLU", len(out), []string{"g", "u"}, g, u); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) { swigluRange(out[lo:hi], g[lo:hi], u[lo:hi]) })
	return nil
}

// SwiGLUBackward sets du = dout·silu(g) and dg = dout·u·σ(g)·(1 + g·(1−σ(g))).
// dg and du must be different slices; each may alias an input.
//
//	dg, du, dout, g, u [n]
func SwiGLUBackward(dg, du, dout, g, u []float32) error {
	if err := checkLen("SwiGLUBackward", len(dout), []string{"dg", "du", "g", "u"}, dg, du, g, u); err != nil {
		return err
	}
	run(len(dout), func(lo, hi int) {
		swigluGradRange(dg[lo:hi], du[lo:hi], dout[lo:hi], g[lo:hi], u[lo:hi])
	})
	return nil
}

// SwiGLUBF16 is SwiGLU with out rounded to bfloat16 (round to nearest even,
// tensors.F32ToBF16): the same bits as SwiGLU followed by that conversion, through an L1
// buffer of chunk elements instead of a float32 out in memory (mixed precision: the product
// is only read by a bf16 GEMM).
//
//	out [n] bf16 bits; g, u [n]
func SwiGLUBF16(out []uint16, g, u []float32) error {
	if err := checkLen("SwiGLUBF16", len(out), []string{"g", "u"}, g, u); err != nil {
		return err
	}
	run(len(out), func(lo, hi int) {
		var buf [chunk]float32
		for i := lo; i < hi; i += chunk {
			j := min(i+chunk, hi)
			b := buf[:j-i]
			swigluRange(b, g[i:j], u[i:j])
			tensors.F32ToBF16(out[i:j], b)
		}
	})
	return nil
}

// SwiGLUBackwardBF16 is SwiGLUBackward with dg and du rounded to bfloat16: the same bits as
// SwiGLUBackward followed by tensors.F32ToBF16 of each, through L1 buffers.
//
//	dg, du [n] bf16 bits; dout, g, u [n]
func SwiGLUBackwardBF16(dg, du []uint16, dout, g, u []float32) error {
	n := len(dout)
	if err := checkLen("SwiGLUBackwardBF16", n, []string{"g", "u"}, g, u); err != nil {
		return err
	}
	if len(dg) != n || len(du) != n {
		return fmt.Errorf("elementwise.SwiGLUBackwardBF16: len(dg), len(du) = %d, %d, want %d", len(dg), len(du), n)
	}
	run(n, func(lo, hi int) {
		var bg, bu [chunk]float32
		for i := lo; i < hi; i += chunk {
			j := min(i+chunk, hi)
			swigluGradRange(bg[:j-i], bu[:j-i], dout[i:j], g[i:j], u[i:j])
			tensors.F32ToBF16(dg[i:j], bg[:j-i])
			tensors.F32ToBF16(du[i:j], bu[:j-i])
		}
	})
	return nil
}

// SwiGLUFused is SwiGLU on a concatenated gate_up projection: row t of gu holds the gate in
// columns [0, F) and the up projection in [F, 2F) (HF gate_up_proj + chunk(2, dim=-1)).
//
//	out [T, F]
//	gu  [T, 2F]
func SwiGLUFused(out, gu []float32, T, F int) error {
	if err := checkFused("SwiGLUFused", "out", out, gu, T, F); err != nil {
		return err
	}
	rows(T, 2*F, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			r := gu[2*t*F : 2*(t+1)*F]
			swigluRow(out[t*F:(t+1)*F], r[:F], r[F:])
		}
	})
	return nil
}

// twoPassMaxF is the widest gate_up half that swigluRow reads in address order (two passes).
const twoPassMaxF = 1536

// swigluRow is swigluRange for one row of a gate_up buffer (g and u, F elements each, the two
// halves of it). For F ≤ twoPassMaxF the assembly paths read the row in address order: out =
// g·σ(g) over the gate half (the silu kernel), then out = out·u over the up half (the mul kernel;
// out is still in L1) — the two roundings of the swiglu kernel, so the same bits. Streaming g and
// u side by side restarts two memory streams 4F bytes apart on every row: one core, AVX-512,
// [4M]-element outputs, GB/s one-pass → two-pass: F=256 5.7 → 14, F=688 9.6 → 16.6, F=1024 11 →
// 14.6 (an unloaded run: 15 → 23–27, the unfused SwiGLU's 24–26), F=1408 9.4 → 16.3, F=2048
// 12.5 ≈ 12, F=4096 14.3 → 10.7 (out and the gate half then crowd L1). Software prefetch of the
// next row's halves (PREFETCHT0 8F bytes ahead) gained ≈10% in the one-pass kernel at F=1024
// and made this one slower (27 → 18 GB/s); neither is kept.
func swigluRow(out, g, u []float32) {
	if path == pathGeneric || len(out) == 0 || len(out) > twoPassMaxF {
		swigluRange(out, g, u)
		return
	}
	siluAsm(out, g)
	mulAsm(out, out, u)
}

// SwiGLUFusedBackward is the backward of SwiGLUFused: dgu row t gets dg in [0, F) and du in
// [F, 2F). dgu is overwritten and must not alias gu.
//
//	dgu  [T, 2F]
//	dout [T, F]
//	gu   [T, 2F]
func SwiGLUFusedBackward(dgu, dout, gu []float32, T, F int) error {
	if err := checkFused("SwiGLUFusedBackward", "dout", dout, gu, T, F); err != nil {
		return err
	}
	if len(dgu) != 2*T*F {
		return fmt.Errorf("elementwise.SwiGLUFusedBackward: len(dgu) = %d, want T·2F = %d", len(dgu), 2*T*F)
	}
	rows(T, 2*F, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			r := gu[2*t*F : 2*(t+1)*F]
			d := dgu[2*t*F : 2*(t+1)*F]
			swigluGradRange(d[:F], d[F:], dout[t*F:(t+1)*F], r[:F], r[F:])
		}
	})
	return nil
}

func checkFused(op, outName string, out, gu []float32, T, F int) error {
	switch {
	case T < 0 || F <= 0:
		return fmt.Errorf("elementwise.%s: bad dims T=%d F=%d", op, T, F)
	case len(out) != T*F:
		return fmt.Errorf("elementwise.%s: len(%s) = %d, want T·F = %d", op, outName, len(out), T*F)
	case len(gu) != 2*T*F:
		return fmt.Errorf("elementwise.%s: len(gu) = %d, want T·2F = %d", op, len(gu), 2*T*F)
	}
	return nil
}

// The range kernels below run the fused assembly kernel of the active path (one pass, σ computed
// in registers by vec's exp algorithm) or, on the generic path, work in chunks: σ of a chunk into
// a stack buffer with vec.Sigmoid, then one pass combining it with the other operands. Every
// element reads its inputs before writing its outputs, so outputs may alias inputs.

func siluRange(out, x []float32) {
	if path != pathGeneric && len(out) > 0 {
		siluAsm(out, x)
		return
	}
	var s [chunk]float32
	for lo := 0; lo < len(out); lo += chunk {
		hi := min(lo+chunk, len(out))
		o, v, sg := out[lo:hi], x[lo:hi], s[:hi-lo]
		vec.Sigmoid(sg, v)
		for i := range o {
			o[i] = v[i] * sg[i]
		}
	}
}

func siluGradRange(dx, dout, x []float32) {
	if path != pathGeneric && len(dx) > 0 {
		siluGradAsm(dx, dout, x)
		return
	}
	var s [chunk]float32
	for lo := 0; lo < len(dx); lo += chunk {
		hi := min(lo+chunk, len(dx))
		d, g, v, sg := dx[lo:hi], dout[lo:hi], x[lo:hi], s[:hi-lo]
		vec.Sigmoid(sg, v)
		for i := range d {
			si := sg[i]
			d[i] = g[i] * si * (1 + v[i]*(1-si))
		}
	}
}

func swigluRange(out, g, u []float32) {
	if path != pathGeneric && len(out) > 0 {
		swigluAsm(out, g, u)
		return
	}
	var s [chunk]float32
	for lo := 0; lo < len(out); lo += chunk {
		hi := min(lo+chunk, len(out))
		o, gg, uu, sg := out[lo:hi], g[lo:hi], u[lo:hi], s[:hi-lo]
		vec.Sigmoid(sg, gg)
		for i := range o {
			o[i] = gg[i] * sg[i] * uu[i]
		}
	}
}

func swigluGradRange(dg, du, dout, g, u []float32) {
	if path != pathGeneric && len(dg) > 0 {
		swigluGradAsm(dg, du, dout, g, u)
		return
	}
	var s [chunk]float32
	for lo := 0; lo < len(dout); lo += chunk {
		hi := min(lo+chunk, len(dout))
		dgg, duu, d, gg, uu, sg := dg[lo:hi], du[lo:hi], dout[lo:hi], g[lo:hi], u[lo:hi], s[:hi-lo]
		vec.Sigmoid(sg, gg)
		for i := range d {
			si, gi, ui, di := sg[i], gg[i], uu[i], d[i]
			duu[i] = di * (gi * si)
			dgg[i] = di * ui * si * (1 + gi*(1-si))
		}
	}
}
