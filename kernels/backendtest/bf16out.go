package backendtest

import (
	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/tensors"
)

// testBF16Outputs checks the optional BF16 outputs (mixed precision: a result read only by
// bf16 GEMMs is written rounded): RMSNorm's out, SwiGLU's out, SwiGLUBackward's dgate and
// dup, Rotary's out and RotaryBackward's dx give exactly the bits of the F32 op followed by Cast (round to nearest
// even), with rstd unchanged; a BF16 output of the wrong shape is an error. A backend that
// rejects the first BF16 output skips the group (callers fall back to F32 + Cast). Then
// Attention and AttentionBackward (opts.BF16) on BF16 q, k, v must give the bits of the same
// calls on F32 q, k, v that round to them.
func testBF16Outputs(e *env) {
	const T, D = 3, 37
	x, w := e.rand(T, D), e.rand(D)
	y, rs := e.out(T, D), e.out(T)
	e.ok(e.be.RMSNorm(y, rs, x, w, 1e-5))
	y16, rs16 := e.zeros(tensors.BF16, T, D), e.out(T)
	if err := e.be.RMSNorm(y16, rs16, x, w, 1e-5); err != nil {
		e.t.Skipf("%s: no BF16 outputs: %v", e.be.Name(), err)
	}
	e.sameBF16("RMSNorm out", y16, y)
	e.sameF32("RMSNorm rstd", rs16, rs)
	if err := e.be.RMSNorm(e.zeros(tensors.BF16, T, D+1), rs16, x, w, 1e-5); err == nil {
		e.t.Error("RMSNorm: BF16 out of the wrong shape accepted")
	}

	g, u, d := e.rand(T, D), e.rand(T, D), e.rand(T, D)
	s := e.out(T, D)
	e.ok(e.be.SwiGLU(s, g, u))
	s16 := e.zeros(tensors.BF16, T, D)
	e.ok(e.be.SwiGLU(s16, g, u))
	e.sameBF16("SwiGLU out", s16, s)
	if err := e.be.SwiGLU(e.zeros(tensors.BF16, T*D), g, u); err == nil {
		e.t.Error("SwiGLU: BF16 out of the wrong shape accepted")
	}

	dg, du := e.out(T, D), e.out(T, D)
	e.ok(e.be.SwiGLUBackward(dg, du, d, g, u))
	dg16, du16 := e.zeros(tensors.BF16, T, D), e.zeros(tensors.BF16, T, D)
	e.ok(e.be.SwiGLUBackward(dg16, du16, d, g, u))
	e.sameBF16("SwiGLUBackward dgate", dg16, dg)
	e.sameBF16("SwiGLUBackward dup", du16, du)
	if err := e.be.SwiGLUBackward(dg16, du, d, g, u); err == nil {
		e.t.Error("SwiGLUBackward: BF16 dgate with F32 dup accepted")
	}

	const H, Dh = 2, 32
	xr, cs, sn := e.rand(T, H, Dh), e.rand(T, Dh/2), e.rand(T, Dh/2)
	r := e.out(T, H, Dh)
	e.ok(e.be.Rotary(r, xr, cs, sn))
	r16 := e.zeros(tensors.BF16, T, H, Dh)
	e.ok(e.be.Rotary(r16, xr, cs, sn))
	e.sameBF16("Rotary out", r16, r)
	if err := e.be.Rotary(e.zeros(tensors.BF16, T, H, Dh+1), xr, cs, sn); err == nil {
		e.t.Error("Rotary: BF16 out of the wrong shape accepted")
	}
	e.ok(e.be.RotaryBackward(r, xr, cs, sn))
	e.ok(e.be.RotaryBackward(r16, xr, cs, sn))
	e.sameBF16("RotaryBackward dx", r16, r)
	if err := e.be.RotaryBackward(e.zeros(tensors.BF16, T, H+1, Dh), xr, cs, sn); err == nil {
		e.t.Error("RotaryBackward: BF16 dx of the wrong shape accepted")
	}

	testBF16AttentionInputs(e)
}

// testBF16AttentionInputs: BF16 q, k, v (opts.BF16) give the bits of F32 inputs that round to
// them, forward and backward, on two segments with GQA.
func testBF16AttentionInputs(e *env) {
	const T, H, K, Dh = 9, 4, 2, 16
	opts := kernels.AttentionOpts{CuSeqlens: []int32{0, 4, T}, BF16: true}
	q, k, v, do := e.rand(T, H, Dh), e.rand(T, K, Dh), e.rand(T, K, Dh), e.rand(T, H, Dh)
	cast := func(x *tensors.Tensor) *tensors.Tensor {
		y := e.zeros(tensors.BF16, x.Shape()...)
		e.ok(e.be.Cast(y, x))
		return y
	}
	q16, k16, v16 := cast(q), cast(k), cast(v)
	o, lse, o16, lse16 := e.out(T, H, Dh), e.out(H, T), e.out(T, H, Dh), e.out(H, T)
	e.ok(e.be.Attention(o, lse, q, k, v, opts))
	if err := e.be.Attention(o16, lse16, q16, k16, v16, opts); err != nil {
		e.t.Skipf("%s: no BF16 attention inputs: %v", e.be.Name(), err)
	}
	e.sameF32("Attention o (BF16 inputs)", o16, o)
	e.sameF32("Attention lse (BF16 inputs)", lse16, lse)
	dq, dk, dv := e.out(T, H, Dh), e.out(T, K, Dh), e.out(T, K, Dh)
	dq16, dk16, dv16 := e.out(T, H, Dh), e.out(T, K, Dh), e.out(T, K, Dh)
	e.ok(e.be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts))
	e.ok(e.be.AttentionBackward(dq16, dk16, dv16, do, q16, k16, v16, o, lse, opts))
	e.sameF32("AttentionBackward dq (BF16 inputs)", dq16, dq)
	e.sameF32("AttentionBackward dk (BF16 inputs)", dk16, dk)
	e.sameF32("AttentionBackward dv (BF16 inputs)", dv16, dv)
	if err := e.be.Attention(o16, lse16, q16, k, v16, opts); err == nil {
		e.t.Error("Attention: BF16 q with F32 k accepted")
	}
	noBF16 := opts
	noBF16.BF16 = false
	if err := e.be.Attention(o16, lse16, q16, k16, v16, noBF16); err == nil {
		e.t.Error("Attention: BF16 inputs without opts.BF16 accepted")
	}
}

// sameBF16 fails unless got (BF16) holds exactly the rounded values of f (F32).
func (e *env) sameBF16(name string, got, f *tensors.Tensor) {
	e.t.Helper()
	hg, hf := e.host(got).BF16(), e.host(f).F32()
	for i, v := range hf {
		if want := tensors.BF16FromF32(v); hg[i] != want {
			e.t.Fatalf("%s: element %d = %#04x, want %#04x (the F32 result rounded)", name, i, hg[i], want)
		}
	}
}

// sameF32 fails unless got and want hold the same float32 bits.
func (e *env) sameF32(name string, got, want *tensors.Tensor) {
	e.t.Helper()
	hg, hw := e.host(got).F32(), e.host(want).F32()
	for i := range hw {
		if hg[i] != hw[i] {
			e.t.Fatalf("%s: element %d = %g, want %g", name, i, hg[i], hw[i])
		}
	}
}
