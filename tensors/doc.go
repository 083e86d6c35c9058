// Package tensors holds glmflow's Tensor: a dtype, a shape and contiguous row-major storage on
// a device, plus dtype conversion (bf16/f16/f8 ⇄ f32).
//
// A Tensor is always contiguous. Views share storage: Reshape always, Slice when the selected
// block is contiguous (all dimensions before the sliced one have size 1); anything else copies
// and says so in its name (Contiguous, SliceCopy).
//
// Storage on "cpu" is a Go byte slice (possibly a read-only memory map, see tensors/safetensors).
// Storage on "cuda:N" is an opaque device pointer owned by a kernels backend; this package only
// carries it and never dereferences it.
//
// Conversions (convert.go): scalar forms are the reference; the slice forms dispatch at init to
// AVX-512 or AVX2+F16C assembly (convert_amd64.s) with bit-identical results, pure Go elsewhere
// or with the purego build tag.
//
// Non-goals: autograd, broadcasting arithmetic, strided (non-contiguous) views. Math lives in
// kernels/.
//
// Shape vocabulary used across glmflow: B batch, T tokens, D hidden, H heads, K kv heads,
// E experts, k top-k, P patches, V vocab.
package tensors
