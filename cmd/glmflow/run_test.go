package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
	"github.com/glmflow/glmflow/pipelines/checkpoint"
)

// runData writes a small prepared dataset for the tiny model.
func runData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l := shard.Layout{ImageTokenID: 510, MergeSize: 2, PatchSize: 14}
	samples := shardtest.Samples(3, 12, l, shardtest.Config{MinText: 20, MaxText: 50, MaxImages: 1, MaxGridSide: 4})
	if _, err := shardtest.WriteDir(dir, samples, 6, shard.WriterOptions{Layout: l}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runArgs(data, out string, extra ...string) []string {
	return append([]string{"run", "../../pipelines/glm45v_tiny.yaml", "model.path=" + tinyDir, "data.path=" + data,
		"train.iterations=2", "logging.log_every=1", "checkpoint.dir=" + filepath.Join(out, "ck"), "logging.metrics_jsonl=" + filepath.Join(out, "m.jsonl"),
		"logging.trace=" + filepath.Join(out, "trace.json")}, extra...)
}

func TestRunCommand(t *testing.T) {
	data, out := runData(t), t.TempDir()
	msg, err := runCLI(runArgs(data, out)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	for _, want := range []string{"step 1/2", "step 2/2", "saved checkpoint step 2", "done: 2 steps", "bubble"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output lacks %q:\n%s", want, msg)
		}
	}
	for _, f := range []string{"m.jsonl", "trace.json", "ck/latest"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// Errors: a bad override names the key; a non key=value argument is refused.
	if _, err := runCLI(runArgs(data, out, "train.iterationz=3")...); err == nil || !strings.Contains(err.Error(), "iterationz") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := runCLI(runArgs(data, out, "oops")...); err == nil || !strings.Contains(err.Error(), `"oops"`) {
		t.Errorf("bare argument: %v", err)
	}
}

// TestRunCommandProcesses: parallel.transport=tcp with the local launcher starts one real
// glmflow process per rank; losses (metrics JSONL, full precision) and the saved weights equal
// the in-process pp 1 run's within 1e-6, for pp 2 and pp 4 and two schedules.
func TestRunCommandProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := filepath.Join(t.TempDir(), "glmflow")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data := runData(t)
	refDir := t.TempDir()
	if msg, err := runCLI(runArgs(data, refDir, "parallel.pp=1", "parallel.layout=VEtttL")...); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	wantLoss, wantW := runResults(t, refDir)
	for _, extra := range [][]string{
		{"parallel.pp=2", "parallel.layout=VEt|ttL", "parallel.schedule=1f1b"},
		{"parallel.pp=4", "parallel.layout=VE|t|t|tL", "parallel.schedule=zb-h1"},
	} {
		out := t.TempDir()
		b, err := exec.Command(bin, runArgs(data, out, append(extra, "parallel.transport=tcp")...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", extra, err, b)
		}
		if !strings.Contains(string(b), "[rank 0]") {
			t.Errorf("launcher output not rank-prefixed:\n%s", b)
		}
		gotLoss, gotW := runResults(t, out)
		for i := range wantLoss {
			if math.Abs(gotLoss[i]-wantLoss[i]) > 1e-6*math.Abs(wantLoss[i]) {
				t.Errorf("%v: loss %v, pp 1 %v", extra, gotLoss, wantLoss)
			}
		}
		if len(gotW) != len(wantW) {
			t.Fatalf("%v: %d saved tensors, pp 1 saved %d", extra, len(gotW), len(wantW))
		}
		for n, w := range wantW {
			g := gotW[n]
			for j := range w {
				if math.Abs(float64(g[j])-float64(w[j])) > 1e-6*math.Max(1e-3, math.Abs(float64(w[j]))) {
					t.Fatalf("%v: %s[%d] = %v, pp 1 %v", extra, n, j, g[j], w[j])
				}
			}
		}
	}
}

// runResults reads a run's losses (metrics JSONL) and its last checkpoint's tensors.
func runResults(t *testing.T, out string) ([]float64, map[string][]float32) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "m.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.Loss)
	}
	ck := filepath.Join(out, "ck")
	step, _, states, err := checkpoint.Latest(checkpoint.OS(), ck)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for _, st := range states {
		ts, err := checkpoint.ReadRank(ck, step, st)
		if err != nil {
			t.Fatal(err)
		}
		for n, x := range ts {
			w[n] = x.F32()
		}
	}
	return losses, w
}

// TestRunDryRun: the real recipe plans offline to the hub checkpoint's parameter total.
func TestRunDryRun(t *testing.T) {
	msg, err := runCLI("run", "../../pipelines/glm45v_lora.yaml", "--dry-run", "model.path=../../testdata/glm45v")
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	for _, want := range []string{"107710933120", "18106"} {
		if !strings.Contains(msg, want) {
			t.Errorf("dry run lacks %s:\n%s", want, msg)
		}
	}
}
