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
// Numerics: fp32 in, fp32 out. SiLU/SwiGLU use vec.Sigmoid (≤ 2 ulp exp). GELU uses an erf
// built from two pieces: the Taylor series of erf(z)/z in z² for |z| < 0.75 and the Numerical
// Recipes erfc Chebyshev fit t·exp(−z² + P(t)), t = 1/(1+z/2), for |z| ≥ 0.75, with −z² split
// into an exact float32 part and its float64 residual so the large-|z| tail keeps its relative
// accuracy (erf within 3 ulp of math.Erf; GELU of negative x is computed as x·erfc(|z|)/2, so
// the tail has no cancellation).
//
// Code paths: on amd64 every op except GELU runs one fused assembly pass (asm_amd64.s, generated
// by kernels/vec/internal/asmgen) for AVX-512 or AVX2+FMA, chosen at init from the CPU; the
// pure-Go code is kept as the generic path (purego builds, other architectures, tests). σ in the
// assembly is vec's algorithm (same exp, same 1/(1+e^−x)); the SiLU/SwiGLU backward forms
// x·(1−σ)+1 with one fused multiply-add, so the assembly and generic paths may differ in the
// last bits, while the AVX2 and AVX-512 paths give identical bits (TestPathsAgree). GELU still
// runs the float64 pure-Go erf on every path (not yet vectorised).
//
// Non-goals: bf16 storage (callers convert), broadcasting (callers pass equal lengths),
// the tanh GELU approximation (GLM-4.5V uses exact GELU).
package elementwise
