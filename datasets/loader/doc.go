// Package loader streams training micro-batches from a directory of prepared-sample shards
// (datasets/shard): a deterministic shuffle by (seed, epoch), data-parallel sharding, padded or
// packed collation, image normalisation, a resumable cursor and background prefetch.
//
// Non-goals: making shards (datasets/shard, the preprocessing job), moving tensors to a device,
// computing MRoPE positions (the model's embed stage does it per sample from input_ids,
// image_grid_thw and the packed attention_mask).
//
// # Order
//
// Epoch e visits the N samples in Permutation(N, seed, e) (PCG-DXSM + Fisher–Yates, see
// Permutation), or in manifest order with Sequential. The permutation is cut into
// floor(N/G) global batches of G samples (the rest of the epoch is skipped); data-parallel
// rank r of W takes the contiguous slice [r·G/W, (r+1)·G/W) of each global batch and returns it
// as G/(W·M) micro-batches of M consecutive samples. Every sample of an epoch's global batches
// goes to exactly one rank and micro-batch.
//
// # Batches (B rows, T tokens, P patches, N images)
//
//	input_ids       I32 [B, T]    padding = Options.PadID
//	attention_mask  I32 [B, T]    1 token, 0 padding; packed rows: the segment id (below)
//	labels          I32 [B, T]    HF labels, UNshifted (the model shifts): hf[0] = -100 and
//	                              hf[j+1] = stored[j] for the pre-shifted stored labels; -100 on
//	                              padding, so no position predicts across samples
//	pixel_values    F32 [P, 1176] imageproc.Normalize of the stored uint8 rows (x/255, CLIP
//	                              mean/std, frame duplicated temporally), images in batch order:
//	                              row 0 left to right, then row 1, … — the order of the
//	                              <|image|> runs in the flattened input_ids (HF masked scatter)
//	image_grid_thw  I32 [N, 3]    (t, h, w) per image, same order
//	segment_ids     I32 [B, T]    packed only: 1..n for the samples of a row, 0 = padding
//
// pixel_values and image_grid_thw are left out when the micro-batch has no image.
//
// Padded mode: one sample per row, T = the longest sample rounded up to a multiple of 128 (PadMultiple),
// capped at MaxSeqLen (Megatron-Bridge's PP = 1 shaping); FixedLength makes T = MaxSeqLen.
// Packed mode: the M samples of a micro-batch go into rows of capacity MaxSeqLen by first-fit
// decreasing (ties in batch order; each row lists its samples in batch order), so B ≤ M and
// the number of samples per micro-batch stays M. attention_mask carries the segment ids too:
// that is the model's packed-row convention (stages/glm4v: a new attention segment and a new
// MRoPE position stream start where the non-zero value changes).
//
// Over-length samples (T > MaxSeqLen) are an error, or with OverLengthTruncate are cut to
// MaxSeqLen; a cut that would fall inside an <|image|> run moves back to the run's start and
// the images after it are dropped with their pixels. Truncations are reported per sample
// (Batch.Samples) and in Stats.
//
// # Cursor and prefetch
//
// Every batch carries the Cursor after it (JSON, saved with checkpoints); New(o, &cursor)
// continues with exactly the batches that would have followed. A background goroutine
// prepares up to Options.Prefetch micro-batches; its first error is returned by the next
// Next call and every later one. Close (or a cancelled Next context) stops it.
//
// # Memory
//
// Samples are read by random access through an LRU cache of decoded row groups bounded by
// Options.CacheBytes. When the dataset's decoded size fits the cache every row group is read
// once; otherwise a random order re-reads row groups (write shards with small row groups for
// datasets much larger than memory).
package loader
