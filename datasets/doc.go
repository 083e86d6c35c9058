// Package datasets groups the data path from Hugging Face datasets to training batches:
//
//   - hub: the hub's Parquet layout in a local folder, read with arrow-go (checked, bounded)
//   - makers: cord_v2, medpix, raven — rows to chat.Conversation, Megatron-Bridge's semantics
//   - shard: the prepared-sample schema, Parquet shard writer/reader and manifest
//   - loader: shuffle, padding or packing, HF-named batches, resumable cursor, prefetch
//   - prepare: `glmflow data prepare`, the Apache Beam job from hub files to shards
package datasets
