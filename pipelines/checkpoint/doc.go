// Package checkpoint saves a pipeline's training state so a run can resume exactly, and
// never exposes a partly written step.
//
// Layout under the checkpoint directory:
//
//	step-00000010/rank-00000.safetensors   the rank's trainable parameters (HF names) and
//	                                       optimizer moments (exp_avg.<name>, exp_avg_sq.<name>)
//	step-00000010/rank-00000.json          RankState: step, iteration, data-loader cursor,
//	                                       RNG state, the .safetensors file's size and sha256
//	step-00000010/checkpoint.json          Manifest, written by rank 0 after every rank has
//	                                       written (a barrier): its presence makes the step
//	                                       complete
//	latest                                 the newest complete step's folder name (a hint)
//
// Protocol (pebble's and llm.c's): every file is written to a temporary name, synced,
// renamed into place, and its directory synced; a rank's JSON is written after its tensors
// (it carries their hash); the manifest after all ranks; `latest` last. Latest trusts only
// content: the newest step folder whose manifest lists rank files that exist with the
// recorded sizes and hashes. A crash at any point leaves either the previous complete step or
// the new one — tested by replaying a save on a crashable in-memory file system and crashing
// after every single operation (crash_test.go), with the operation sequence in a golden file.
//
// Everything goes through the FS interface (OS files, or MemFS in tests). Names are sorted
// and JSON written with sorted keys, so the same state gives the same bytes.
//
// Non-goals: resharding on load (a resume uses the same pipeline layout), asynchronous saves.
package checkpoint
