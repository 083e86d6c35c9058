// Package safetensors reads and writes Hugging Face safetensors files, single and sharded.
//
// Reading: Open maps a file read-only (mmap; plain reads where mapping fails) after reading and
// validating only its header, so opening a 200 GB checkpoint costs one header read. Tensor
// returns a zero-copy, read-only view into the mapping (a copy when the data is misaligned for
// its dtype). OpenIndex / OpenDir read a sharded checkpoint (model.safetensors.index.json) and
// open each shard file only when one of its tensors is first asked for, so a pipeline stage
// touches only its own shards.
//
// Validation follows the reference implementation (huggingface/safetensors, tensor.rs) and
// happens before anything sized by the file is allocated: header length 2 ≤ N ≤ 100,000,000
// and inside the file; UTF-8 JSON object starting with '{' (trailing whitespace allowed); no
// duplicate keys; __metadata__ maps strings to strings; known dtypes; non-negative shapes of
// rank ≤ 64; numel × size without overflow and equal to the offset range; offsets, sorted,
// start at 0 and are contiguous (no holes, no overlaps); last end + 8 + N == file size.
// Every violation is a *FormatError naming file, tensor and Kind; test with
// errors.Is(err, safetensors.InvalidOffset) or errors.As. Tensor values are not checked.
// Tensor-info objects must hold exactly dtype, shape and data_offsets (the reference ignores
// unknown fields; this reader rejects them).
//
// Writing: Write / WriteEntries produce the layout the reference writer produces (tensors
// sorted by dtype alignment descending, then name; compact JSON header with __metadata__ first
// and its keys sorted; header padded with spaces to a multiple of 8), so the same state gives
// byte-identical files. Files are written to a temporary file in the target directory,
// fsynced and renamed into place. WriteEntries streams: each tensor's bytes are produced on
// demand. WriteSharded splits like huggingface_hub (greedy in name order, oversized tensors
// alone) into model-0000i-of-0000N.safetensors plus model.safetensors.index.json.
//
// Lifetime: views returned by File.Tensor point into the mapping and are invalid after
// File.Close (touching them then faults). Clone a tensor that must outlive its File.
//
// Non-goals: big-endian hosts, sub-byte dtypes (F4, F6), complex dtypes, writing from device
// memory (copy to host first), repairing malformed files.
package safetensors
