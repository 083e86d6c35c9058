// Package spec is glmflow's pipeline file: the YAML a user runs (`glmflow run FILE
// [key=value ...]`), decoded strictly into a typed Spec, overridden from the command line,
// validated, and dumped canonically for logs and checkpoints.
//
// What it does:
//   - Strict decoding (Load, Parse) with goccy/go-yaml's parser: an unknown key, a value of the
//     wrong type, a duplicate key, anchors/aliases/tags and a second document are errors that
//     name the file, line, column and dotted key path ("FILE:LINE:COL: key a.b.c: ...").
//     Floats may be written as YAML 1.2 allows (1e-4, no dot needed).
//   - Overrides "key=value" with dotted paths (train.iterations=5, parallel.layout="Et|tL",
//     peft.target_modules=[linear_qkv,linear_proj]), applied in order after the file and before
//     validation; values are YAML; for a string key a plain number or boolean is taken as
//     written and an empty value means "". Errors name the override argument.
//   - Derived defaults after overrides: lr_schedule.decay_iters 0 → train.iterations; peft.alpha
//     0 → 32 (lora) or 64 (dora); peft.target_modules sorted.
//   - Validation (Spec.Validate) of every key and the rules between keys; all problems are
//     reported together, each at the origin of its key (file line, override, or "(default)").
//   - parallel.layout is parsed with package pipelines/layout (Megatron-Bridge's syntax
//     extended with V) and its stage count checked against pp × virtual_stages.
//   - Spec.Canonical: sorted, every key present, byte-stable, re-parses to the same Spec.
//
// Non-goals: it opens no files other than the spec (model and data paths are checked when the
// run starts), knows nothing of the model's config (the layout's layer counts are checked
// against it when the DAG is built; EP against the expert count likewise), and resolves hub ids
// elsewhere (package hfhub). Relative paths stay as written: the run resolves them against the
// working directory.
//
// # Schema
//
// Every key with its default ("required": must be set; "<...>": derived, see above). Names
// follow Megatron-Bridge where it has one (megatron-bridge.md 1.2–1.6), in snake_case;
// defaults follow its GLM-4.5V recipes where a default fits any run.
//
//	model:
//	  path: required            local HF model dir (config.json + safetensors) or hub id org/name
//	  revision: main            hub branch, tag or commit (hub ids only)
//	  precision: fp32           fp32 | bf16 (bf16 GEMM inputs, fp32 accumulation and master weights)
//	  recompute: false          recompute activations in backward instead of keeping them
//	data:
//	  maker: ""                 cord_v2 | medpix | raven | empty: which maker prepared the data (informational)
//	  path: required            prepared shards: directory with manifest.json, or the manifest
//	  eval_path: ""             prepared evaluation data; empty = none
//	  seq_length: 8192          row length T (pp > 1: every row exactly T; pp 1: padded, capped at T)
//	  packing: false            pack several samples into one row
//	  pad_multiple: 128         pad rows up to a multiple of this
//	  shuffle: true             shuffle per epoch, deterministically from seed and epoch
//	  seed: 1234                shuffle seed
//	train:
//	  iterations: required      optimizer steps
//	  global_batch_size: 32     samples per step, all data-parallel ranks together
//	  micro_batch_size: 1       samples per micro-batch B; global % (micro × parallel.dp) == 0
//	  seed: 1234                seed of every other RNG (adapter init, dropout)
//	  eval_every: 0             evaluate every N steps; 0 = never (needs eval_iters, data.eval_path)
//	  eval_iters: 0             global batches per evaluation
//	optimizer:
//	  lr: 3.0e-4                peak learning rate (AdamW)
//	  min_lr: 3.0e-5            learning rate at the end of the decay; <= lr
//	  beta1: 0.9                Adam β1, in [0, 1)
//	  beta2: 0.95               Adam β2, in [0, 1)
//	  eps: 1.0e-8               Adam ε, > 0
//	  weight_decay: 0.033       decoupled weight decay per step (the recipes' effective value)
//	  clip_grad: 1.0            global gradient L2-norm clip across ranks; 0 = none
//	lr_schedule:
//	  warmup_iters: 0           linear warm-up steps from 0 to lr; < decay_iters
//	  decay: cosine             cosine | linear | constant
//	  decay_iters: <iterations> step where the decay reaches min_lr; 0 = train.iterations
//	parallel:
//	  pp: 1                     pipeline ranks
//	  virtual_stages: 1         model chunks per rank; > 1 only with interleaved-1f1b (which needs >= 2)
//	  schedule: 1f1b            gpipe | 1f1b | interleaved-1f1b | zb-h1
//	  layout: ""                layer placement (pipelines/layout), pp × virtual_stages stages; empty = automatic
//	  dp: 1                     data-parallel replicas; world = pp × dp ranks
//	  ep: 1                     expert-parallel size; divides dp
//	  devices: cpu              cpu | cuda (one GPU per rank)
//	  threads_per_rank: 0       CPU threads per rank; 0 = the machine's CPUs split among its ranks
//	  transport: inproc         inproc (one process, channels) | tcp (one process per rank)
//	  launcher: local           tcp only: local (spawns the processes) | manual (--rank/--world/--master)
//	  master_addr: 127.0.0.1:0  tcp only: rank 0's host:port; port 0 = pick a free one (local only)
//	checkpoint:
//	  dir: ""                   checkpoint directory; empty = no checkpoints (required by save_every)
//	  save_every: 0             save trainable weights + optimizer state every N steps; 0 = never
//	  keep: 0                   newest checkpoints kept; 0 = all
//	logging:
//	  log_every: 10             log line (and metrics record) every N steps
//	  metrics_jsonl: ""         metrics file, one JSON object a line; empty = none
//	  trace: ""                 Chrome/Perfetto trace JSON of the execution; empty = none
//	  progress: auto            auto (bar when stderr is a terminal) | always | never
//	peft:
//	  scheme: none              none (full fine-tuning) | lora | dora
//	  rank: 32                  adapter rank r (lora/dora)
//	  alpha: <scheme>           adapter scale alpha/r; 0 = 32 for lora, 64 for dora
//	  dropout: 0.0              adapter input dropout, in [0, 1)
//	  dropout_position: pre     pre | post (dora: pre)
//	  target_modules: [linear_fc1, linear_fc2, linear_proj, linear_qkv]
//	  freeze_language_model: false     freeze the decoder stack (embedding to output)
//	  freeze_vision_model: false       freeze the vision patch embedding and blocks
//	  freeze_vision_projection: false  freeze the vision merger
//
// target_modules takes Megatron names (linear_qkv: fused q/k/v; linear_proj: attention output;
// linear_fc1: gate+up of the dense, shared-expert and routed-expert MLPs; linear_fc2: their
// down projection) or Hugging Face names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
// down_proj); an HF name inside a listed Megatron name is an error (two adapters on one linear).
//
// # Layouts
//
// parallel.layout lists the layers of each pipeline stage in Megatron-Bridge's syntax extended
// with V (grammar in package pipelines/layout): V vision tower, E embedding, t decoder layer,
// L final norm + output + loss, "|" between stages, x*N and (...)*N repeats, e.g.
// "VEt*5|(t*6|)*6t*5L", Megatron-Bridge's GLM-4.5V PEFT layout for pp 8 with V added. Stage i
// is chunk i/pp of rank i%pp. The spec checks syntax and the stage count; the counts of each
// layer kind are checked against the model when the DAG is built.
package spec
