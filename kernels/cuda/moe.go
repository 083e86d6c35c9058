package cuda

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/moe"
	"github.com/glmflow/glmflow/tensors"
)

// Limits of moe.cu's per-thread top-k state.
const (
	maxTopK   = 32
	maxGroups = 64
)

func routerConfig(E int, o kernels.RouterOpts) (moe.RouterConfig, error) {
	c := moe.RouterConfig{E: E, K: o.TopK, NGroup: o.NGroup, TopKGroup: o.TopKGroup, NormTopK: o.NormTopK, Scale: o.ScalingFactor}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.K > maxTopK || c.NGroup > maxGroups || c.TopKGroup > maxGroups {
		return c, fmt.Errorf("top-k %d / groups %d / kept groups %d beyond the kernel's %d / %d: %w",
			c.K, c.NGroup, c.TopKGroup, maxTopK, maxGroups, kernels.ErrUnsupported)
	}
	return c, nil
}

func (b *Backend) routerDims(op string, x, wGate *tensors.Tensor) (T, D, E int, err error) {
	if err = b.check(op, f32("x", x), f32("wGate", wGate)); err != nil {
		return
	}
	if x.Rank() != 2 || wGate.Rank() != 2 || wGate.Dim(1) != x.Dim(1) {
		return 0, 0, 0, fmt.Errorf("cuda.%s: x %v and wGate %v must be [T, D] and [E, D]", op, x, wGate)
	}
	T, D, E = x.Dim(0), x.Dim(1), wGate.Dim(0)
	return T, D, E, fits32(op, T*E, T*D, E*D)
}

// gemm32 runs a row-major F32 GEMM on the handle (inside run).
func (b *Backend) gemm32(ta, tb bool, a, x, c *tensors.Tensor, ar, ac, br, bc, cr, cc int, beta float32) error {
	if cr == 0 || cc == 0 {
		return nil
	}
	if (ta && ar == 0) || (!ta && ac == 0) { // K = 0: C = β·C
		return b.scaleC(dptr(c), cr*cc, beta)
	}
	return b.blas.Gemm(cublas.RowMajorGemm{TransA: ta, TransB: tb, Alpha: 1, Beta: beta, Batch: 1,
		A: cublas.Operand{Ptr: uintptr(dptr(a)), Type: cublas.R32F, Rows: ar, Cols: ac},
		B: cublas.Operand{Ptr: uintptr(dptr(x)), Type: cublas.R32F, Rows: br, Cols: bc},
		C: cublas.Operand{Ptr: uintptr(dptr(c)), Type: cublas.R32F, Rows: cr, Cols: cc}})
}

func (b *Backend) Router(logits, scores, topIdx, topW, x, wGate, bias *tensors.Tensor, o kernels.RouterOpts) error {
	const op = "Router"
	T, D, E, err := b.routerDims(op, x, wGate)
	if err != nil {
		return err
	}
	cfg, err := routerConfig(E, o)
	if err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	if err := b.check(op, f32("logits", logits, T, E), f32("scores", scores, T, E),
		i32("topIdx", topIdx, T, cfg.K), f32("topW", topW, T, cfg.K)); err != nil {
		return err
	}
	if bias != nil {
		if err := b.check(op, f32("bias", bias, E)); err != nil {
			return err
		}
	}
	return b.run(op, func() error {
		if err := b.gemm32(false, true, x, wGate, logits, T, D, E, D, T, E, 0); err != nil {
			return err
		}
		a := new(kargs).p(dptr(scores)).p(dptr(topIdx)).p(dptr(topW)).p(dptr(logits)).p(dptr(bias)).
			i(T).i(E).i(cfg.K).i(cfg.NGroup).i(cfg.TopKGroup).b(cfg.NormTopK).f(cfg.Scale)
		return b.launch("moe_route_f32", dims(T), a)
	})
}

func (b *Backend) RouterBackward(dx, dWGate, dLogits, dTopW, dScores, x, wGate, scores, topIdx *tensors.Tensor, o kernels.RouterOpts) error {
	const op = "RouterBackward"
	T, D, E, err := b.routerDims(op, x, wGate)
	if err != nil {
		return err
	}
	cfg, err := routerConfig(E, o)
	if err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	if err := b.check(op, f32("scores", scores, T, E), i32("topIdx", topIdx, T, cfg.K),
		f32("dTopW", dTopW, T, cfg.K), f32("dLogits", dLogits, T, E)); err != nil {
		return err
	}
	for _, c := range []arg{f32("dScores", dScores, T, E), f32("dx", dx, T, D), f32("dWGate", dWGate, E, D)} {
		if c.t != nil {
			if err := b.check(op, c); err != nil {
				return err
			}
		}
	}
	if err := b.checkIndices(op, "topIdx", topIdx, E); err != nil {
		return err
	}
	return b.run(op, func() error {
		a := new(kargs).p(dptr(dLogits)).p(dptr(dTopW)).p(dptr(dScores)).p(dptr(scores)).p(dptr(topIdx)).
			i(T).i(E).i(cfg.K).b(cfg.NormTopK).f(cfg.Scale)
		if err := b.launch("moe_router_backward_f32", dims(T*E), a); err != nil {
			return err
		}
		if dx != nil { // dx = dLogits·wGate
			if err := b.gemm32(false, false, dLogits, wGate, dx, T, E, E, D, T, D, 0); err != nil {
				return err
			}
		}
		if dWGate != nil { // dWGate += dLogitsᵀ·x
			return b.gemm32(true, false, dLogits, x, dWGate, T, E, T, D, E, D, 1)
		}
		return nil
	})
}

// checkIndices downloads an I32 tensor and checks every value is in [0, n).
func (b *Backend) checkIndices(op, name string, t *tensors.Tensor, n int) error {
	ix, err := b.hostI32(t)
	if err != nil {
		return fmt.Errorf("cuda.%s: %w", op, err)
	}
	for i, v := range ix {
		if v < 0 || int(v) >= n {
			return fmt.Errorf("cuda.%s: %s[%d] = %d out of range [0, %d)", op, name, i, v, n)
		}
	}
	return nil
}

func (b *Backend) Permutation(offs, rowSrc, pos, topIdx *tensors.Tensor) error {
	const op = "Permutation"
	if err := b.check(op, i32("topIdx", topIdx), i32("offs", offs)); err != nil {
		return err
	}
	if topIdx.Rank() != 2 || offs.Rank() != 1 || offs.Dim(0) < 2 {
		return fmt.Errorf("cuda.%s: topIdx %v and offs %v must be [T, k] and [E+1]", op, topIdx, offs)
	}
	T, k, E := topIdx.Dim(0), topIdx.Dim(1), offs.Dim(0)-1
	if err := b.check(op, i32("rowSrc", rowSrc, T*k), i32("pos", pos, T*k)); err != nil {
		return err
	}
	if err := fits32(op, T*k); err != nil {
		return err
	}
	if err := b.checkIndices(op, "topIdx", topIdx, E); err != nil {
		return err
	}
	R := T * k
	return b.run(op, func() error {
		counts, err := b.scratchLocked(slotSmall, int64(E)*4)
		if err != nil {
			return err
		}
		if R == 0 { // no assignments: every offset is 0
			return b.d.MemsetD32Async(dptr(offs), 0, uint64(E+1), b.stream)
		}
		if err := b.launch("moe_count", dims(E), new(kargs).p(counts).p(dptr(topIdx)).i(R)); err != nil {
			return err
		}
		if err := b.launch("moe_offsets", nil, new(kargs).p(dptr(offs)).p(counts).i(E)); err != nil {
			return err
		}
		return b.launch("moe_place", dims(E), new(kargs).p(dptr(rowSrc)).p(dptr(pos)).p(dptr(topIdx)).p(dptr(offs)).i(R))
	})
}

func (b *Backend) Permute(xPerm, x, rowSrc *tensors.Tensor) error {
	const op = "Permute"
	if err := b.check(op, f32("x", x), i32("rowSrc", rowSrc), f32("xPerm", xPerm)); err != nil {
		return err
	}
	if x.Rank() != 2 || rowSrc.Rank() != 1 || x.Dim(0) == 0 || rowSrc.Dim(0)%x.Dim(0) != 0 {
		return fmt.Errorf("cuda.%s: x %v and rowSrc %v must be [T, D] and [T·k]", op, x, rowSrc)
	}
	T, D := x.Dim(0), x.Dim(1)
	k := rowSrc.Dim(0) / T
	if err := b.check(op, f32("xPerm", xPerm, T*k, D)); err != nil {
		return err
	}
	if err := b.checkIndices(op, "rowSrc", rowSrc, T*k); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("moe_permute_f32", dims(T*k), new(kargs).p(dptr(xPerm)).p(dptr(x)).p(dptr(rowSrc)).i(T*k).i(D).i(k))
	})
}

func (b *Backend) PermuteBackward(dx, dXPerm, pos *tensors.Tensor) error {
	const op = "PermuteBackward"
	if err := b.check(op, f32("dx", dx), i32("pos", pos), f32("dXPerm", dXPerm)); err != nil {
		return err
	}
	if dx.Rank() != 2 || pos.Rank() != 1 || dx.Dim(0) == 0 || pos.Dim(0)%dx.Dim(0) != 0 {
		return fmt.Errorf("cuda.%s: dx %v and pos %v must be [T, D] and [T·k]", op, dx, pos)
	}
	T, D := dx.Dim(0), dx.Dim(1)
	k := pos.Dim(0) / T
	if err := b.check(op, f32("dXPerm", dXPerm, T*k, D)); err != nil {
		return err
	}
	if err := b.checkIndices(op, "pos", pos, T*k); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("moe_permute_backward_f32", dims(T), new(kargs).p(dptr(dx)).p(dptr(dXPerm)).p(dptr(pos)).i(T).i(D).i(k))
	})
}

func (b *Backend) unpermDims(op string, out, topW *tensors.Tensor) (T, D, k int, err error) {
	if err = b.check(op, f32("out", out), f32("topW", topW)); err != nil {
		return
	}
	if out.Rank() != 2 || topW.Rank() != 2 || topW.Dim(0) != out.Dim(0) {
		return 0, 0, 0, fmt.Errorf("cuda.%s: out %v and topW %v must be [T, D] and [T, k]", op, out, topW)
	}
	T, D, k = out.Dim(0), out.Dim(1), topW.Dim(1)
	return T, D, k, fits32(op, T*k, T*D)
}

func (b *Backend) Unpermute(out, yPerm, pos, topW *tensors.Tensor) error {
	const op = "Unpermute"
	T, D, k, err := b.unpermDims(op, out, topW)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("yPerm", yPerm, T*k, D), i32("pos", pos, T*k)); err != nil {
		return err
	}
	if err := b.checkIndices(op, "pos", pos, T*k); err != nil {
		return err
	}
	return b.run(op, func() error {
		return b.launch("moe_unpermute_f32", dims(T), new(kargs).p(dptr(out)).p(dptr(yPerm)).p(dptr(pos)).p(dptr(topW)).i(T).i(D).i(k))
	})
}

func (b *Backend) UnpermuteBackward(dYPerm, dTopW, dout, yPerm, pos, topW *tensors.Tensor) error {
	const op = "UnpermuteBackward"
	T, D, k, err := b.unpermDims(op, dout, topW)
	if err != nil {
		return err
	}
	if err := b.check(op, f32("yPerm", yPerm, T*k, D), i32("pos", pos, T*k), f32("dYPerm", dYPerm, T*k, D),
		f32("dTopW", dTopW, T, k)); err != nil {
		return err
	}
	if err := b.checkIndices(op, "pos", pos, T*k); err != nil {
		return err
	}
	return b.run(op, func() error {
		a := new(kargs).p(dptr(dYPerm)).p(dptr(dTopW)).p(dptr(dout)).p(dptr(yPerm)).p(dptr(pos)).p(dptr(topW)).i(T).i(D).i(k)
		return b.launch("moe_unpermute_backward_f32", dims(T), a)
	})
}
