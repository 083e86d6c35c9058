package plan

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	tinyDir   = "../../testdata/tiny"
	glm45vDir = "../../testdata/glm45v"
	loraYAML  = "../glm45v_lora.yaml"
	tinyYAML  = "../glm45v_tiny.yaml"
)

func load(t testing.TB, file string, overrides ...string) *spec.Spec {
	t.Helper()
	s, err := spec.Load(file, overrides...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./pipelines/plan -update rewrites it; review the diff):\n%s", path, got)
	}
}

// fakeHubCache makes an HF cache holding only config.json of zai-org/GLM-4.5V at "main", in
// huggingface_hub's layout (blob, relative snapshot symlink, ref), and points HF_HUB_CACHE at it.
func fakeHubCache(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(dir, "models--zai-org--GLM-4.5V")
	cfg, err := os.ReadFile(filepath.Join(glm45vDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"blobs", "refs", filepath.Join("snapshots", commit)} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "blobs", "cfgblob"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../blobs/cfgblob", filepath.Join(repo, "snapshots", commit, "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_CACHE", dir)
	t.Setenv("HF_HUB_OFFLINE", "1")
}

func dryRun(t *testing.T, s *spec.Spec) ([]byte, *Report) {
	t.Helper()
	r, err := DryRun(s)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), r
}

// TestDryRunLoRA: the real recipe, resolved from a fake HF cache by hub id, gives the real
// model's parameter total and tensor count; the same config given as a directory gives the
// same report; the output is golden.
func TestDryRunLoRA(t *testing.T) {
	fakeHubCache(t)
	hub, r := dryRun(t, load(t, loraYAML))
	if r.Sum.Params != 107_710_933_120 || r.Sum.Tensors != 18_106 {
		t.Errorf("total %d parameters in %d tensors, want 107,710,933,120 in 18,106", r.Sum.Params, r.Sum.Tensors)
	}
	// Vision tower (glm45v.md §2.6) and text totals (§3.8), as stated there.
	if got := r.Plan.Units[0].Params; got != 858_681_856 {
		t.Errorf("vision %d parameters, want 858,681,856", got)
	}
	dir, _ := dryRun(t, load(t, loraYAML, "model.path="+glm45vDir))
	hubLines, dirLines := strings.SplitN(string(hub), "\n", 2), strings.SplitN(string(dir), "\n", 2)
	if hubLines[1] != dirLines[1] {
		t.Error("the hub-id and the directory dry runs differ beyond the first line")
	}
	if !strings.HasPrefix(hubLines[0], "dry run: zai-org/GLM-4.5V (revision main)") {
		t.Errorf("first line %q", hubLines[0])
	}
	golden(t, "dryrun_glm45v_lora.txt", hub)

	// Trainable = the LoRA adapters on qkv/o/fc1/fc2 of 46 layers at rank 32 (per routed expert).
	c := r.Plan.Config.Text
	D, qkv, o := int64(c.HiddenSize), int64((c.NumAttentionHeads+2*c.NumKeyValueHeads)*c.HeadDim), int64(c.NumAttentionHeads*c.HeadDim)
	F, I, E := int64(c.MoEIntermediateSize), int64(c.IntermediateSize), int64(c.NRoutedExperts)
	attn := 32 * ((D + qkv) + (o + D))
	mlp := func(w int64) int64 { return 32 * ((D + 2*w) + (w + D)) }
	want := 46*attn + mlp(I) + 45*(E*mlp(F)+mlp(F))
	if r.Sum.Trainable != want || r.Sum.Adapters != want {
		t.Errorf("trainable %d, adapters %d, want %d", r.Sum.Trainable, r.Sum.Adapters, want)
	}
}

// TestDryRunAllocatesLittle: planning the 108B model allocates a few MB at most.
func TestDryRunAllocatesLittle(t *testing.T) {
	s := load(t, loraYAML, "model.path="+glm45vDir)
	if _, err := DryRun(s); err != nil { // warm caches (wasm, config parsing)
		t.Fatal(err)
	}
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	r, err := DryRun(s)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&b)
	if d := b.TotalAlloc - a.TotalAlloc; d > 16<<20 {
		t.Errorf("dry run allocated %d MB in total", d>>20)
	} else {
		t.Logf("dry run allocated %.1f MB in total", float64(d)/(1<<20))
	}
}

func TestDryRunTiny(t *testing.T) {
	out, r := dryRun(t, load(t, tinyYAML, "model.path="+tinyDir))
	if r.Sum.Params != 313_840 || r.Sum.Tensors != 118 {
		t.Errorf("tiny: %d parameters in %d tensors, want 313840 in 118 (testdata/tiny/README)", r.Sum.Params, r.Sum.Tensors)
	}
	golden(t, "dryrun_glm45v_tiny.txt", out)
	again, _ := dryRun(t, load(t, tinyYAML, "model.path="+tinyDir))
	if !bytes.Equal(out, again) {
		t.Error("two dry runs of one spec differ")
	}
}

// TestTrainableMatchesStages: for every freeze combination the cost model's trainable count
// equals the elements of the trainable parameters of the stages BuildRank builds.
func TestTrainableMatchesStages(t *testing.T) {
	for _, flags := range [][]string{
		nil,
		{"peft.freeze_vision_model=true"},
		{"peft.freeze_vision_projection=true"},
		{"peft.freeze_language_model=true"},
		{"peft.freeze_vision_model=true", "peft.freeze_vision_projection=true", "peft.freeze_language_model=true"},
	} {
		s := load(t, tinyYAML, append([]string{"model.path=" + tinyDir}, flags...)...)
		p, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		var want, got int64
		for _, u := range p.Units {
			want += u.Trainable
		}
		for r := range s.Parallel.PP {
			rp, err := p.BuildRank(r, cpu.New())
			if err != nil {
				t.Fatal(err)
			}
			for _, prm := range rp.StageParams() {
				if prm.Trainable {
					got += int64(prm.Value.Numel())
				}
			}
		}
		if got != want {
			t.Errorf("%v: stages train %d parameters, the cost model says %d", flags, got, want)
		}
	}
}

var rankSetups = []struct {
	name      string
	overrides []string
}{
	{"pp1", []string{"parallel.pp=1", "parallel.layout="}},
	{"pp2", nil},
	{"pp4", []string{"parallel.pp=4", "parallel.layout=VEt|t|t|L"}},
	{"pp4-auto", []string{"parallel.pp=4", "parallel.layout=", "parallel.schedule=zb-h1"}},
	{"pp2-interleaved", []string{"parallel.virtual_stages=2", "parallel.schedule=interleaved-1f1b", "parallel.layout=VEt|t|t|L"}},
}

// TestBuildRankPartition: every rank loads only its own tensors, and the chunks of all ranks
// hold every parameter of the model exactly once.
func TestBuildRankPartition(t *testing.T) {
	for _, c := range rankSetups {
		t.Run(c.name, func(t *testing.T) {
			s := load(t, tinyYAML, append([]string{"model.path=" + tinyDir}, c.overrides...)...)
			p, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for r := range s.Parallel.PP {
				rp, err := p.BuildRank(r, cpu.New())
				if err != nil {
					t.Fatal(err)
				}
				if len(rp.Chunks) != s.Parallel.VirtualStages || len(rp.Actions) == 0 {
					t.Fatalf("rank %d: %d chunks, %d actions", r, len(rp.Chunks), len(rp.Actions))
				}
				var own []string
				for _, prm := range rp.StageParams() {
					seen[prm.Name]++
					own = append(own, prm.Name)
				}
				var loaded []string
				rp.Params.Walk(func(name string, slot *glm4v.Param) error {
					if slot.T != nil {
						loaded = append(loaded, name)
					}
					return nil
				})
				slices.Sort(own)
				if !slices.Equal(own, loaded) {
					t.Errorf("rank %d loaded %d tensors, its stages use %d", r, len(loaded), len(own))
				}
			}
			var all []string
			p.Params.Walk(func(name string, _ *glm4v.Param) error { all = append(all, name); return nil })
			for _, n := range all {
				if seen[n] != 1 {
					t.Errorf("%s is held by %d chunks", n, seen[n])
				}
				delete(seen, n)
			}
			for n := range seen {
				t.Errorf("%s is not a model parameter", n)
			}
		})
	}
}

// TestRankPlansTrainAlike: one optimizer step of the tiny model through the workers the plans
// build gives the same loss and gradient norm for every setup.
func TestRankPlansTrainAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the tiny model once per setup")
	}
	var ref []float64
	for _, c := range rankSetups {
		s := load(t, tinyYAML, append([]string{"model.path=" + tinyDir, "data.seq_length=24"}, c.overrides...)...)
		p, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		trs, err := transport.NewInProc(s.Parallel.PP)
		if err != nil {
			t.Fatal(err)
		}
		m := p.M
		batches := make([]stages.Tensors, m)
		tokens := 0
		for i := range batches {
			batches[i] = tinyBatch(uint64(i), 1, 24)
			tokens += 23
		}
		res := make([]run.Result, s.Parallel.PP)
		errs := make([]error, s.Parallel.PP)
		var wg sync.WaitGroup
		for r := range s.Parallel.PP {
			rp, err := p.BuildRank(r, cpu.New())
			if err != nil {
				t.Fatal(err)
			}
			w, err := rp.Worker(trs[r])
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[r], errs[r] = w.Iterate(context.Background(), run.Iteration{LossTokens: tokens,
					Batch: func(mb int) (stages.Tensors, error) { return batches[mb], nil }})
			}()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%s rank %d: %v", c.name, r, err)
			}
		}
		got := []float64{res[0].Loss, res[0].Step.Norm}
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			if math.Abs(got[i]-ref[i]) > 1e-6*math.Abs(ref[i]) {
				t.Errorf("%s: loss, norm %v; %s gave %v", c.name, got, rankSetups[0].name, ref)
			}
		}
	}
}

func TestPlanErrors(t *testing.T) {
	for _, c := range []struct {
		overrides []string
		want      string
	}{
		{[]string{"model.path=" + tinyDir, "parallel.layout=VEt|tL"}, "decoder"},
		{[]string{"model.path=" + tinyDir, "parallel.pp=3", "parallel.layout=VEt||ttL"}, `node "decoder[1:3)" (stage 2, rank 2): input hidden F32[T 64] has no producer`},
		{[]string{"model.path=no/such-model"}, `model.path "no/such-model"`},
		{[]string{"model.path=" + tinyDir, "parallel.dp=3", "parallel.ep=3", "train.global_batch_size=6"}, "expert parallel size 3 does not divide the 8 routed experts"},
	} {
		t.Setenv("HF_HUB_CACHE", t.TempDir())
		s, err := spec.Load(tinyYAML, c.overrides...)
		if err == nil {
			_, err = New(s)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.overrides, err, c.want)
		}
	}
	s := load(t, tinyYAML, "model.path="+tinyDir, "peft.scheme=lora")
	if _, err := BuildRank(s, 0, cpu.New()); err == nil || !strings.Contains(err.Error(), "adapter stages") {
		t.Errorf("lora BuildRank: %v", err)
	}
	if _, err := BuildRank(load(t, tinyYAML, "model.path="+tinyDir), 2, cpu.New()); err == nil {
		t.Error("rank 2 of 2 built")
	}
}
