package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
	"github.com/glmflow/glmflow/tensors/safetensors"
)

func runCLI(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

const tinyDir = "../../testdata/tiny"

// TestInitModelRegeneratesTiny: the documented command reproduces testdata/tiny byte for byte.
func TestInitModelRegeneratesTiny(t *testing.T) {
	out := t.TempDir()
	msg, err := runCLI("init-model", "--config", filepath.Join(tinyDir, "config.json"), "--out", out, "--seed", "0", "--bias-std", "0.05")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "118 tensors, 313840 parameters, bfloat16, seed 0") {
		t.Errorf("output %q", msg)
	}
	for _, name := range []string{"config.json", "model.safetensors"} {
		want, err := os.ReadFile(filepath.Join(tinyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata/tiny/%s: regenerate with\n  glmflow init-model --config testdata/tiny/config.json --out testdata/tiny --seed 0 --bias-std 0.05", name, name)
		}
	}
}

func TestInitModelDTypeAndErrors(t *testing.T) {
	out := t.TempDir()
	if _, err := runCLI("init-model", "--config", filepath.Join(tinyDir, "config.json"), "--out", out, "--dtype", "f32", "--seed", "3"); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if !strings.Contains(string(cfg), `"torch_dtype": "float32"`) {
		t.Errorf("config.json does not record float32:\n%s", cfg)
	}
	f, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, _ := f.Info("lm_head.weight"); info.DType != tensors.F32 {
		t.Errorf("lm_head stored as %v", info.DType)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"text_config": {"vocab_size": "x"}, "vision_config": {}}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init-model", "--out", out}, `"config"`},
		{[]string{"init-model", "--config", filepath.Join(tinyDir, "config.json")}, `"out"`},
		{[]string{"init-model", "--config", filepath.Join(tinyDir, "config.json"), "--out", out, "--dtype", "f16"}, `--dtype "f16"`},
		{[]string{"init-model", "--config", filepath.Join(tinyDir, "config.json"), "--out", out, "--bias-std", "-1"}, "--bias-std"},
		{[]string{"init-model", "--config", "no/such/config.json", "--out", out}, "no/such/config.json"},
		{[]string{"init-model", "--config", bad, "--out", out}, "text_config.vocab_size"},
	} {
		if _, err := runCLI(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %s", tc.args, err, tc.want)
		}
	}
}
