// Package hub reads Hugging Face hub datasets stored as Parquet in a local folder.
//
// It does three things:
//
//   - Layout: find the files of a split in the hub's layout — data/<split>-NNNNN-of-MMMMM.parquet,
//     <config>/<split>-NNNNN-of-MMMMM.parquet (optionally with the "-<hex fingerprint>" suffix older
//     push_to_hub versions add), <config>/<split>/NNNN.parquet (the hub's parquet conversion) — and
//     check that every shard of the split is present and that the shard counts agree.
//   - Schema: check that the columns a maker needs exist with the Arrow types the HF `datasets`
//     features produce (Image = struct<bytes: binary, path: string>, a list of images, strings,
//     the_cauldron's texts = list<struct<user, assistant, source>>), whatever wrote the file:
//     pyarrow, DuckDB or arrow-go (large_binary / large_string, string views, dictionary-encoded
//     strings, nullable or required fields, several row groups, extra columns and struct fields).
//   - Rows: stream the file in record batches of bounded size (arrow-go/v18 pqarrow) and hand each
//     row to the caller with typed accessors whose errors name the file, the row and the column.
//
// Robustness: a file is untrusted input. Sizes in the footer (row counts, column-chunk sizes,
// page sizes) are checked against limits before anything is read; arrow-go panics on some
// malformed files, so every call into it is guarded and a panic becomes an error naming the file.
// Required (non-nullable) columns that nevertheless contain nulls are rejected.
//
// Non-goals: downloading from the hub (the files are expected on disk), writing Parquet (see
// datasets/shard), decoding images (the bytes are passed on as stored), and verifying page CRCs
// (arrow-go's reader does not expose them; a corrupt page is caught only when it fails to decode).
//
// Data layout of a row as the accessors return it:
//
//	Image  {Bytes []byte (the encoded JPEG/PNG file), Path string}
//	Turn   {User, Assistant, Source string}
package hub
