package dl

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirsOrder(t *testing.T) {
	root := t.TempDir()
	sp1 := filepath.Join(root, "usr", "lib", "python3.11", "dist-packages")
	sp2 := filepath.Join(root, "venv", "lib", "python3.12", "site-packages")
	for _, d := range []string{sp1, sp2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := Search{LDLibraryPath: "/a::/b:/a", System: []string{"/sys1", "/b"},
		PythonRoots: []string{filepath.Join(root, "usr", "lib"), filepath.Join(root, "venv", "lib")}}
	got := s.Dirs("cublas")
	want := []string{"/a", "/b", "/sys1",
		filepath.Join(sp1, "nvidia", "cublas", "lib"), filepath.Join(sp1, "nvidia", "cu13", "lib"),
		filepath.Join(sp2, "nvidia", "cublas", "lib"), filepath.Join(sp2, "nvidia", "cu13", "lib")}
	if !slices.Equal(got, want) {
		t.Fatalf("Dirs:\n got %q\nwant %q", got, want)
	}
}

func TestFindExactOrder(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	touch(t, filepath.Join(b, "libcuda.so.1"))
	touch(t, filepath.Join(a, "libcuda.so"))
	touch(t, filepath.Join(b, "libcuda.so"))
	// Folder order beats name order: a/libcuda.so comes before b/libcuda.so.1.
	p, err := FindExact([]string{a, b}, []string{"libcuda.so.1", "libcuda.so"})
	if err != nil || p != filepath.Join(a, "libcuda.so") {
		t.Fatalf("got %q, %v", p, err)
	}
	touch(t, filepath.Join(a, "libcuda.so.1"))
	if p, _ := FindExact([]string{a, b}, []string{"libcuda.so.1", "libcuda.so"}); p != filepath.Join(a, "libcuda.so.1") {
		t.Fatalf("got %q", p)
	}
	_, err = FindExact([]string{t.TempDir()}, []string{"libcuda.so.1"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestFindVersioned(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	touch(t, filepath.Join(a, "libcublas.so"))
	touch(t, filepath.Join(a, "libcublas.so.12"))
	touch(t, filepath.Join(a, "libcublas.so.12.9.1.4"))
	touch(t, filepath.Join(a, "libcublasLt.so.13")) // another base: never matches
	touch(t, filepath.Join(b, "libcublas.so.13"))
	touch(t, filepath.Join(b, "libcublas.so.x"))
	p, err := FindVersioned([]string{a, b}, "libcublas.so")
	if err != nil || p != filepath.Join(b, "libcublas.so.13") {
		t.Fatalf("got %q, %v", p, err)
	}
	// Equal versions: the earlier folder wins.
	touch(t, filepath.Join(a, "libcublas.so.13"))
	if p, _ := FindVersioned([]string{a, b}, "libcublas.so"); p != filepath.Join(a, "libcublas.so.13") {
		t.Fatalf("tie: got %q", p)
	}
	if _, err := FindVersioned([]string{t.TempDir()}, "libnccl.so"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestVersions(t *testing.T) {
	for _, c := range []struct {
		name string
		v    []int
		ok   bool
	}{
		{"libnccl.so", []int{}, true}, {"libnccl.so.2", []int{2}, true}, {"libnccl.so.2.27.3", []int{2, 27, 3}, true},
		{"libnccl.so.", nil, false}, {"libnccl.so.2a", nil, false}, {"libnccl.sox", nil, false},
	} {
		v, ok := ParseVersion(c.name, "libnccl.so")
		if ok != c.ok || !slices.Equal(v, c.v) {
			t.Errorf("ParseVersion(%q) = %v, %v", c.name, v, ok)
		}
	}
	if CompareVersions([]int{12, 9}, []int{13}) >= 0 || CompareVersions([]int{13, 0}, []int{13}) <= 0 ||
		CompareVersions([]int{2}, []int{2}) != 0 || CompareVersions([]int{}, []int{1}) >= 0 {
		t.Error("CompareVersions order wrong")
	}
}

func TestOpenMissing(t *testing.T) {
	s := Search{LDLibraryPath: t.TempDir(), NoLoaderCache: true}
	_, err := OpenExact(s, "", "libcuda.so.1")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nothing.so")); err == nil {
		t.Fatal("Open of a missing file succeeded")
	}
}
