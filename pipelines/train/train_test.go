package train

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glmflow/glmflow/datasets/shard"
	"github.com/glmflow/glmflow/datasets/shard/shardtest"
	"github.com/glmflow/glmflow/pipelines/checkpoint"
	"github.com/glmflow/glmflow/pipelines/spec"
)

const tinyDir = "../../testdata/tiny"

var testBuild = PlanBuilder

// testData writes 16 random prepared samples for the tiny model.
func testData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l := shard.Layout{ImageTokenID: 510, MergeSize: 2, PatchSize: 14}
	samples := shardtest.Samples(7, 16, l, shardtest.Config{MinText: 20, MaxText: 60, MaxImages: 1, MaxGridSide: 4})
	if _, err := shardtest.WriteDir(dir, samples, 8, shard.WriterOptions{Layout: l}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinySpec(t *testing.T, data, out string, extra ...string) *spec.Spec {
	t.Helper()
	o := append([]string{"model.path=" + tinyDir, "data.path=" + data, "train.iterations=3",
		"checkpoint.dir=" + filepath.Join(out, "ck"), "checkpoint.save_every=2",
		"logging.metrics_jsonl=" + filepath.Join(out, "metrics.jsonl"), "logging.trace=" + filepath.Join(out, "trace.json")}, extra...)
	s, err := spec.Load("../glm45v_tiny.yaml", o...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunTiny(t *testing.T) {
	data, out := testData(t), t.TempDir()
	var log strings.Builder
	sum, err := Run(context.Background(), Options{Spec: tinySpec(t, data, out), Build: testBuild, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Log(log.String())
	if sum.Steps != 3 || len(sum.Losses) != 3 || math.IsNaN(sum.Losses[2]) {
		t.Fatalf("summary %+v", sum)
	}
	// Metrics: one JSON object per step.
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		if r.Step != n || r.Tokens <= 0 || r.LossTokens <= 0 || r.Loss != sum.Losses[n-1] || r.Total != 3 {
			t.Errorf("metrics line %d: %+v", n, r)
		}
	}
	if n != 3 {
		t.Errorf("%d metrics lines", n)
	}
	// Trace: both ranks' F, B, W and Step.
	b, err := os.ReadFile(filepath.Join(out, "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		TraceEvents []struct {
			Name string `json:"name"`
			Ph   string `json:"ph"`
			Tid  int    `json:"tid"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range tr.TraceEvents {
		if e.Ph == "X" {
			seen[fmt.Sprintf("%d %s", e.Tid, strings.TrimRight(e.Name, "0123456789"))] = true
		}
	}
	for _, want := range []string{"0 F", "0 B", "0 W", "0 SendF", "0 RecvB", "0 Step", "1 F", "1 B", "1 RecvF", "1 SendB", "1 Step"} {
		if !seen[want] {
			t.Errorf("trace lacks %q (has %v)", want, seen)
		}
	}
	if !(sum.MeasuredBubble >= 0 && sum.MeasuredBubble < 1 && sum.SimulatedBubble >= 0 && sum.SimulatedBubble < 1) {
		t.Errorf("bubbles %v measured, %v simulated", sum.MeasuredBubble, sum.SimulatedBubble)
	}
	// Checkpoints at steps 2 and 3 (the last), complete, with every trainable tensor and moments.
	step, m, states, err := checkpoint.Latest(checkpoint.OS(), filepath.Join(out, "ck"))
	if err != nil || step != 3 || m.World != 2 {
		t.Fatalf("latest checkpoint %d %v", step, err)
	}
	total := 0
	for _, st := range states {
		ts, err := checkpoint.ReadRank(filepath.Join(out, "ck"), step, st)
		if err != nil {
			t.Fatal(err)
		}
		for n := range ts {
			if !strings.HasPrefix(n, "exp_avg") {
				total++
			}
		}
		if len(st.Loader) == 0 {
			t.Error("no loader cursor saved")
		}
	}
	want := 0
	for r := range 2 {
		parts, err := testBuild(tinySpec(t, data, t.TempDir()), r)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range parts.Chunks {
			for _, p := range c.Params() {
				if p.Trainable {
					want++
				}
			}
		}
	}
	if total != want {
		t.Errorf("%d parameters saved, the model has %d trainable", total, want)
	}
}

// TestRunLayoutsAgree: pp 1 and pp 2 (in-process and over TCP, one Run per rank) give the
// same losses.
func TestRunLayoutsAgree(t *testing.T) {
	data := testData(t)
	run1 := func(extra ...string) []float64 {
		sum, err := Run(context.Background(), Options{Spec: tinySpec(t, data, t.TempDir(), extra...), Build: testBuild})
		if err != nil {
			t.Fatal(err)
		}
		return sum.Losses
	}
	want := run1("parallel.pp=1", "parallel.layout=VEtttL")
	for _, got := range [][]float64{run1(), run1("parallel.schedule=zb-h1"), run1("parallel.schedule=gpipe")} {
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-6*math.Abs(want[i]) {
				t.Fatalf("losses %v, pp 1 %v", got, want)
			}
		}
	}
	// Two "processes" (goroutines with their own Run) over TCP.
	s := tinySpec(t, data, t.TempDir(), "parallel.transport=tcp")
	master := fmt.Sprintf("127.0.0.1:%d", 21000+os.Getpid()%20000)
	var wg sync.WaitGroup
	sums := make([]*Summary, 2)
	errs := make([]error, 2)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[r], errs[r] = Run(context.Background(), Options{Spec: s, Build: testBuild, Rank: r, World: 2, Master: master, Token: "t"})
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for i := range want {
		if math.Abs(sums[0].Losses[i]-want[i]) > 1e-6*math.Abs(want[i]) {
			t.Fatalf("tcp losses %v, pp 1 %v", sums[0].Losses, want)
		}
	}
}
