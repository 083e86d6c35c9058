// Package prepare is glmflow's preprocessing job: an Apache Beam (Go SDK v2.77) pipeline that
// turns Hugging Face dataset files in the hub's Parquet layout into prepared-sample shards
// (datasets/shard) plus a manifest and a dead-letter file.
//
// It lives in datasets/ because it composes the makers (datasets/makers) and the shard writer
// (datasets/shard) with the transforms (image processor, chat template, tokenizer): datasets
// may import transforms, never the other way round. It is the only package besides the CLI
// command that imports Beam (≈1 GB of modules, minutes of cold build); keep it that way.
//
// # Pipeline
//
//	plan (before Beam)   resolve the split's files (hub.Resolve), open each with the maker's
//	                     columns (types and footer checked), cut the rows into units of
//	                     Options.UnitRows rows: (file, [start, end)); unknown maker or split,
//	                     missing files, wrong columns, a bad tokenizer or output folder fail here
//	Process  (ParDo)     per unit: read the rows with arrow-go (datasets/hub), run the maker,
//	                     process every image (imageproc.Process), render the chat with the
//	                     tokenizer (labels = Rendered.ShiftedLabels), check the length; each
//	                     row becomes exactly one sample (keyed by unit and rank in the unit)
//	                     or one dead letter {file, row, stage, reason}; plus the unit's counts
//	Order    (ParDo)     global order = samples in earlier units + rank (file order, then row),
//	                     shard = order / RowsPerShard (side input: the unit counts)
//	GroupByShard (GBK)
//	WriteShard (ParDo)   sort by order, check the orders are exactly the shard's range, write
//	                     <split>-NNNNN-of-NNNNN.parquet with datasets/shard (zstd, atomic rename)
//	Finalize (ParDo)     once, after everything (impulse + side inputs): counts must add up
//	                     (rows = samples + dead letters, per unit and in total), write
//	                     dead_letters.jsonl sorted by (file order, row), then manifest.json
//
// Nothing is dropped silently: a row error of the maker (null field, bad JSON, no image), an
// image that fails to decode or exceeds the decode cap, a conversation the template refuses
// and a sample longer than SeqLength all become dead letters; any other failure (unreadable
// file, I/O error) fails the bundle, and Beam retries it or fails the job.
//
// # Determinism and retries
//
// Same inputs and settings give byte-identical shards, manifest and dead-letter file, whatever
// the runner, the bundling or the number of workers: every DoFn is a pure function of its
// element and the settings; order and shard membership come from content (unit, row), never
// from worker ids or time; shards are sorted before writing; the manifest is canonical JSON.
// A retried or duplicated bundle rewrites identical files under the same names (each write is
// temp-file + rename), so Beam's retry model (reliability.md B.5) holds. Source files are
// named relative to the input folder given (a file input by its base name), so the output
// does not depend on where the data sits.
//
// The manifest (shard.Manifest) records the tokenizer hash, the image-processor settings and
// hash, the maker name and, as maker.options, {prompt, split, seq_length, rows_per_shard,
// chat: {hash, settings, convention}} — shard.Manifest has no field of its own for the chat
// options — and the totals with the dead-letter count.
//
// # Runners
//
// Options.Runner selects the runner; every runner below is linked in:
//
//   - prism (default): Beam's portable runner, started in this process (job service and a
//     loopback worker on localhost ports; no other network). Workers run in-process.
//   - direct: the Go SDK's legacy in-process runner (deprecated by Beam, kept for comparison).
//   - universal, flink, spark: submit to a job service at --endpoint (a Flink or Spark job
//     server). Workers run the Go SDK container (--environment_type=DOCKER, the default) or
//     --environment_type=PROCESS/EXTERNAL; they execute --worker_binary, a linux/amd64
//     glmflow built with CGO_ENABLED=0, started as `glmflow --worker=true ...`, which the CLI
//     hands to Beam's harness before anything else (IsWorker, RunWorker).
//   - dataflow: Google Cloud Dataflow; needs --project, --region, --temp_location,
//     --staging_location (gs:// paths) and usually --worker_binary and --sdk_container_image.
//
// Runner options are Beam's own flags (RunnerFlagNames, bound by the CLI; any other Beam flag
// through SetRunnerOption). The workers open the input files, the tokenizer and the output
// folder through the local file system at the paths the job was submitted with (made
// absolute), so with a remote runner those paths must be on storage every worker mounts at
// the same place (NFS, a FUSE-mounted bucket); Beam's filesystem registry (gs://, s3://) is
// not used. The remote runners cannot be exercised on the development machines (no job
// server, no cloud access): only prism and direct are tested.
//
// # Progress and metrics
//
// Beam counters in namespace glmflow.prepare: rows, samples, dead_letters, shards, and the
// nanoseconds spent in read_ns, image_ns, render_ns, write_ns (runners show them; Result
// reports them). With in-process runners Options.Progress also gets a line every
// ProgressEvery with rows read, samples, dead letters and shards written, then the totals.
//
// # Memory
//
// A worker holds one unit's Parquet batch (hub.Options.BatchRows rows) and one sample at a
// time while processing; the shard writer holds one whole shard (RowsPerShard samples) to
// sort it. Units are read by skipping to their first row: datasets/hub has no row-group seek,
// so a file is decoded up to each unit's start (cheap next to image processing; keep
// UnitRows large for files with many rows).
//
// Non-goals: downloading datasets (pipelines/hfhub), Beam's parquetio (a third Parquet stack;
// arrow-go is used inside the DoFns), streaming inputs, shuffling (the loader shuffles).
package prepare
