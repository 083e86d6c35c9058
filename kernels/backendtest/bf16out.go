package backendtest

import "github.com/glmflow/glmflow/tensors"

// testBF16Outputs checks the optional BF16 outputs (mixed precision: a result read only by
// bf16 GEMMs is written rounded): RMSNorm's out, SwiGLU's out and SwiGLUBackward's dgate and
// dup give exactly the bits of the F32 op followed by Cast (round to nearest even), with rstd
// unchanged; a BF16 output of the wrong shape is an error. A backend that rejects the first
// BF16 output skips the group (callers fall back to F32 + Cast).
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
