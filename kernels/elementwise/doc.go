// Package elementwise holds the pointwise ops of the model, forward and backward: Add, Mul,
// Scale, SiLU, exact GELU (erf form), SwiGLU out = silu(g)·u, and the fused SwiGLU over a
// concatenated gate_up buffer [T, 2F] (first F columns gate, last F up, as Hugging Face
// GLM-4.5V's gate_up_proj output split with chunk(2, dim=-1)).
//
// Shape vocabulary: n elements (any shape, flattened), T tokens, F MLP width.
//
// Conventions: outputs are preallocated by the caller and overwritten; every backward writes
// input gradients (overwritten, never accumulated; none of these ops has weights). Lengths are
// validated up front and a bad length returns an error naming the op and the argument. Outputs
// may alias inputs of the same shape (out = x in place) unless a comment says otherwise. Large
// inputs are split over runtime.GOMAXPROCS(0) goroutines; every element is computed by the same
// arithmetic wherever the split falls, so results do not depend on the thread count.
//
// Numerics: fp32 in, fp32 out. SiLU/SwiGLU use vec.Sigmoid (≤ 2 ulp exp). GELU works in float32 from x
// directly (no rounded x/√2): with a = |x| and a² = s + e split exactly by a fused multiply-add,
// d = e^(−a²/2) is kernels/vec's exp reduction with e folded into the reduced argument;
// erf(x/√2) = x·E(x²) (degree-4 polynomial) for |x| < 1, and erfc(a/√2) = d·P(a)/Q(a)
// (degrees 3/4) for |x| ≥ 1, so Φ(x) = erfc/2 of negative x keeps its relative accuracy down to
// x ≈ −13 (0 beyond −13.25). Measured (TestErf): erf ≤ 1.9 ulp of math.Erf, Φ on the lower tail
// ≤ 4.9 ulp, e^(−x²/2) ≤ 1.1 ulp, identical on all paths. kernels/vec/internal/asmgen/gauss.go
// documents the fit; normalLanes (gelu.go) is the same algorithm in Go, bit for bit the scalar
// transcription it replaced (checked over all 2³² float32 inputs).
//
// Code paths: on amd64 every op runs one fused assembly pass (asm_amd64.s, generated
// by kernels/vec/internal/asmgen) for AVX-512 or AVX2+FMA, chosen at init from the CPU; the
// pure-Go code is kept as the generic path (purego builds, other architectures, tests). σ in the
// assembly is vec's algorithm (same exp, same 1/(1+e^−x)); the SiLU/SwiGLU backward forms
// x·(1−σ)+1 with one fused multiply-add, so the assembly and generic paths may differ in the
// last bits, while the AVX2 and AVX-512 paths give identical bits (TestPathsAgree).
//
// Mixed precision: SwiGLUBF16 and SwiGLUBackwardBF16 write their outputs rounded to bfloat16
// (the bits of the float32 op followed by tensors.F32ToBF16) through L1 chunk buffers, for
// results that only bf16 GEMMs read.
//
// Non-goals: bf16 inputs (callers convert), broadcasting (callers pass equal lengths),
// the tanh GELU approximation (GLM-4.5V uses exact GELU).
package elementwise
