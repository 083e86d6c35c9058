package spec

// Spec is one training run: what to train (Model, PEFT), on what (Data), how long and how
// (Train, Optimizer, LRSchedule), where (Parallel), and what to keep (Checkpoint, Logging).
// Load fills it from a YAML file plus key=value overrides; every field has the default of
// Defaults unless the file or an override sets it. The yaml tags are the keys of the file.
type Spec struct {
	Model      Model      `yaml:"model"`
	Data       Data       `yaml:"data"`
	Train      Train      `yaml:"train"`
	Optimizer  Optimizer  `yaml:"optimizer"`
	LRSchedule LRSchedule `yaml:"lr_schedule"`
	Parallel   Parallel   `yaml:"parallel"`
	Checkpoint Checkpoint `yaml:"checkpoint"`
	Logging    Logging    `yaml:"logging"`
	PEFT       PEFT       `yaml:"peft"`

	// origins maps each key path set by the file or an override to where it was set, so that
	// validation errors can point at the line (or the override) that gave the bad value.
	origins map[string]origin
}

// Model is the checkpoint to fine-tune and how to run it.
type Model struct {
	// Path is a local Hugging Face model directory (config.json + safetensors) or a hub id
	// "org/name" looked up in the local HF cache (package hfhub). A directory that exists wins.
	Path string `yaml:"path"`
	// Revision is the hub branch, tag or commit used when Path is a hub id.
	Revision string `yaml:"revision"`
	// Precision of the GEMMs: "fp32" or "bf16" (bf16 inputs, fp32 accumulation and master
	// weights; Megatron-Bridge's "bf16_mixed").
	Precision string `yaml:"precision"`
	// Recompute drops activations after the forward pass and recomputes them in backward.
	Recompute bool `yaml:"recompute"`
}

// Data is the prepared (tokenized, image-processed) dataset the loader reads.
type Data struct {
	// Maker records which dataset maker prepared the shards ("cord_v2", "medpix", "raven");
	// informational, for logs and checkpoints; empty when unknown.
	Maker string `yaml:"maker"`
	// Path is the prepared training data: a shard directory holding manifest.json, or the
	// manifest file itself.
	Path string `yaml:"path"`
	// EvalPath is the prepared evaluation data (same form as Path); empty = no evaluation.
	EvalPath string `yaml:"eval_path"`
	// SeqLength is the longest token row T. Rows are padded per micro-batch to a multiple of
	// PadMultiple, capped at SeqLength (ranks exchange tensors with their shapes, so no fixed
	// length is needed); longer samples are an error naming their source.
	SeqLength int `yaml:"seq_length"`
	// Packing concatenates several samples into one row (segment ids keep them apart).
	Packing bool `yaml:"packing"`
	// PadMultiple rounds the padded row length up to a multiple of this (capped at SeqLength).
	PadMultiple int `yaml:"pad_multiple"`
	// Shuffle shuffles the samples every epoch, deterministically from Seed and the epoch.
	Shuffle bool `yaml:"shuffle"`
	// Seed of the shuffle.
	Seed int64 `yaml:"seed"`
}

// Train is the length and batch shape of the run.
type Train struct {
	// Iterations is the number of optimizer steps.
	Iterations int `yaml:"iterations"`
	// GlobalBatchSize is the samples per optimizer step, across all data-parallel ranks.
	GlobalBatchSize int `yaml:"global_batch_size"`
	// MicroBatchSize is the samples per micro-batch B (one pipeline forward/backward).
	MicroBatchSize int `yaml:"micro_batch_size"`
	// Seed seeds every other RNG of the run (LoRA init, dropout).
	Seed int64 `yaml:"seed"`
	// EvalEvery runs evaluation every this many steps; 0 = never.
	EvalEvery int `yaml:"eval_every"`
	// EvalIters is the number of global batches one evaluation reads.
	EvalIters int `yaml:"eval_iters"`
}

// Optimizer is AdamW (decoupled weight decay) with global gradient-norm clipping.
type Optimizer struct {
	// LR is the peak learning rate, reached at the end of warm-up.
	LR float64 `yaml:"lr"`
	// MinLR is the floor the decay ends at.
	MinLR float64 `yaml:"min_lr"`
	// Beta1 and Beta2 are Adam's moment decay rates.
	Beta1 float64 `yaml:"beta1"`
	Beta2 float64 `yaml:"beta2"`
	// Eps is added to the root of the second moment.
	Eps float64 `yaml:"eps"`
	// WeightDecay is the decoupled weight decay applied each step.
	WeightDecay float64 `yaml:"weight_decay"`
	// ClipGrad clips the global gradient L2 norm (across all ranks) to this; 0 = no clipping.
	ClipGrad float64 `yaml:"clip_grad"`
}

// LRSchedule is linear warm-up from 0 to Optimizer.LR, then a decay to Optimizer.MinLR.
type LRSchedule struct {
	// WarmupIters is the number of linear warm-up steps.
	WarmupIters int `yaml:"warmup_iters"`
	// Decay is the shape after warm-up: "cosine", "linear" or "constant" (stays at LR).
	Decay string `yaml:"decay"`
	// DecayIters is the step at which the decay reaches MinLR (Megatron's lr_decay_iters,
	// counted from step 0); 0 in the file means train.iterations.
	DecayIters int `yaml:"decay_iters"`
}

// Parallel is how the run is cut into ranks and where they run.
type Parallel struct {
	// PP is the number of pipeline ranks.
	PP int `yaml:"pp"`
	// VirtualStages is the number of model chunks per pipeline rank (interleaved-1f1b only).
	VirtualStages int `yaml:"virtual_stages"`
	// Schedule is the micro-batch schedule: "gpipe", "1f1b", "interleaved-1f1b" or "zb-h1".
	Schedule string `yaml:"schedule"`
	// Layout places layers on pipeline stages (syntax: package pipelines/layout); empty =
	// automatic balance.
	Layout string `yaml:"layout"`
	// DP is the number of data-parallel replicas of the pipeline.
	DP int `yaml:"dp"`
	// EP is the expert-parallel size: the routed experts of each MoE layer are split over EP
	// data-parallel ranks (carved out of DP, as in Megatron-Core).
	EP int `yaml:"ep"`
	// Devices is where ranks compute: "cpu" or "cuda" (one GPU per rank).
	Devices string `yaml:"devices"`
	// ThreadsPerRank is the CPU threads each rank's kernels use; 0 = the CPUs of the machine
	// divided evenly among the ranks it runs.
	ThreadsPerRank int `yaml:"threads_per_rank"`
	// Transport carries activations and gradients between ranks: "inproc" (all ranks in one
	// process, channels) or "tcp" (one process per rank, loopback or network sockets).
	Transport string `yaml:"transport"`
	// Launcher starts the processes of the tcp transport: "local" (glmflow spawns DP×PP
	// processes on this machine) or "manual" (each started by hand with --rank, --world and
	// --master). Unused by inproc.
	Launcher string `yaml:"launcher"`
	// MasterAddr is the host:port rank 0 listens on for the tcp transport; port 0 lets the
	// local launcher pick a free port (manual launches need a fixed one).
	MasterAddr string `yaml:"master_addr"`
}

// World is the total number of ranks: PP × DP.
func (p Parallel) World() int { return p.PP * p.DP }

// Checkpoint is what is saved during the run.
type Checkpoint struct {
	// Dir receives the checkpoints; empty = no checkpoints.
	Dir string `yaml:"dir"`
	// SaveEvery saves trainable weights and optimizer state every this many steps; 0 = never.
	SaveEvery int `yaml:"save_every"`
	// Keep is how many of the newest checkpoints to keep; 0 = all.
	Keep int `yaml:"keep"`
}

// Logging is what the run reports.
type Logging struct {
	// LogEvery prints (and writes to MetricsJSONL) a line every this many steps.
	LogEvery int `yaml:"log_every"`
	// MetricsJSONL is the file metrics are appended to, one JSON object a line; empty = none.
	MetricsJSONL string `yaml:"metrics_jsonl"`
	// Trace is the Chrome/Perfetto trace JSON file of the execution; empty = no trace.
	Trace string `yaml:"trace"`
	// Progress is the progress bar: "auto" (when stderr is a terminal), "always" or "never".
	Progress string `yaml:"progress"`
}

// PEFT is parameter-efficient fine-tuning and freezing (applied by the PEFT stages).
type PEFT struct {
	// Scheme is "none" (full fine-tuning), "lora" or "dora".
	Scheme string `yaml:"scheme"`
	// Rank is the adapter dimension r (Megatron-Bridge's dim).
	Rank int `yaml:"rank"`
	// Alpha scales the adapter by Alpha/Rank; 0 in the file means the scheme's default
	// (32 for lora, 64 for dora, Megatron-Bridge's defaults).
	Alpha float64 `yaml:"alpha"`
	// Dropout is the dropout probability on the adapter input.
	Dropout float64 `yaml:"dropout"`
	// DropoutPosition is "pre" (before the down-projection A) or "post" (after B); dora
	// needs "pre".
	DropoutPosition string `yaml:"dropout_position"`
	// TargetModules are the linears that get adapters, by Megatron name (linear_qkv,
	// linear_proj, linear_fc1, linear_fc2) or Hugging Face name (q_proj, k_proj, v_proj,
	// o_proj, gate_proj, up_proj, down_proj). Stored sorted.
	TargetModules []string `yaml:"target_modules"`
	// FreezeLanguageModel freezes the whole decoder stack (embedding, layers, final norm,
	// output).
	FreezeLanguageModel bool `yaml:"freeze_language_model"`
	// FreezeVisionModel freezes the vision tower's patch embedding and blocks.
	FreezeVisionModel bool `yaml:"freeze_vision_model"`
	// FreezeVisionProjection freezes the vision merger (projection into the decoder).
	FreezeVisionProjection bool `yaml:"freeze_vision_projection"`
}

// Defaults returns the spec every file starts from. Values follow Megatron-Bridge's GLM-4.5V
// recipes (megatron-bridge.md 1.2–1.6) where a default fits any run; sizes that depend on
// the run (model, data, iterations) have none and must be set.
func Defaults() Spec {
	return Spec{
		Model: Model{Revision: "main", Precision: PrecisionFP32},
		Data:  Data{SeqLength: 8192, PadMultiple: 128, Shuffle: true, Seed: 1234},
		Train: Train{GlobalBatchSize: 32, MicroBatchSize: 1, Seed: 1234},
		Optimizer: Optimizer{
			LR: 3e-4, MinLR: 3e-5, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8,
			WeightDecay: 0.033, ClipGrad: 1.0,
		},
		LRSchedule: LRSchedule{Decay: DecayCosine},
		Parallel: Parallel{
			PP: 1, VirtualStages: 1, Schedule: Schedule1F1B, DP: 1, EP: 1,
			Devices: DevicesCPU, Transport: TransportInproc, Launcher: LauncherLocal,
			MasterAddr: "127.0.0.1:0",
		},
		Logging: Logging{LogEvery: 10, Progress: ProgressAuto},
		PEFT: PEFT{
			Scheme: PEFTNone, Rank: 32, DropoutPosition: "pre",
			TargetModules: []string{"linear_fc1", "linear_fc2", "linear_proj", "linear_qkv"},
		},
	}
}

// Names accepted by the enumerated fields.
const (
	PrecisionFP32 = "fp32"
	PrecisionBF16 = "bf16"

	DecayCosine   = "cosine"
	DecayLinear   = "linear"
	DecayConstant = "constant"

	ScheduleGPipe       = "gpipe"
	Schedule1F1B        = "1f1b"
	ScheduleInterleaved = "interleaved-1f1b"
	ScheduleZBH1        = "zb-h1"

	DevicesCPU  = "cpu"
	DevicesCUDA = "cuda"

	TransportInproc = "inproc"
	TransportTCP    = "tcp"

	LauncherLocal  = "local"
	LauncherManual = "manual"

	ProgressAuto   = "auto"
	ProgressAlways = "always"
	ProgressNever  = "never"

	PEFTNone = "none"
	PEFTLoRA = "lora"
	PEFTDoRA = "dora"
)

// NumMicroBatches is the micro-batches each pipeline runs per step:
// global batch / (micro batch × DP).
func (s *Spec) NumMicroBatches() int {
	d := s.Train.MicroBatchSize * s.Parallel.DP
	if d <= 0 {
		return 0
	}
	return s.Train.GlobalBatchSize / d
}
