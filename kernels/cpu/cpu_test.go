package cpu

import (
	"strings"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/backendtest"
	"github.com/glmflow/glmflow/kernels/internal/kerneltest"
	"github.com/glmflow/glmflow/tensors"
)

var be = New()

// TestConformance runs the backend conformance suite: every op against the float64
// references of the kernel packages.
func TestConformance(t *testing.T) { backendtest.Run(t, be) }

func rnd(seed uint64, shape ...int) *tensors.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensors.MustF32(kerneltest.Uniform(kerneltest.RNG(seed), n, -1, 1), shape...)
}

func ids(vals ...int32) *tensors.Tensor {
	t := tensors.New(tensors.I32, len(vals))
	copy(t.I32(), vals)
	return t
}

// TestErrorsNotPanics feeds every family wrong dtypes, shapes and devices: each call must
// return an error that names the op.
func TestErrorsNotPanics(t *testing.T) {
	var seed uint64
	rand := func(shape ...int) *tensors.Tensor { seed++; return rnd(seed, shape...) }
	x := rand(3, 4)
	i := tensors.New(tensors.I32, 3, 4)
	dev, err := tensors.FromStorage(tensors.F32, []int{3, 4}, tensors.DeviceStorage(tensors.CUDA(0), 0x1000, 48, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Add":       func() error { return be.Add(x, x, rand(4, 3)) },
		"Mul":       func() error { return be.Mul(x, x, i) },
		"SiLU":      func() error { return be.SiLU(x, dev) },
		"RMSNorm":   func() error { return be.RMSNorm(x, rand(3), x, rand(5), 1e-5) },
		"LayerNorm": func() error { return be.LayerNorm(x, rand(3), rand(2), x, rand(4), nil, 1e-5) },
		"Softmax":   func() error { return be.Softmax(rand(4, 3), x) },
		"Matmul":    func() error { return be.Matmul(x, x, x, kernels.MatmulOpts{}) },
		"Attention": func() error { return be.Attention(x, x, x, x, x, kernels.AttentionOpts{}) },
		"Rotary":    func() error { return be.Rotary(x, x, x, x) },
		"Embedding": func() error { return be.Embedding(x, x, x) },
		"Router": func() error {
			return be.Router(x, x, i, x, x, rand(2, 5), nil, kernels.RouterOpts{TopK: 1})
		},
		"Permute":       func() error { return be.Permute(x, x, ids(0, 1)) },
		"GroupedLinear": func() error { return be.GroupedLinear(x, x, rand(2, 4, 4), ids(0, 3)) },
		"GridSample":    func() error { return be.GridSample(x, rand(2, 2, 4), rand(3, 3)) },
		"SwiGLUFused":   func() error { return be.SwiGLUFused(x, rand(3, 7)) },
		"Copy":          func() error { return be.Copy(x, i) },
		"Nil":           func() error { return be.Scale(nil, x, 1) },
	}
	for name, call := range calls {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			err = call()
		}()
		if err == nil || !strings.HasPrefix(err.Error(), "cpu.") {
			t.Errorf("%s: err = %v, want a cpu.* error", name, err)
		}
	}
}
