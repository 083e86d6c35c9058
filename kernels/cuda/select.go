package cuda

import (
	"fmt"
	"strings"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
)

// Select returns the backend a user named: "cpu"; "cuda" or "cuda:N" (an error if that device
// cannot be opened); "auto" or "" (CUDA device 0 when it opens, else the CPU backend). The
// note says what was chosen and, on a fallback, why — the CLI prints it.
func Select(name string) (be kernels.Backend, note string, err error) {
	switch name = strings.TrimSpace(name); name {
	case "cpu":
		return cpu.New(), "cpu backend", nil
	case "", "auto":
		b, err := New(0)
		if err != nil {
			return cpu.New(), fmt.Sprintf("cpu backend (CUDA unavailable: %v)", err), nil
		}
		return b, fmt.Sprintf("cuda backend on cuda:0 (%s, %s)", b.DeviceName(), b.Arch()), nil
	}
	dev, err := tensors.ParseDevice(name)
	if err != nil || !dev.CUDA {
		return nil, "", fmt.Errorf("backend %q: want auto, cpu, cuda or cuda:N", name)
	}
	b, err := New(dev.Index)
	if err != nil {
		return nil, "", err
	}
	return b, fmt.Sprintf("cuda backend on %v (%s, %s)", dev, b.DeviceName(), b.Arch()), nil
}
