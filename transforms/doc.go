// Package transforms will hold the image processor (HF Glm4vImageProcessor semantics), the
// tokenizer (tokenizer.json byte-level BPE), the GLM-4.5V chat template with loss masks, and
// the Beam preprocessing pipeline composed from them.
//
// It is empty at this stage of the project: the foundation (tensors/, kernels/) comes first.
package transforms
