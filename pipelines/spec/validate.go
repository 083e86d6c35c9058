package spec

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/glmflow/glmflow/pipelines/layout"
)

// Makers are the dataset makers data.maker may name.
var Makers = []string{"cord_v2", "medpix", "raven"}

// Target module names accepted by peft.target_modules: Megatron-Core names and the Hugging
// Face names of the same linears (each HF name is part of one Megatron linear).
var (
	MegatronTargets = []string{"linear_fc1", "linear_fc2", "linear_proj", "linear_qkv"}
	hfTargets       = map[string]string{
		"q_proj": "linear_qkv", "k_proj": "linear_qkv", "v_proj": "linear_qkv",
		"o_proj": "linear_proj", "gate_proj": "linear_fc1", "up_proj": "linear_fc1",
		"down_proj": "linear_fc2",
	}
)

// MegatronTarget returns the Megatron-Core linear a target module name belongs to
// (itself for a Megatron name), or false for an unknown name.
func MegatronTarget(name string) (string, bool) {
	if slices.Contains(MegatronTargets, name) {
		return name, true
	}
	m, ok := hfTargets[name]
	return m, ok
}

// validator collects problems, each tied to a key and reported at the key's origin.
type validator struct {
	s    *Spec
	errs []error
}

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, v.s.origins[key].err(key, format, args...))
}

func (v *validator) positive(key string, n int) {
	if n <= 0 {
		v.add(key, "must be > 0, got %d", n)
	}
}

func (v *validator) nonNegative(key string, n int) {
	if n < 0 {
		v.add(key, "must be >= 0, got %d", n)
	}
}

func (v *validator) oneOf(key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		v.add(key, "%q is not one of %s", got, strings.Join(allowed, ", "))
	}
}

func (v *validator) required(key, got, what string) {
	if strings.TrimSpace(got) == "" {
		v.add(key, "required: %s", what)
	}
}

// Validate checks every key and the rules between keys. It returns all problems found,
// joined (errors.Join), each an *Error naming its key and where its value came from.
func (s *Spec) Validate() error {
	v := &validator{s: s}
	v.model()
	v.data()
	v.train()
	v.optimizer()
	v.schedule()
	v.parallel()
	v.checkpoint()
	v.logging()
	v.peft()
	return errors.Join(v.errs...)
}

func (v *validator) model() {
	m := v.s.Model
	v.required("model.path", m.Path, "a local Hugging Face model directory or a hub id org/name")
	if m.Revision == "" || strings.ContainsAny(m.Revision, " \t\r\n") || strings.Contains(m.Revision, "..") {
		v.add("model.revision", "%q is not a branch, tag or commit", m.Revision)
	}
	v.oneOf("model.precision", m.Precision, PrecisionFP32, PrecisionBF16)
}

func (v *validator) data() {
	d := v.s.Data
	v.required("data.path", d.Path, "the prepared data (shard directory with manifest.json, or the manifest)")
	if d.Maker != "" {
		v.oneOf("data.maker", d.Maker, Makers...)
	}
	v.positive("data.seq_length", d.SeqLength)
	v.positive("data.pad_multiple", d.PadMultiple)
}

func (v *validator) train() {
	t, p := v.s.Train, v.s.Parallel
	v.positive("train.iterations", t.Iterations)
	v.positive("train.global_batch_size", t.GlobalBatchSize)
	v.positive("train.micro_batch_size", t.MicroBatchSize)
	if per := t.MicroBatchSize * p.DP; t.GlobalBatchSize > 0 && per > 0 && t.GlobalBatchSize%per != 0 {
		v.add("train.global_batch_size", "%d is not divisible by train.micro_batch_size × parallel.dp = %d × %d",
			t.GlobalBatchSize, t.MicroBatchSize, p.DP)
	}
	v.nonNegative("train.eval_every", t.EvalEvery)
	v.nonNegative("train.eval_iters", t.EvalIters)
	if t.EvalEvery > 0 {
		if t.EvalIters <= 0 {
			v.add("train.eval_iters", "must be > 0 when train.eval_every is set (%d)", t.EvalEvery)
		}
		if v.s.Data.EvalPath == "" {
			v.add("data.eval_path", "required when train.eval_every is set (%d)", t.EvalEvery)
		}
	}
}

func (v *validator) optimizer() {
	o := v.s.Optimizer
	if !(o.LR > 0) {
		v.add("optimizer.lr", "must be > 0, got %g", o.LR)
	}
	if o.MinLR < 0 {
		v.add("optimizer.min_lr", "must be >= 0, got %g", o.MinLR)
	} else if o.MinLR > o.LR {
		v.add("optimizer.min_lr", "%g is above optimizer.lr %g", o.MinLR, o.LR)
	}
	for _, b := range []struct {
		key string
		val float64
	}{{"optimizer.beta1", o.Beta1}, {"optimizer.beta2", o.Beta2}} {
		if b.val < 0 || b.val >= 1 {
			v.add(b.key, "must be in [0, 1), got %g", b.val)
		}
	}
	if !(o.Eps > 0) {
		v.add("optimizer.eps", "must be > 0, got %g", o.Eps)
	}
	if o.WeightDecay < 0 {
		v.add("optimizer.weight_decay", "must be >= 0, got %g", o.WeightDecay)
	}
	if o.ClipGrad < 0 {
		v.add("optimizer.clip_grad", "must be >= 0 (0: no clipping), got %g", o.ClipGrad)
	}
}

func (v *validator) schedule() {
	l := v.s.LRSchedule
	v.nonNegative("lr_schedule.warmup_iters", l.WarmupIters)
	v.oneOf("lr_schedule.decay", l.Decay, DecayCosine, DecayLinear, DecayConstant)
	v.nonNegative("lr_schedule.decay_iters", l.DecayIters)
	switch {
	case l.Decay == DecayConstant:
		if l.WarmupIters > v.s.Train.Iterations {
			v.add("lr_schedule.warmup_iters", "%d is beyond train.iterations %d", l.WarmupIters, v.s.Train.Iterations)
		}
	case l.WarmupIters >= l.DecayIters && l.DecayIters > 0:
		// Megatron-Core asserts the same (lr_warmup_steps < lr_decay_steps).
		v.add("lr_schedule.warmup_iters", "%d must be below lr_schedule.decay_iters %d", l.WarmupIters, l.DecayIters)
	}
}

func (v *validator) parallel() {
	p := v.s.Parallel
	v.positive("parallel.pp", p.PP)
	v.positive("parallel.virtual_stages", p.VirtualStages)
	v.positive("parallel.dp", p.DP)
	v.positive("parallel.ep", p.EP)
	if p.DP > 0 && p.EP > 0 && p.DP%p.EP != 0 {
		v.add("parallel.ep", "%d must divide parallel.dp %d: expert-parallel groups are carved out of the data-parallel ranks", p.EP, p.DP)
	}
	v.oneOf("parallel.schedule", p.Schedule, ScheduleGPipe, Schedule1F1B, ScheduleInterleaved, ScheduleZBH1)
	switch {
	case p.Schedule == ScheduleInterleaved && p.VirtualStages < 2:
		v.add("parallel.virtual_stages", "interleaved-1f1b needs at least 2 virtual stages per rank, got %d", p.VirtualStages)
	case p.Schedule == ScheduleInterleaved && p.PP < 2:
		v.add("parallel.pp", "interleaved-1f1b needs at least 2 pipeline ranks, got %d", p.PP)
	case p.VirtualStages > 1 && p.Schedule != ScheduleInterleaved:
		v.add("parallel.virtual_stages", "%d virtual stages need parallel.schedule interleaved-1f1b, not %q", p.VirtualStages, p.Schedule)
	}
	if p.Layout != "" && p.PP > 0 {
		// Syntax and stage count only: the rules that need the model's layer counts are
		// checked when the DAG is built (layout.Layout.Validate).
		l, err := layout.Parse(p.Layout, p.PP)
		if err == nil && l.VP != p.VirtualStages {
			err = fmt.Errorf("layout %q has %d stages = pp %d × %d virtual stages, but parallel.virtual_stages is %d",
				p.Layout, len(l.Stages), p.PP, l.VP, p.VirtualStages)
		}
		if err != nil {
			v.add("parallel.layout", "%v", err)
		}
	}
	v.oneOf("parallel.devices", p.Devices, DevicesCPU, DevicesCUDA)
	v.nonNegative("parallel.threads_per_rank", p.ThreadsPerRank)
	v.oneOf("parallel.transport", p.Transport, TransportInproc, TransportTCP)
	v.oneOf("parallel.launcher", p.Launcher, LauncherLocal, LauncherManual)
	host, port, err := net.SplitHostPort(p.MasterAddr)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil || host == "":
		v.add("parallel.master_addr", "%q is not host:port", p.MasterAddr)
	case perr != nil || n < 0 || n > math.MaxUint16:
		v.add("parallel.master_addr", "port %q is not in [0, 65535]", port)
	case n == 0 && p.Transport == TransportTCP && p.Launcher == LauncherManual:
		v.add("parallel.master_addr", "a manual launch needs a fixed port (got %q): every process must find rank 0", p.MasterAddr)
	}
}

func (v *validator) checkpoint() {
	c := v.s.Checkpoint
	v.nonNegative("checkpoint.save_every", c.SaveEvery)
	v.nonNegative("checkpoint.keep", c.Keep)
	if c.SaveEvery > 0 && c.Dir == "" {
		v.add("checkpoint.dir", "required when checkpoint.save_every is set (%d)", c.SaveEvery)
	}
}

func (v *validator) logging() {
	l := v.s.Logging
	v.positive("logging.log_every", l.LogEvery)
	v.oneOf("logging.progress", l.Progress, ProgressAuto, ProgressAlways, ProgressNever)
}

func (v *validator) peft() {
	p := v.s.PEFT
	v.oneOf("peft.scheme", p.Scheme, PEFTNone, PEFTLoRA, PEFTDoRA)
	if p.Scheme != PEFTLoRA && p.Scheme != PEFTDoRA {
		return
	}
	v.positive("peft.rank", p.Rank)
	if !(p.Alpha > 0) {
		v.add("peft.alpha", "must be > 0, got %g", p.Alpha)
	}
	if p.Dropout < 0 || p.Dropout >= 1 {
		v.add("peft.dropout", "must be in [0, 1), got %g", p.Dropout)
	}
	v.oneOf("peft.dropout_position", p.DropoutPosition, "pre", "post")
	if p.Scheme == PEFTDoRA && p.DropoutPosition != "pre" {
		v.add("peft.dropout_position", "dora needs \"pre\" (dropout before the low-rank path), got %q", p.DropoutPosition)
	}
	if len(p.TargetModules) == 0 {
		v.add("peft.target_modules", "%s needs at least one target module", p.Scheme)
	}
	listed := map[string]bool{}
	for _, t := range p.TargetModules { // sorted by resolve
		m, ok := MegatronTarget(t)
		switch {
		case !ok:
			v.add("peft.target_modules", "%q is not a known linear; want Megatron names %s or Hugging Face names %s",
				t, strings.Join(MegatronTargets, ", "), "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
		case listed[t]:
			v.add("peft.target_modules", "%q is listed twice", t)
		case t != m && slices.Contains(p.TargetModules, m):
			// The Megatron linear already gets one adapter; its HF part would get a second.
			v.add("peft.target_modules", "%q overlaps %q (part of the same linear)", t, m)
		}
		listed[t] = true
	}
}
