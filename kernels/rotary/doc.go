// Package rotary applies rotary position embeddings (RoPE) to query/key heads, forward and
// backward, and builds the per-token angle tables GLM-4.5V uses (text MRoPE, vision 2-D axial).
//
// Shape vocabulary: T tokens, H heads (q heads or kv heads: the kernel does not care),
// Dh head dim, R rotary dims (R ≤ Dh, even), S position streams.
//
// Layout (matches Hugging Face glm4v_moe exactly; see /work/shared/docs/glm45v.md §2.3, §3.5):
//   - NeoX half-split ("rotate_half") pairing on the first R dims of every head: dim i pairs
//     with dim i+R/2 for i < R/2, and both use the angle of frequency slot i. Dims [R, Dh)
//     pass through unchanged (partial rotary: GLM-4.5V text R = 64 of Dh = 128; vision R = Dh).
//     out[i]       = x[i]·cos[i] − x[i+R/2]·sin[i]
//     out[i+R/2]   = x[i+R/2]·cos[i] + x[i]·sin[i]
//     Each product is rounded to float32 before the sum (no FMA), as PyTorch's
//     q·cos + rotate_half(q)·sin does, so fp32 results are bit-identical to HF's fp32 path.
//   - The interleaved pairing (2i, 2i+1) of GLM-4.1V is NOT used by GLM-4.5V and is not
//     provided.
//   - The tables cos, sin are [T, R/2], one row per token (HF's emb = cat(freq, freq) stores the
//     same R/2 values twice; we store them once). Because each token has its own row, one kernel
//     covers 1-D RoPE, text MRoPE (3 streams) and vision axial rope.
//
// Angle tables: InvFreq gives HF's float32 inverse frequencies; Slots says, per frequency slot,
// which position stream and which inverse frequency it uses (MRoPESlots for the text model,
// AxialSlots for the vision tower); Angles fills cos/sin from integer positions [S, T].
//
// Speed: on AVX-512 machines, rows whose R/2 is a multiple of 16 (the vision tower's 64 and
// GLM-4.5V's text 64 of 128) rotate in assembly (rotate_amd64.s) with the Go loop's bits
// (rounded products, then the add: TestAssemblyMatchesGo); BenchmarkVision compares the two.
//
// Forward16 writes bf16 (the float32 result rounded), for mixed-precision attention operands.
//
// Non-goals: bf16 inputs, attention itself (package attention), computing
// position ids from image grids (stages).
package rotary
