package glm4v

import (
	"fmt"
	"math"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
)

// noBF16Out is the CPU backend without BF16 outputs of RMSNorm, SwiGLU and SwiGLUBackward
// (as a backend that lacks the option behaves).
type noBF16Out struct{ kernels.Backend }

func errBF16(op string) error {
	return fmt.Errorf("noBF16Out.%s: BF16 output: %w", op, kernels.ErrUnsupported)
}

func (b noBF16Out) RMSNorm(out, rstd, x, w *tensors.Tensor, eps float32) error {
	if out.DType() == tensors.BF16 {
		return errBF16("RMSNorm")
	}
	return b.Backend.RMSNorm(out, rstd, x, w, eps)
}

func (b noBF16Out) SwiGLU(out, g, u *tensors.Tensor) error {
	if out.DType() == tensors.BF16 {
		return errBF16("SwiGLU")
	}
	return b.Backend.SwiGLU(out, g, u)
}

func (b noBF16Out) SwiGLUBackward(dg, du, dout, g, u *tensors.Tensor) error {
	if dg.DType() == tensors.BF16 || du.DType() == tensors.BF16 {
		return errBF16("SwiGLUBackward")
	}
	return b.Backend.SwiGLUBackward(dg, du, dout, g, u)
}

// TestVisionBF16Outputs: the CPU backend writes the bf16 GEMM operands directly, and a
// backend without that option (F32 outputs + Cast) gives bit-identical outputs and gradients.
func TestVisionBF16Outputs(t *testing.T) {
	if !bf16Outputs(cpu.New()) {
		t.Fatal("the CPU backend does not take BF16 outputs of RMSNorm/SwiGLU/SwiGLUBackward")
	}
	if bf16Outputs(noBF16Out{cpu.New()}) {
		t.Fatal("bf16Outputs is true for a backend that rejects them")
	}
	cfg := visTinyConfig(t, true)
	p := visRandomParams(t, cfg, 51)
	in := visRandomInputs(&cfg.Vision, [][3]int{{1, 4, 6}, {2, 2, 2}}, 52)
	r := visRandGrad(in["pixel_values"].Dim(0)/4, cfg.Vision.OutHiddenSize, 53)
	fused := visNewStage(t, p, PrecisionBF16)
	plain, err := NewVisionStage(VisionStageConfig{Backend: noBF16Out{cpu.New()}, Params: p, Precision: PrecisionBF16})
	if err != nil {
		t.Fatal(err)
	}
	if !fused.bf16Out || plain.bf16Out {
		t.Fatalf("bf16Out: fused %v, plain %v", fused.bf16Out, plain.bf16Out)
	}
	o1, g1 := visRun(t, fused, in, r)
	o2, g2 := visRun(t, plain, in, r)
	same := func(what string, a, b []float32) {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %g with BF16 outputs, %g with F32 + Cast", what, i, a[i], b[i])
			}
		}
	}
	same("image_embeds", o1, o2)
	for name, g := range g1 {
		same(name, g, g2[name])
	}
}
