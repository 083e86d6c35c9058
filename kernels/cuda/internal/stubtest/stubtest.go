// Package stubtest builds the stand-in shared libraries the CUDA binding tests load in place
// of libcuda, libcublas and libnccl: C files in a testdata folder compiled with gcc. Tests
// skip (with the reason) where gcc is missing.
package stubtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NeedGCC skips the test when gcc is missing.
func NeedGCC(t testing.TB) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot build the stand-in library")
	}
	return gcc
}

// Build compiles the C file src into dir/name as a shared library (extra gcc flags such as
// -DVERSION=13 after it) and returns its path.
func Build(t testing.TB, src, dir, name string, flags ...string) string {
	t.Helper()
	gcc := NeedGCC(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(gcc, append([]string{"-shared", "-fPIC", "-O1", "-o", out, src}, flags...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, b)
	}
	return out
}
