// Package transforms groups what turns raw samples into model inputs, one package each:
//
//   - imageproc: HF Glm4vImageProcessor semantics (RGB conversion as PIL, smart_resize,
//     PIL-exact bicubic resize, CLIP normalisation, patch rows in merge-block order)
//   - jpeg: a JPEG decoder bit-exact with Pillow/libjpeg-turbo
//   - tokenizer: HF tokenizer.json byte-level BPE
//   - chat: the GLM-4.5V chat template and the training loss masks
//
// The Beam job that composes them with the dataset makers and the shard writer is
// datasets/prepare (datasets imports transforms, not the other way round).
package transforms
