package ptx

import (
	_ "embed" // the committed PTX modules
	"fmt"
	"strconv"
	"strings"
)

// The PTX modules gen.sh writes from module.cu (`make kernels` runs it; it needs clang-19, so
// it is not a go:generate step). TestPTXFresh checks they are fresh wherever clang-19 is
// installed.
var (
	//go:embed glmflow.sm_90a.ptx
	ptxSM90a []byte
	//go:embed glmflow.sm_80.ptx
	ptxSM80 []byte
)

// Module returns the PTX module for a device architecture, as cuModuleLoadData takes it
// (NUL-terminated text). "sm_90a" (compute capability 9.0, H100/H200) gets the sm_90a build;
// "sm_80" and every other "sm_XY" with XY ≥ 80 (A100, L40S, B200, …) get the sm_80 build,
// which the driver JIT-compiles for the device. Older architectures are an error.
func Module(arch string) ([]byte, error) {
	var src []byte
	switch {
	case arch == "sm_90a":
		src = ptxSM90a
	default:
		cc, err := parseArch(arch)
		if err != nil {
			return nil, err
		}
		if cc < 80 {
			return nil, fmt.Errorf("ptx: architecture %s is below sm_80, the oldest glmflow's kernels are built for", arch)
		}
		src = ptxSM80
	}
	out := make([]byte, len(src)+1) // cuModuleLoadData reads PTX up to a NUL
	copy(out, src)
	return out, nil
}

// ArchFor names the architecture of a device of compute capability major.minor for Module:
// 9.0 → "sm_90a", anything else → "sm_<major><minor>".
func ArchFor(major, minor int) string {
	if major == 9 && minor == 0 {
		return "sm_90a"
	}
	return fmt.Sprintf("sm_%d%d", major, minor)
}

// parseArch reads "sm_XY" (optionally with a letter suffix) as the number XY.
func parseArch(arch string) (int, error) {
	s, ok := strings.CutPrefix(arch, "sm_")
	s = strings.TrimRight(s, "abf")
	n, err := strconv.Atoi(s)
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("ptx: architecture %q is not of the form sm_XY", arch)
	}
	return n, nil
}
