package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
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
		"train.iterations=2", "checkpoint.dir=" + filepath.Join(out, "ck"), "logging.metrics_jsonl=" + filepath.Join(out, "m.jsonl"),
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
// glmflow process per rank; their losses equal the in-process run's.
func TestRunCommandProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := filepath.Join(t.TempDir(), "glmflow")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data := runData(t)
	inproc, err := runCLI(runArgs(data, t.TempDir())...)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, runArgs(data, t.TempDir(), "parallel.transport=tcp")...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	pick := func(s string) []string { // the loss fields of the step lines
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if i := strings.Index(l, "loss "); i >= 0 && strings.Contains(l, "step ") {
				out = append(out, strings.Fields(l[i:])[1])
			}
		}
		return out
	}
	if got, want := pick(string(b)), pick(inproc); strings.Join(got, " ") != strings.Join(want, " ") || len(want) != 2 {
		t.Errorf("tcp losses %v, in-process %v\n%s", got, want, b)
	}
	if !strings.Contains(string(b), "[rank 0]") {
		t.Errorf("launcher output not rank-prefixed:\n%s", b)
	}
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
