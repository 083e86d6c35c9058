package cpu

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/tensors"
)

func routerConfig(E int, o kernels.RouterOpts) moe.RouterConfig {
	return moe.RouterConfig{E: E, K: o.TopK, NGroup: o.NGroup, TopKGroup: o.TopKGroup,
		NormTopK: o.NormTopK, Scale: o.ScalingFactor}
}

func (*Backend) Router(logits, scores, topIdx, topW, x, wGate, bias *tensors.Tensor, o kernels.RouterOpts) error {
	const op = "Router"
	if err := check(op, f32("x", x), f32("wGate", wGate)); err != nil {
		return err
	}
	if x.Rank() != 2 || wGate.Rank() != 2 || wGate.Dim(1) != x.Dim(1) {
		return fmt.Errorf("cpu.%s: x %v and wGate %v must be [T, D] and [E, D]", op, x, wGate)
	}
	T, D, E := x.Dim(0), x.Dim(1), wGate.Dim(0)
	if err := check(op, f32("logits", logits, T, E), f32("scores", scores, T, E),
		i32("topIdx", topIdx, T, o.TopK), f32("topW", topW, T, o.TopK)); err != nil {
		return err
	}
	var b []float32
	if bias != nil {
		if err := check(op, f32("bias", bias, E)); err != nil {
			return err
		}
		b = bias.F32()
	}
	return wrap(op, moe.RouterForward(routerConfig(E, o), T, D, x.F32(), wGate.F32(), b, logits.F32(),
		scores.F32(), topIdx.I32(), topW.F32()))
}

func (*Backend) RouterBackward(dx, dWGate, dLogits, dTopW, dScores, x, wGate, scores, topIdx *tensors.Tensor, o kernels.RouterOpts) error {
	const op = "RouterBackward"
	if err := check(op, f32("x", x), f32("wGate", wGate)); err != nil {
		return err
	}
	if x.Rank() != 2 || wGate.Rank() != 2 || wGate.Dim(1) != x.Dim(1) {
		return fmt.Errorf("cpu.%s: x %v and wGate %v must be [T, D] and [E, D]", op, x, wGate)
	}
	T, D, E := x.Dim(0), x.Dim(1), wGate.Dim(0)
	if err := check(op, f32("scores", scores, T, E), i32("topIdx", topIdx, T, o.TopK),
		f32("dTopW", dTopW, T, o.TopK), f32("dLogits", dLogits, T, E)); err != nil {
		return err
	}
	opt := func(name string, t *tensors.Tensor, shape ...int) ([]float32, error) {
		if t == nil {
			return nil, nil
		}
		if err := check(op, f32(name, t, shape...)); err != nil {
			return nil, err
		}
		return t.F32(), nil
	}
	ds, err := opt("dScores", dScores, T, E)
	if err != nil {
		return err
	}
	dxs, err := opt("dx", dx, T, D)
	if err != nil {
		return err
	}
	dw, err := opt("dWGate", dWGate, E, D)
	if err != nil {
		return err
	}
	return wrap(op, moe.RouterBackward(routerConfig(E, o), T, D, x.F32(), wGate.F32(), scores.F32(),
		topIdx.I32(), dTopW.F32(), ds, dLogits.F32(), dxs, dw))
}

func (*Backend) Permutation(offs, rowSrc, pos, topIdx *tensors.Tensor) error {
	const op = "Permutation"
	if err := check(op, i32("topIdx", topIdx), i32("offs", offs)); err != nil {
		return err
	}
	if topIdx.Rank() != 2 || offs.Rank() != 1 || offs.Dim(0) < 2 {
		return fmt.Errorf("cpu.%s: topIdx %v and offs %v must be [T, k] and [E+1]", op, topIdx, offs)
	}
	T, k, E := topIdx.Dim(0), topIdx.Dim(1), offs.Dim(0)-1
	if err := check(op, i32("rowSrc", rowSrc, T*k), i32("pos", pos, T*k)); err != nil {
		return err
	}
	return wrap(op, moe.BuildPermutation(T, k, E, topIdx.I32(), offs.I32(), rowSrc.I32(), pos.I32()))
}

func (*Backend) Permute(xPerm, x, rowSrc *tensors.Tensor) error {
	const op = "Permute"
	if err := check(op, f32("x", x), i32("rowSrc", rowSrc), f32("xPerm", xPerm)); err != nil {
		return err
	}
	if x.Rank() != 2 || rowSrc.Rank() != 1 || x.Dim(0) == 0 || rowSrc.Dim(0)%x.Dim(0) != 0 {
		return fmt.Errorf("cpu.%s: x %v and rowSrc %v must be [T, D] and [T·k]", op, x, rowSrc)
	}
	T, D := x.Dim(0), x.Dim(1)
	k := rowSrc.Dim(0) / T
	if err := check(op, f32("xPerm", xPerm, T*k, D)); err != nil {
		return err
	}
	return wrap(op, moe.Permute(T, D, k, x.F32(), rowSrc.I32(), xPerm.F32()))
}

func (*Backend) PermuteBackward(dx, dXPerm, pos *tensors.Tensor) error {
	const op = "PermuteBackward"
	if err := check(op, f32("dx", dx), i32("pos", pos), f32("dXPerm", dXPerm)); err != nil {
		return err
	}
	if dx.Rank() != 2 || pos.Rank() != 1 || dx.Dim(0) == 0 || pos.Dim(0)%dx.Dim(0) != 0 {
		return fmt.Errorf("cpu.%s: dx %v and pos %v must be [T, D] and [T·k]", op, dx, pos)
	}
	T, D := dx.Dim(0), dx.Dim(1)
	k := pos.Dim(0) / T
	if err := check(op, f32("dXPerm", dXPerm, T*k, D)); err != nil {
		return err
	}
	return wrap(op, moe.PermuteBackward(T, D, k, dXPerm.F32(), pos.I32(), dx.F32()))
}

// unpermDims derives T, D, k from out [T, D] and topW [T, k].
func unpermDims(op string, out, topW *tensors.Tensor) (T, D, k int, err error) {
	if err = check(op, f32("out", out), f32("topW", topW)); err != nil {
		return
	}
	if out.Rank() != 2 || topW.Rank() != 2 || topW.Dim(0) != out.Dim(0) {
		return 0, 0, 0, fmt.Errorf("cpu.%s: out %v and topW %v must be [T, D] and [T, k]", op, out, topW)
	}
	return out.Dim(0), out.Dim(1), topW.Dim(1), nil
}

func (*Backend) Unpermute(out, yPerm, pos, topW *tensors.Tensor) error {
	const op = "Unpermute"
	T, D, k, err := unpermDims(op, out, topW)
	if err != nil {
		return err
	}
	if err := check(op, f32("yPerm", yPerm, T*k, D), i32("pos", pos, T*k)); err != nil {
		return err
	}
	return wrap(op, moe.Unpermute(T, D, k, yPerm.F32(), pos.I32(), topW.F32(), out.F32()))
}

func (*Backend) UnpermuteBackward(dYPerm, dTopW, dout, yPerm, pos, topW *tensors.Tensor) error {
	const op = "UnpermuteBackward"
	T, D, k, err := unpermDims(op, dout, topW)
	if err != nil {
		return err
	}
	if err := check(op, f32("yPerm", yPerm, T*k, D), i32("pos", pos, T*k), f32("dYPerm", dYPerm, T*k, D),
		f32("dTopW", dTopW, T, k)); err != nil {
		return err
	}
	return wrap(op, moe.UnpermuteBackward(T, D, k, dout.F32(), yPerm.F32(), pos.I32(), topW.F32(),
		dYPerm.F32(), dTopW.F32()))
}
