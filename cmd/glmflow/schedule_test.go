package main

import (
	"strings"
	"testing"
)

const tinyYAML = "../../pipelines/glm45v_tiny.yaml"

func execSchedule(args ...string) (string, error) {
	return runCLI(append([]string{"schedule"}, args...)...)
}

func TestScheduleCmd(t *testing.T) {
	out, err := execSchedule(tinyYAML, "model.path="+tinyDir, "train.global_batch_size=4", "--costs", "1,1,1")
	if err != nil {
		t.Fatal(err)
	}
	// 1F1B, p = 2, m = 4 at unit costs: the grid of the package doc and bubble (p−1)/(m+p−1)
	// of the F+B+W makespan.
	for _, want := range []string{
		"1f1b  p=2 m=4 v=1  slot=1",
		"r0 | F0 F1 .  .  B0 W0 F2 B1 W1 F3 B2 W2 .  B3 W3",
		"r1 | .  F0 B0 W0 F1 B1 W1 F2 B2 W2 F3 B3 W3 .  .",
		"bubble 20.0%",
		"with per-stage costs ∝ FLOPs (layout VEt|t*2L)",
		"r0  VEt", "r1  t*2L",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = execSchedule(tinyYAML, "model.path="+tinyDir, "parallel.schedule=zb-h1", "--costs", "1,1,1", "--color")
	if err != nil || !strings.Contains(out, "\x1b[34mF0\x1b[0m") || !strings.Contains(out, "zb-h1") {
		t.Errorf("zb-h1 --color: %v\n%s", err, out)
	}
	// Without a resolvable model the grid still prints.
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	out, err = execSchedule(tinyYAML, "model.path=nobody/none")
	if err != nil || !strings.Contains(out, "memory: not planned") || !strings.Contains(out, "r1 |") {
		t.Errorf("unresolved model: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{tinyYAML, "--costs", "1,1"}, {tinyYAML, "--costs", "1,x,1"}, {tinyYAML, "parallel.pp=0"}, {}} {
		if _, err := execSchedule(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
