// Package shard is the prepared-sample format of glmflow: the Arrow schema of one tokenized
// multimodal training sample, the Parquet shard writer and reader (arrow-go/v18 pqarrow, zstd)
// and the manifest.json that lists a directory of shards.
//
// Non-goals: making samples (the makers and transforms do: chat rendering, tokenizer, image
// processor), batching, shuffling and normalising pixels (package datasets/loader).
//
// # Sample schema (SchemaVersion 1)
//
// One Parquet row per sample (T tokens, I images, P_k patches of image k). Every field and
// list element is non-null (Parquet "required").
//
//	input_ids       list<int32>                 [T] token ids as the model reads them; an image is
//	                                            <|begin_of_image|> <|image|>×(h·w/m²) <|end_of_image|>
//	labels          list<int32>                 [T] PRE-SHIFTED targets (Megatron-Bridge): labels[i] is
//	                                            the token predicted at position i, so labels[i] ==
//	                                            input_ids[i+1] where trained and -100 elsewhere; the
//	                                            last label is always -100
//	image_grid_thw  list<fixed_size_list<int32,3>> [I][3] (t, h, w) in patches per image, in the
//	                                            order the <|image|> runs appear; t = 1
//	image_rows      list<binary>                [I] per image P = h·w patch rows of 3·ps·ps uint8
//	                                            values (ps = patch size, 14 → 588 bytes): the resized
//	                                            RGB of ONE temporal frame, rows in merge-block order,
//	                                            columns (c, ph, pw) — transforms/imageproc.Image.Rows.
//	                                            The loader rescales, normalises and duplicates the frame
//	                                            temporally into HF pixel_values rows of 1176 floats.
//	source_file     string                      the input file the sample came from (as the maker saw it)
//	source_row      int64                       its row in that file (0-based)
//	num_tokens      int32                       T (planning without reading the lists)
//	num_loss_tokens int32                       number of labels != -100
//
// Storing uint8 rows instead of float32 pixel_values makes shards 8× smaller than HF's tensors
// and keeps the exact values the image processor produced; normalisation is a cheap affine map.
//
// The Arrow schema metadata (also in Parquet's key-value metadata) carries the format version
// and the Layout the per-row checks need: glmflow.sample.version, glmflow.image_token_id,
// glmflow.merge_size, glmflow.patch_size. Readers refuse other versions.
//
// # Per-row invariants (checked by the writer and again by the reader)
//
//   - len(labels) == len(input_ids) == num_tokens ≥ 1; labels[T-1] == -100; every label is -100
//     or equals the next input id; num_loss_tokens counts the labels != -100.
//   - every grid is (1, h, w) with h, w ≥ 1 multiples of the merge size m; the <|image|> tokens
//     form runs, each run covers whole images in order, and the run lengths add up to
//     Σ h·w/m² (so a truncation at a run boundary never splits an image).
//   - len(image_rows) == len(image_grid_thw) and image k holds exactly h·w·3·ps·ps bytes.
//
// Errors name the file, the column and the row.
//
// # Files
//
// A shard is written to a temporary file next to its destination, synced and renamed, so a
// crash never leaves a half-written shard under the final name. Row groups are bounded by
// rows and by payload bytes, so readers stream a shard in bounded memory. Writing the same
// samples with the same options gives byte-identical files.
//
// manifest.json (WriteManifest / ReadManifest) lists the shards (name, rows, bytes, sha256,
// token/image counts), totals, the schema, the tokenizer hash, the image-processor settings
// and their hash, and the maker name and options. It is written with sorted keys and a
// trailing newline, so equal inputs give equal bytes; its Hash identifies a dataset in loader
// cursors.
package shard
