package spec

import (
	"bytes"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The schema is frozen: adding, renaming or removing a key must update this list (and
// doc.go, the shipped pipelines and the report), so that changes are reviewed.
func TestSchemaFrozen(t *testing.T) {
	want := []string{
		"checkpoint", "checkpoint.dir", "checkpoint.keep", "checkpoint.save_every",
		"data", "data.eval_path", "data.maker", "data.packing", "data.pad_multiple", "data.path", "data.seed",
		"data.seq_length", "data.shuffle",
		"logging", "logging.log_every", "logging.metrics_jsonl", "logging.progress", "logging.trace",
		"lr_schedule", "lr_schedule.decay", "lr_schedule.decay_iters", "lr_schedule.warmup_iters",
		"model", "model.path", "model.precision", "model.recompute", "model.revision",
		"optimizer", "optimizer.beta1", "optimizer.beta2", "optimizer.clip_grad", "optimizer.eps", "optimizer.lr",
		"optimizer.min_lr", "optimizer.weight_decay",
		"parallel", "parallel.devices", "parallel.dp", "parallel.ep", "parallel.launcher", "parallel.layout",
		"parallel.master_addr", "parallel.pp", "parallel.schedule", "parallel.threads_per_rank", "parallel.transport",
		"parallel.virtual_stages",
		"peft", "peft.alpha", "peft.dropout", "peft.dropout_position", "peft.freeze_language_model",
		"peft.freeze_vision_model", "peft.freeze_vision_projection", "peft.rank", "peft.scheme", "peft.target_modules",
		"train", "train.eval_every", "train.eval_iters", "train.global_batch_size", "train.iterations",
		"train.micro_batch_size", "train.seed",
	}
	if got := sortedFieldNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("schema changed:\n got %q\nwant %q", got, want)
	}
}

// canonicalLeaves reads Canonical output back as key path → value text, checking that keys are
// sorted at every level as it goes.
func canonicalLeaves(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	var stack []string // path by indent level
	last := map[int]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		level := (len(line) - len(trimmed)) / 2
		key, val, _ := strings.Cut(trimmed, ":")
		if prev := last[level]; prev != "" && prev >= key {
			t.Errorf("keys not sorted: %q after %q", key, prev)
		}
		last[level] = key
		for l := level + 1; l < 8; l++ {
			delete(last, l)
		}
		stack = append(stack[:level], key)
		if val != "" {
			out[strings.Join(stack, ".")] = strings.TrimPrefix(val, " ")
		}
	}
	return out
}

func TestCanonical(t *testing.T) {
	for _, f := range []string{loraFile, tinyFile, fixture("minimal.yaml")} {
		s, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		c := s.Canonical()
		if !bytes.Equal(c, s.Canonical()) {
			t.Fatalf("%s: Canonical not stable", f)
		}
		// Every leaf key present, in sorted order.
		leaves := canonicalLeaves(t, c)
		for _, k := range sortedFieldNames() {
			_, leaf := leaves[k]
			isSection := !strings.Contains(k, ".")
			if leaf == isSection {
				t.Errorf("%s: key %s missing or misplaced in\n%s", f, k, c)
			}
		}
		// Round trip: the canonical form parses to the same spec and dumps to the same bytes.
		s2, err := Parse("canonical.yaml", c)
		if err != nil {
			t.Fatalf("%s: canonical form does not parse: %v\n%s", f, err, c)
		}
		s.origins, s2.origins = nil, nil
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("%s: round trip changed the spec:\n%+v\n%+v", f, s, s2)
		}
		if !bytes.Equal(c, s2.Canonical()) {
			t.Fatalf("%s: canonical of canonical differs", f)
		}
	}
}

func TestCanonicalStringsAndFloats(t *testing.T) {
	s, err := Load(tinyFile,
		`logging.trace="a \"quoted\"\tpath\nwith é and \u0001"`,
		"optimizer.eps=1e-12", "optimizer.lr=12345678.5", "optimizer.min_lr=0")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Canonical()
	leaves := canonicalLeaves(t, c)
	for k, want := range map[string]string{
		"optimizer.eps": "1.0e-12", "optimizer.lr": "1.23456785e+07", "optimizer.min_lr": "0.0",
	} {
		if leaves[k] != want {
			t.Errorf("%s = %s, want %s", k, leaves[k], want)
		}
	}
	s2, err := Parse("c.yaml", c)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Logging.Trace != "a \"quoted\"\tpath\nwith é and \x01" || s2.Optimizer.Eps != 1e-12 {
		t.Fatalf("round trip: %q %g", s2.Logging.Trace, s2.Optimizer.Eps)
	}
}

// doc.go's schema block must state the defaults Defaults() has.
func TestDocDefaults(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	def := Defaults()
	def.resolve()
	leaves := canonicalLeaves(t, def.Canonical())
	var section string
	seen := 0
	for _, line := range strings.Split(string(src), "\n") {
		body, ok := strings.CutPrefix(line, "//\t")
		if !ok || !strings.Contains(body, ":") || strings.HasPrefix(body, "\"") {
			continue
		}
		if !strings.HasPrefix(body, "  ") {
			section = strings.TrimSuffix(body, ":")
			continue
		}
		key, rest, _ := strings.Cut(strings.TrimSpace(body), ":")
		val, _, _ := strings.Cut(strings.TrimLeft(rest, " "), "  ")
		if strings.HasPrefix(key, "target_modules") {
			val = strings.TrimLeft(rest, " ")
		}
		path := section + "." + key
		got, known := leaves[path]
		if !known {
			t.Errorf("doc.go lists %s, which the spec does not have", path)
			continue
		}
		seen++
		if val == "required" || strings.HasPrefix(val, "<") {
			continue
		}
		if u, err := strconv.Unquote(got); err == nil {
			got = u
		}
		got = strings.ReplaceAll(got, `"`, "")
		val = strings.ReplaceAll(val, `"`, "")
		fv, err1 := strconv.ParseFloat(val, 64)
		fg, err2 := strconv.ParseFloat(got, 64)
		if err1 == nil && err2 == nil && fv == fg {
			continue
		}
		if val != got {
			t.Errorf("doc.go: %s default %q, Defaults() has %q", path, val, got)
		}
	}
	if want := len(leaves); seen != want {
		t.Errorf("doc.go documents %d keys, the spec has %d", seen, want)
	}
}
