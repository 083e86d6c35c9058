package ptx

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// entryRe matches a kernel declaration and its parameter list in clang's PTX.
var entryRe = regexp.MustCompile(`(?s)\.visible \.entry (\w+)\(\s*(.*?)\)`)

// paramRe matches one parameter: ".param .u64 name_param_0" (clang may add .ptr/.align
// qualifiers on pointers).
var paramRe = regexp.MustCompile(`^\.param\s+(\.[a-z0-9]+)(?:\s+\.ptr)?(?:\s+\.global)?(?:\s+\.align\s+\d+)?\s+(\w+)_param_(\d+)$`)

// entries parses every .entry of a PTX module into name → PTX parameter types.
func entries(t *testing.T, src []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range entryRe.FindAllSubmatch(src, -1) {
		name := string(m[1])
		var types []string
		for i, p := range strings.Split(string(m[2]), ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			pm := paramRe.FindStringSubmatch(p)
			if pm == nil || pm[2] != name || pm[3] != strconv.Itoa(i) {
				t.Fatalf("kernel %s: cannot parse parameter %d %q", name, i, p)
			}
			types = append(types, pm[1])
		}
		if _, dup := out[name]; dup {
			t.Fatalf("kernel %s declared twice", name)
		}
		out[name] = types
	}
	return out
}

func TestTableMatchesPTX(t *testing.T) {
	for _, arch := range []string{"sm_90a", "sm_80"} {
		src, err := Module(arch)
		if err != nil {
			t.Fatal(err)
		}
		got := entries(t, src)
		if len(got) != len(Kernels) {
			t.Errorf("%s: %d entries in the PTX, %d in the table", arch, len(got), len(Kernels))
		}
		for _, k := range Kernels {
			types, ok := got[k.Name]
			if !ok {
				t.Errorf("%s: kernel %s of the table is not in the PTX", arch, k.Name)
				continue
			}
			if len(types) != len(k.Params) {
				t.Errorf("%s: %s has %d parameters in the PTX, %d in the table", arch, k.Name, len(types), len(k.Params))
				continue
			}
			for i, p := range k.Params {
				if types[i] != p.Type.PTX() {
					t.Errorf("%s: %s parameter %d (%s %v) is %s in the PTX, want %s", arch, k.Name, i, p.Name, p.Type, types[i], p.Type.PTX())
				}
			}
			delete(got, k.Name)
		}
		for name := range got {
			t.Errorf("%s: PTX entry %s is missing from the table", arch, name)
		}
	}
}

// TestParamCountBound checks the launch fields of every row.
func TestParamCountBound(t *testing.T) {
	for _, k := range Kernels {
		if len(k.Params) == 0 || k.Block <= 0 || k.Block > 1024 || k.Block%32 != 0 || k.Grid == 0 {
			t.Errorf("kernel %s: %d params, block %d, grid %d", k.Name, len(k.Params), k.Block, k.Grid)
		}
	}
}

func TestTableTypes(t *testing.T) {
	k, ok := Lookup("attention_forward_bf16")
	if !ok {
		t.Fatal("attention_forward_bf16 missing")
	}
	want := []ParamType{PtrBF16, PtrF32, PtrBF16, PtrBF16, PtrBF16, PtrI32, PtrU8, I32, I32, I32, I32, F32, I32, I32}
	if len(k.Params) != len(want) {
		t.Fatalf("params %v", k.Params)
	}
	for i, p := range k.Params {
		if p.Type != want[i] {
			t.Errorf("param %d %s is %v, want %v", i, p.Name, p.Type, want[i])
		}
	}
	if _, ok := Lookup("add_T"); ok {
		t.Error("template name add_T must not be a kernel")
	}
	for i := 1; i < len(Kernels); i++ {
		if Kernels[i-1].Name >= Kernels[i].Name {
			t.Errorf("table not sorted/unique at %s, %s", Kernels[i-1].Name, Kernels[i].Name)
		}
	}
}

func TestModule(t *testing.T) {
	for arch, target := range map[string]string{"sm_90a": ".target sm_90a", "sm_80": ".target sm_80",
		"sm_86": ".target sm_80", "sm_89": ".target sm_80", "sm_100": ".target sm_80", "sm_120a": ".target sm_80"} {
		m, err := Module(arch)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if !bytes.Contains(m, []byte(target+"\n")) || m[len(m)-1] != 0 {
			t.Errorf("%s: module lacks %q or the terminating NUL", arch, target)
		}
	}
	for _, arch := range []string{"sm_75", "sm_70", "compute_80", "", "sm_", "sm_x"} {
		if _, err := Module(arch); err == nil {
			t.Errorf("Module(%q): no error", arch)
		}
	}
	if a := ArchFor(9, 0); a != "sm_90a" {
		t.Errorf("ArchFor(9,0) = %s", a)
	}
	if a := ArchFor(8, 6); a != "sm_86" {
		t.Errorf("ArchFor(8,6) = %s", a)
	}
}

func TestGridStrideBlocks(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want uint32
	}{{0, 1}, {1, 1}, {256, 1}, {257, 2}, {1 << 40, MaxGridStride}} {
		if got := GridStrideBlocks(c.n, 256); got != c.want {
			t.Errorf("GridStrideBlocks(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// clang returns the clang-19 binary or skips the test.
func clang(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skip("clang-19 not installed (apt-get install clang-19): PTX compile checks skipped")
	}
	return p
}

// TestSourcesCompile compiles every .cu on its own for both architectures (each family must
// stand alone, not just inside module.cu).
func TestSourcesCompile(t *testing.T) {
	cl := clang(t)
	srcs, _ := filepath.Glob("*.cu")
	if len(srcs) < 10 {
		t.Fatalf("found %d .cu files", len(srcs))
	}
	dir := t.TempDir()
	for _, src := range srcs {
		for _, a := range [][2]string{{"sm_90a", "+ptx80"}, {"sm_80", "+ptx70"}} {
			out := filepath.Join(dir, src+"."+a[0]+".ptx")
			cmd := exec.Command(cl, "-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch="+a[0], "-Xclang",
				"-target-feature", "-Xclang", a[1], "-nocudainc", "-nocudalib", "-include", "prelude.h", "-O3",
				"-ffp-contract=off", "-std=c++17", "-Wall", "-Werror", "-S", "-o", out, src)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s for %s: %v\n%s", src, a[0], err, b)
			}
		}
	}
}

// TestPTXFresh is the CI staleness check: gen.sh into a temporary folder must reproduce the
// committed modules byte for byte.
func TestPTXFresh(t *testing.T) {
	clang(t)
	dir := t.TempDir()
	cmd := exec.Command("./gen.sh", dir)
	cmd.Env = append(os.Environ(), "CLANG=clang-19")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	for _, f := range []string{"glmflow.sm_90a.ptx", "glmflow.sm_80.ptx"} {
		fresh, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s is stale: run `make kernels` (kernels/cuda/ptx/gen.sh) and commit the result", f)
		}
	}
}

// TestNoApproxOrFTZ: the math policy (prelude.h) forbids hardware-defined approximations and
// denormal flushing, which the Go twins in math_test.go could not reproduce.
func TestNoApproxOrFTZ(t *testing.T) {
	for _, arch := range []string{"sm_90a", "sm_80"} {
		m, _ := Module(arch)
		for _, bad := range []string{".approx", ".ftz", "ex2.", "lg2.", "rsqrt."} {
			if bytes.Contains(m, []byte(bad)) {
				t.Errorf("%s: PTX contains %q", arch, bad)
			}
		}
	}
}
