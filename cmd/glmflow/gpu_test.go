package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cuda"
)

func hasGPU() bool {
	b, err := cuda.New(0)
	if err != nil {
		return false
	}
	b.Close()
	return true
}

func TestGpuInfoCmd(t *testing.T) {
	var out bytes.Buffer
	cmd := newGpuCmd()
	cmd.SetOut(&out)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "backend:") || !strings.Contains(s, "cuBLAS:") || !strings.Contains(s, "NCCL:") {
		t.Fatalf("output:\n%s", s)
	}
	if !hasGPU() && (!strings.Contains(s, "no GPU:") || !strings.Contains(s, "cpu backend (CUDA unavailable")) {
		t.Fatalf("without a GPU the output must say why:\n%s", s)
	}
}

// TestGpuCheckWithoutGPU: on a machine without a GPU the check still writes a report that says
// why, and exits with an error.
func TestGpuCheckWithoutGPU(t *testing.T) {
	if hasGPU() {
		t.Skip("a CUDA device is present: the full check is `make gpu-check`")
	}
	report := filepath.Join(t.TempDir(), "report.md")
	var out bytes.Buffer
	cmd := newGpuCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"check", "--report", report, "--seed", "5"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "2 failure") { // Device and CUDA backend
		t.Fatalf("got %v", err)
	}
	b, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, want := range []string{"# glmflow gpu check", "## Device", "## CUDA backend", "no CUDA backend:", "## Summary"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
}

func TestRelL2(t *testing.T) {
	if e := relL2([]float32{1, 2}, []float32{1, 2}); e != 0 {
		t.Fatal(e)
	}
	if e := relL2([]float32{0, 0}, []float32{3, 4}); e != 1 {
		t.Fatal(e)
	}
	if e := relL2([]float32{1, 0}, []float32{0, 0}); e != 1 {
		t.Fatal(e)
	}
}
