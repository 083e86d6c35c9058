package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/pipelines/layout"
)

const (
	loraFile = "../glm45v_lora.yaml"
	tinyFile = "../glm45v_tiny.yaml"
	fixtures = "../../testdata/pipelines"
)

func fixture(name string) string { return filepath.Join(fixtures, name) }

// numHiddenLayers reads text_config.num_hidden_layers from an HF config.json, independently
// of the model code.
func numHiddenLayers(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		TextConfig struct {
			NumHiddenLayers int `json:"num_hidden_layers"`
		} `json:"text_config"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.TextConfig.NumHiddenLayers
}

func stageStrings(l *layout.Layout) []string {
	var out []string
	for _, st := range l.Stages {
		var b strings.Builder
		for _, k := range st {
			b.WriteByte(byte(k))
		}
		out = append(out, b.String())
	}
	return out
}

func TestLoRARecipe(t *testing.T) {
	s, err := Load(loraFile)
	if err != nil {
		t.Fatal(err)
	}
	// megatron-bridge.md 1.2–1.5, written out independently of the file.
	want := Defaults()
	want.Model = Model{Path: "zai-org/GLM-4.5V", Revision: "main", Precision: "bf16"}
	want.Data = Data{Maker: "cord_v2", Path: "data/prepared/cord-v2", EvalPath: "data/prepared/cord-v2-validation",
		SeqLength: 8192, PadMultiple: 128, Shuffle: true, Seed: 1234}
	want.Train = Train{Iterations: 50, GlobalBatchSize: 32, MicroBatchSize: 1, Seed: 1234, EvalEvery: 5, EvalIters: 10}
	want.Optimizer = Optimizer{LR: 1e-4, MinLR: 1e-5, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.033, ClipGrad: 1}
	want.LRSchedule = LRSchedule{WarmupIters: 10, Decay: "cosine", DecayIters: 50}
	want.Parallel = Parallel{PP: 8, VirtualStages: 1, Schedule: "1f1b", Layout: "VEt*5|(t*6|)*6t*5L", DP: 8, EP: 4,
		Devices: "cuda", Transport: "tcp", Launcher: "manual", MasterAddr: "127.0.0.1:29500"}
	want.Checkpoint = Checkpoint{Dir: "runs/glm45v_lora/checkpoints", SaveEvery: 500}
	want.Logging = Logging{LogEvery: 10, MetricsJSONL: "runs/glm45v_lora/metrics.jsonl", Trace: "runs/glm45v_lora/trace.json", Progress: "auto"}
	want.PEFT = PEFT{Scheme: "lora", Rank: 32, Alpha: 32, DropoutPosition: "pre",
		TargetModules: []string{"linear_fc1", "linear_fc2", "linear_proj", "linear_qkv"}}
	s.origins, want.origins = nil, nil
	if !reflect.DeepEqual(*s, want) {
		t.Fatalf("lora recipe:\n got %+v\nwant %+v", *s, want)
	}
	if got := s.NumMicroBatches(); got != 4 {
		t.Errorf("micro-batches per step = %d, want 32/(1×8) = 4", got)
	}
	if got := s.Parallel.World(); got != 64 {
		t.Errorf("world = %d, want 64", got)
	}
	l, err := layout.Parse(s.Parallel.Layout, s.Parallel.PP)
	if err != nil {
		t.Fatal(err)
	}
	// MB's PEFT PP8 layout: [E + t*5] + [t*6]*6 + [t*5 + L], with V added on stage 0.
	wantStages := []string{"VEttttt", "tttttt", "tttttt", "tttttt", "tttttt", "tttttt", "tttttt", "tttttL"}
	if got := stageStrings(l); !reflect.DeepEqual(got, wantStages) {
		t.Errorf("layout stages %q, want %q", got, wantStages)
	}
	if err := l.Validate(layout.Model{DecoderLayers: numHiddenLayers(t, "../../testdata/glm45v/config.json"), VisionUnits: 1}); err != nil {
		t.Errorf("layout against GLM-4.5V's config.json: %v", err)
	}
}

func TestTinyDefault(t *testing.T) {
	s, err := Load(tinyFile)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Parallel
	if s.Model.Path != "testdata/tiny" || s.Data.Path != "testdata/prepared/cord-v2" || s.Data.SeqLength != 512 ||
		s.Train.MicroBatchSize != 1 || s.Train.GlobalBatchSize != 8 || s.Train.Iterations != 100 ||
		p.PP != 2 || p.Schedule != "1f1b" || p.Layout != "VEt|ttL" || p.Devices != "cpu" ||
		p.ThreadsPerRank != 1 || p.Transport != "inproc" || s.Model.Precision != "fp32" ||
		s.Checkpoint.SaveEvery != 50 || !strings.HasPrefix(s.Logging.MetricsJSONL, "runs/tiny/") {
		t.Fatalf("tiny spec: %+v", *s)
	}
	l, err := layout.Parse(p.Layout, p.PP)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stageStrings(l), []string{"VEt", "ttL"}; !reflect.DeepEqual(got, want) {
		t.Errorf("layout stages %q, want %q", got, want)
	}
	if err := l.Validate(layout.Model{DecoderLayers: numHiddenLayers(t, "../../testdata/tiny/config.json"), VisionUnits: 1}); err != nil {
		t.Errorf("layout against testdata/tiny/config.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join("../..", s.Model.Path, "config.json")); err != nil {
		t.Errorf("model.path: %v", err)
	}
}

func TestMinimalFileTakesDefaults(t *testing.T) {
	s, err := Load(fixture("minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Model.Path, want.Data.Path, want.Train.Iterations = "testdata/tiny", "testdata/prepared/cord-v2", 3
	want.LRSchedule.DecayIters = 3 // 0 = train.iterations
	s.origins = nil
	if !reflect.DeepEqual(*s, want) {
		t.Fatalf("got %+v\nwant %+v", *s, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"unknown_key.yaml", "7:3: key optimizer.learning_rate: unknown key; keys of optimizer: beta1, beta2, clip_grad, eps, lr, min_lr, weight_decay"},
		{"unknown_section.yaml", "6:1: key trainer: unknown key; did you mean train?"},
		{"wrong_type.yaml", `8:21: key train.micro_batch_size: want an integer, got string "one"`},
		{"wrong_type_section.yaml", "6:11: key parallel: section parallel must be a mapping of keys, got integer 2"},
		{"duplicate_key.yaml", "9:3: key train.iterations: duplicate key (first set at 7:3)"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := fixture(tc.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			if want := path + ":" + tc.want; err.Error() != want {
				t.Fatalf("error\n got %s\nwant %s", err, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != path || e.Key == "" {
				t.Fatalf("not an *Error naming the file and key: %#v", err)
			}
		})
	}
}

func TestDecodeTypes(t *testing.T) {
	const ok = "model: {path: m}\ntrain: {iterations: 1}\n" // lines 2-3; the case starts at line 4
	for _, tc := range []struct{ yaml, want string }{
		{ok + "optimizer: {lr: 1e-4, min_lr: 0}", ""}, // YAML 1.2 float without a dot
		{ok + "optimizer: {lr: 1, min_lr: 0}", ""},    // integer for a float
		{ok + "optimizer: {lr: \"1e-4\"}", `4:17: key optimizer.lr: want a number, got string "1e-4"`},
		{ok + "optimizer: {lr: .inf}", "4:17: key optimizer.lr: want a finite number, got .inf"},
		{ok + "optimizer: {lr: true}", "4:17: key optimizer.lr: want a number, got boolean true"},
		{"train: {iterations: 2.5}", "2:21: key train.iterations: want an integer, got number 2.5"},
		{"train: {iterations: 99999999999999999999}", "2:21: key train.iterations: integer 99999999999999999999 is out of range"},
		{"model: {recompute: yes}", `2:20: key model.recompute: want true or false, got string "yes"`},
		{"model: {revision: 1234}", `2:19: key model.revision: want a string, got integer 1234 (quote it: "1234")`},
		{"peft: {target_modules: linear_qkv}", `2:24: key peft.target_modules: want a list of strings, got string "linear_qkv"`},
		{"peft: {target_modules: [linear_qkv, 3]}", `2:37: key peft.target_modules[1]: want a string, got integer 3 (quote it: "3")`},
		{"x: 1", "2:1: key x: unknown key; keys of the spec: checkpoint, data, logging, lr_schedule, model, optimizer, parallel, peft, train"},
		{"logging: {trace: &a t}", "2:18: key logging.trace: anchors and aliases are not supported; write the value out"},
		{"logging:\n  trace: t\n  metrics_jsonl: *a", "4:18: key logging.metrics_jsonl: anchors and aliases are not supported; write the value out"},
		{"logging: {trace: !!str t}", "2:18: key logging.trace: tags (!!str) are not supported"},
		{"model: [", "2:8: YAML syntax: sequence end token ']' not found"},
		{"---\nmodel: {path: x}", "3:6: a pipeline file holds one YAML document"},
	} {
		_, err := Parse("f.yaml", []byte("data: {path: d}\n"+tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || err.Error() != "f.yaml:"+tc.want):
			t.Errorf("%s:\n got %v\nwant f.yaml:%s", tc.yaml, err, tc.want)
		}
	}
	if _, err := Parse("f.yaml", []byte("- a")); err == nil || err.Error() != "f.yaml:1:1: the spec must be a mapping of keys, got a list" {
		t.Errorf("top-level list: %v", err)
	}
}

func TestValidationErrorsNameKeyAndOrigin(t *testing.T) {
	path := fixture("invalid_values.yaml")
	_, err := Load(path)
	want := []string{
		path + `:4:14: key model.precision: "fp16" is not one of fp32, bf16`,
		path + ":9:22: key train.global_batch_size: 6 is not divisible by train.micro_batch_size × parallel.dp = 4 × 1",
		path + `:13:19: key parallel.virtual_stages: 2 virtual stages need parallel.schedule interleaved-1f1b, not "1f1b"`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}

	path = fixture("missing_required.yaml")
	_, err = Load(path)
	want = []string{
		"key model.path (default): required: a local Hugging Face model directory or a hub id org/name",
		"key data.path (default): required: the prepared data (shard directory with manifest.json, or the manifest)",
		"key train.iterations (default): must be > 0, got 0",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestValidationRules(t *testing.T) {
	for _, tc := range []struct {
		overrides []string
		want      string // the error, at the origin of the key it names; "" = valid
	}{
		{[]string{"train.micro_batch_size=3"}, tinyFile + ":29:22: key train.global_batch_size: 8 is not divisible by train.micro_batch_size × parallel.dp = 3 × 1"},
		{[]string{"parallel.dp=4", "train.global_batch_size=6"}, `override "train.global_batch_size=6": key train.global_batch_size: 6 is not divisible by train.micro_batch_size × parallel.dp = 1 × 4`},
		{[]string{"parallel.ep=2"}, `override "parallel.ep=2": key parallel.ep: 2 must divide parallel.dp 1: expert-parallel groups are carved out of the data-parallel ranks`},
		{[]string{"parallel.virtual_stages=2"}, `override "parallel.virtual_stages=2": key parallel.virtual_stages: 2 virtual stages need parallel.schedule interleaved-1f1b, not "1f1b"` +
			"\n" + tinyFile + `:53:11: key parallel.layout: layout "VEt|ttL" has 2 stages = pp 2 × 1 virtual stages, but parallel.virtual_stages is 2`},
		{[]string{"parallel.virtual_stages=2", "parallel.schedule=interleaved-1f1b", "parallel.layout=VEt|t|t|L"}, ""},
		{[]string{"parallel.schedule=interleaved-1f1b"}, tinyFile + ":51:19: key parallel.virtual_stages: interleaved-1f1b needs at least 2 virtual stages per rank, got 1"},
		{[]string{"parallel.schedule=dualpipe"}, `override "parallel.schedule=dualpipe": key parallel.schedule: "dualpipe" is not one of gpipe, 1f1b, interleaved-1f1b, zb-h1`},
		// Layout syntax errors come from package layout; the spec adds the key and the override.
		{[]string{"parallel.layout=VEtttL"}, `override "parallel.layout=VEtttL": key parallel.layout: layout "VEtttL" column 7 (end of layout): 1 stages are not a multiple of pp=2…`},
		{[]string{"parallel.layout=VEt|tt*"}, `override "parallel.layout=VEt|tt*": key parallel.layout: layout "VEt|tt*" column …`},
		{[]string{"parallel.layout=VEt|tx"}, `override "parallel.layout=VEt|tx": key parallel.layout: layout "VEt|tx" column 6 …`},
		{[]string{"optimizer.min_lr=0.01"}, `override "optimizer.min_lr=0.01": key optimizer.min_lr: 0.01 is above optimizer.lr 0.001`},
		{[]string{"optimizer.lr=0"}, `override "optimizer.lr=0": key optimizer.lr: must be > 0, got 0` + "\n" +
			tinyFile + ":37:11: key optimizer.min_lr: 0.0001 is above optimizer.lr 0"},
		{[]string{"optimizer.beta2=1"}, `override "optimizer.beta2=1": key optimizer.beta2: must be in [0, 1), got 1`},
		{[]string{"lr_schedule.warmup_iters=100"}, `override "lr_schedule.warmup_iters=100": key lr_schedule.warmup_iters: 100 must be below lr_schedule.decay_iters 100`},
		{[]string{"lr_schedule.decay=step"}, `override "lr_schedule.decay=step": key lr_schedule.decay: "step" is not one of cosine, linear, constant`},
		{[]string{"train.eval_every=5"}, tinyFile + ":33:15: key train.eval_iters: must be > 0 when train.eval_every is set (5)\n" +
			tinyFile + ":20:14: key data.eval_path: required when train.eval_every is set (5)"},
		{[]string{"train.eval_every=5", "train.eval_iters=2", "data.eval_path=e"}, ""},
		{[]string{"checkpoint.dir="}, `override "checkpoint.dir=": key checkpoint.dir: required when checkpoint.save_every is set (50)`},
		{[]string{"parallel.transport=tcp", "parallel.launcher=manual"}, tinyFile + `:60:16: key parallel.master_addr: a manual launch needs a fixed port (got "127.0.0.1:0"): every process must find rank 0`},
		{[]string{"parallel.master_addr=localhost"}, `override "parallel.master_addr=localhost": key parallel.master_addr: "localhost" is not host:port`},
		{[]string{"data.maker=coco"}, `override "data.maker=coco": key data.maker: "coco" is not one of cord_v2, medpix, raven`},
		{[]string{"logging.progress=sometimes"}, `override "logging.progress=sometimes": key logging.progress: "sometimes" is not one of auto, always, never`},
		{[]string{"peft.scheme=dora", "peft.dropout_position=post"}, `override "peft.dropout_position=post": key peft.dropout_position: dora needs "pre" (dropout before the low-rank path), got "post"`},
		{[]string{"peft.scheme=lora", "peft.target_modules=[q_proj, linear_qkv]"}, `override "peft.target_modules=[q_proj, linear_qkv]": key peft.target_modules: "q_proj" overlaps "linear_qkv" (part of the same linear)`},
		{[]string{"peft.scheme=lora", "peft.target_modules=[router]"}, `override "peft.target_modules=[router]": key peft.target_modules: "router" is not a known linear; want Megatron names linear_fc1, linear_fc2, linear_proj, linear_qkv or Hugging Face names q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj`},
		{[]string{"peft.scheme=lora", "peft.target_modules=[o_proj, o_proj]"}, `override "peft.target_modules=[o_proj, o_proj]": key peft.target_modules: "o_proj" is listed twice`},
		{[]string{"peft.scheme=lora", "peft.target_modules=[]"}, `override "peft.target_modules=[]": key peft.target_modules: lora needs at least one target module`},
		{[]string{"peft.scheme=qlora"}, `override "peft.scheme=qlora": key peft.scheme: "qlora" is not one of none, lora, dora`},
		{[]string{"model.path="}, `override "model.path=": key model.path: required: a local Hugging Face model directory or a hub id org/name`},
	} {
		_, err := Load(tinyFile, tc.overrides...)
		want, prefix := strings.CutSuffix(tc.want, "…") // "…": the start of the error is given
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != want && !(prefix && strings.HasPrefix(err.Error(), want))) {
			t.Errorf("%q:\n got %v\nwant %s", tc.overrides, err, tc.want)
		}
	}
}

func TestOverrides(t *testing.T) {
	s, err := Load(tinyFile,
		"train.iterations=5",
		`parallel.layout="Et|tL"`,
		"optimizer.lr=2e-3",
		"lr_schedule.decay_iters=0", // 0 = train.iterations, resolved after all overrides
		"peft.scheme=lora",
		"peft.target_modules=[o_proj, q_proj, k_proj, v_proj]",
		"model.revision=1234", // plain number taken as written for a string key
		"logging.trace=",
		"checkpoint={dir: out, save_every: 2}",
		"train.iterations=6", // later wins
	)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Iterations != 6 || s.Parallel.Layout != "Et|tL" || s.Optimizer.LR != 2e-3 ||
		s.LRSchedule.DecayIters != 6 || s.PEFT.Alpha != 32 || s.Model.Revision != "1234" || s.Logging.Trace != "" ||
		s.Checkpoint != (Checkpoint{Dir: "out", SaveEvery: 2}) {
		t.Fatalf("overrides not applied: %+v", *s)
	}
	if want := []string{"k_proj", "o_proj", "q_proj", "v_proj"}; !reflect.DeepEqual(s.PEFT.TargetModules, want) {
		t.Errorf("target_modules %q, want sorted %q", s.PEFT.TargetModules, want)
	}
	if o := s.origins["train.iterations"]; o.override != "train.iterations=6" {
		t.Errorf("origin of train.iterations = %+v", o)
	}

	s, err = Load(loraFile, "peft.scheme=dora", "peft.alpha=0", "parallel.pp=4", "parallel.layout=VEt*11|t*12|t*12|t*11L")
	if err != nil {
		t.Fatal(err)
	}
	if s.PEFT.Alpha != 64 {
		t.Errorf("dora default alpha = %g, want 64", s.PEFT.Alpha)
	}

	for _, tc := range []struct{ arg, want string }{
		{"train.iteration=5", `override "train.iteration=5": key train.iteration: unknown key; did you mean train.iterations?`},
		{"trian.iterations=5", `override "trian.iterations=5": key trian: unknown key; did you mean train?`},
		{"train.iterations=x", `override "train.iterations=x": key train.iterations: want an integer, got string "x"`},
		{"train.iterations.x=1", `override "train.iterations.x=1": key train.iterations: is a value, not a section; it has no key x`},
		{"train.iterations", `override "train.iterations": want key=value`},
		{"Train.Iterations=1", `override "Train.Iterations=1": "Train.Iterations" is not a dotted key path such as train.iterations`},
		{"train={iterations: 1, bogus: 2}", `override "train={iterations: 1, bogus: 2}": key train.bogus: unknown key; keys of train: eval_every, eval_iters, global_batch_size, iterations, micro_batch_size, seed`},
		{"train.iterations=[1", `override "train.iterations=[1": YAML syntax: sequence end token ']' not found`},
		{"model.recompute=maybe", `override "model.recompute=maybe": key model.recompute: want true or false, got string "maybe"`},
	} {
		_, err := Load(tinyFile, tc.arg)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.arg, err, tc.want)
		}
	}
}

// A failed override must not half-apply: decoding goes into a copy.
func TestOverrideFailureLeavesSpec(t *testing.T) {
	s, err := decodeFile("t.yaml", []byte("train: {iterations: 3, seed: 7}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.apply("train={seed: 9, iterations: x}"); err == nil {
		t.Fatal("no error")
	}
	if s.Train.Seed != 7 || s.Train.Iterations != 3 {
		t.Fatalf("failed override changed the spec: %+v", s.Train)
	}
}
