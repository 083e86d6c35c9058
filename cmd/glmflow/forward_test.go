package main

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

func runForward(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"forward"}, args...))
	err := root.Execute()
	return out.String(), err
}

func readAll(t *testing.T, path string) map[string]*tensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]*tensors.Tensor{}
	for _, n := range f.Names() {
		x, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		m[n] = x.Clone()
	}
	return m
}

func maxRel(got, want []float32, keep func(int) bool) float64 {
	var d, m float64
	for i := range want {
		if keep != nil && !keep(i) {
			continue
		}
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

// TestForwardGolden runs the command on the reference's case1 and compares the written loss,
// logits (valid positions) and every gradient with the golden outputs.
func TestForwardGolden(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "reference", "golden", "case1")
	out := filepath.Join(t.TempDir(), "out.safetensors")
	msg, err := runForward(t, "--model", dir, "--inputs", filepath.Join(dir, "inputs.safetensors"), "--out", out, "--grads")
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	got, want := readAll(t, out), readAll(t, filepath.Join(dir, "outputs.safetensors"))
	in := readAll(t, filepath.Join(dir, "inputs.safetensors"))
	if g, w := got["loss"].F32()[0], want["loss"].F32()[0]; math.Abs(float64(g-w)) > 1e-5*math.Abs(float64(w)) || got["loss"].Rank() != 0 {
		t.Errorf("loss %v (%v), want %v", g, got["loss"], w)
	}
	V := want["logits"].Dim(2)
	mask := in["attention_mask"].I64()
	if !tensors.SameShape(got["logits"], want["logits"]) {
		t.Fatalf("logits %v, want %v", got["logits"], want["logits"])
	}
	if e := maxRel(got["logits"].F32(), want["logits"].F32(), func(i int) bool { return mask[i/V] == 1 }); e > 1e-5 {
		t.Errorf("logits rel err %.3g", e)
	}
	n := 0
	for name, w := range want {
		if !strings.HasPrefix(name, "grad.") {
			continue
		}
		g := got[name]
		if g == nil || !tensors.SameShape(g, w) {
			t.Errorf("%s: %v, want %v", name, g, w)
			continue
		}
		if e := maxRel(g.F32(), w.F32(), nil); e > 1e-4 {
			t.Errorf("%s rel err %.3g", name, e)
		}
		n++
	}
	for name := range got {
		if strings.HasPrefix(name, "grad.") && want[name] == nil {
			t.Errorf("unexpected output %s", name)
		}
	}
	t.Logf("%s; %d gradients compared", strings.TrimSpace(msg), n)
	// Without --grads: loss and logits only.
	msg, err = runForward(t, "--model", dir, "--inputs", filepath.Join(dir, "inputs.safetensors"), "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	if got := readAll(t, out); len(got) != 2 || got["loss"] == nil || got["logits"] == nil {
		t.Errorf("without --grads the output has %d tensors", len(got))
	}
}

// TestForwardInputErrors: each bad input file fails with an error naming the input.
func TestForwardInputErrors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "reference", "golden", "case1")
	good := readAll(t, filepath.Join(dir, "inputs.safetensors"))
	for _, tc := range []struct {
		name string
		mod  func(m map[string]*tensors.Tensor)
		want string
	}{
		{"missing ids", func(m map[string]*tensors.Tensor) { delete(m, "input_ids") }, "input input_ids is missing"},
		{"float ids", func(m map[string]*tensors.Tensor) { m["input_ids"] = tensors.New(tensors.F32, 2, 27) }, "input input_ids is F32[2 27]"},
		{"mask shape", func(m map[string]*tensors.Tensor) { m["attention_mask"] = tensors.New(tensors.I64, 2, 26) }, "input attention_mask is I64[2 26]"},
		{"labels dtype", func(m map[string]*tensors.Tensor) { m["labels"] = tensors.New(tensors.F32, 2, 27) }, "input labels is F32"},
		{"pixel width", func(m map[string]*tensors.Tensor) { m["pixel_values"] = tensors.New(tensors.F32, 36, 1175) }, "want F32 [patches, 1176]"},
		{"grid without pixels", func(m map[string]*tensors.Tensor) { delete(m, "pixel_values") }, "must be given together"},
		{"patch count", func(m map[string]*tensors.Tensor) { m["pixel_values"] = tensors.New(tensors.F32, 35, 1176) }, "covers 36 patches but pixel_values has 35 rows"},
		{"unknown", func(m map[string]*tensors.Tensor) { m["position_ids"] = tensors.New(tensors.I64, 3) }, `unexpected input "position_ids"`},
	} {
		m := map[string]*tensors.Tensor{}
		for k, v := range good {
			m[k] = v
		}
		tc.mod(m)
		p := filepath.Join(t.TempDir(), "in.safetensors")
		if err := safetensors.Write(p, m, nil); err != nil {
			t.Fatal(err)
		}
		_, err := runForward(t, "--model", dir, "--inputs", p, "--out", filepath.Join(t.TempDir(), "o.safetensors"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
