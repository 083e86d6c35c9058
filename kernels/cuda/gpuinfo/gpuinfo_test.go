package gpuinfo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/kernels/cuda/internal/dl"
	"github.com/glmflow/glmflow/kernels/cuda/internal/stubtest"
)

// TestFromDriverStub lists the stand-in libcuda's two devices through the driver API path.
func TestFromDriverStub(t *testing.T) {
	dir := t.TempDir()
	stubtest.Build(t, filepath.Join("..", "driver", "testdata", "stub_cuda.c"), dir, "libcuda.so.1")
	d, err := driver.LoadFrom(dl.Search{LDLibraryPath: dir, NoLoaderCache: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromDriver(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GPUs) != 2 || r.DriverVersion != "CUDA 13.0" || r.Source != "driver" {
		t.Fatalf("%+v", r)
	}
	g := r.GPUs[1]
	if g.Name != "Stub GPU H200" || g.CCMajor != 9 || g.CCMinor != 0 || g.SMs != 132 || g.MemTotal != 150<<30 ||
		g.MemFree != 100<<30 || g.MemUsed != 50<<30 || g.UtilGPU != -1 {
		t.Fatalf("%+v", g)
	}
	var buf bytes.Buffer
	r.Write(&buf)
	if !strings.Contains(buf.String(), "cuda:1  Stub GPU H200  sm_90  132 SMs  memory 150.0 GiB total, 100.0 GiB free") {
		t.Fatalf("report:\n%s", buf.String())
	}
}

// TestDiscoverHere runs discovery on this machine: with a GPU it must list it, without one
// it must return an error that says why (never panic).
func TestDiscoverHere(t *testing.T) {
	r, err := Discover()
	if err != nil {
		if msg := err.Error(); !strings.Contains(msg, "CPU backend") && !strings.Contains(msg, "not found") {
			t.Fatalf("unhelpful error %q", msg)
		}
		if _, statErr := os.Stat("/dev/nvidiactl"); statErr == nil {
			t.Logf("NVIDIA device node present but discovery failed: %v", err)
		}
		return
	}
	if len(r.GPUs) == 0 {
		t.Fatal("no error but no GPUs")
	}
}
