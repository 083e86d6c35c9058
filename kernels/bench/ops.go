package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/tensors"
)

var be = cpu.New()

// randT returns an F32 tensor of uniform values in [-1, 1) from a fixed seed.
func randT(seed uint64, shape ...int) *tensors.Tensor {
	t := tensors.New(tensors.F32, shape...)
	r := rand.New(rand.NewPCG(seed, 1))
	for i, d := 0, t.F32(); i < len(d); i++ {
		d[i] = float32(r.Float64()*2 - 1)
	}
	return t
}

// must panics on an error: benchmark inputs are built here, so an error is a bug in this file.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// attnCase is one attention benchmark; FLOPs follow FlashAttention's convention
// (forward 4·Σ L²·H·Dh, halved for causal; fwd+bwd 3.5× forward).
type attnCase struct {
	name      string
	T, H, K   int
	Dh        int
	causal    bool
	cuSeqlens []int32
}

func (a attnCase) fwdFlops() float64 {
	cu := a.cuSeqlens
	if cu == nil {
		cu = []int32{0, int32(a.T)}
	}
	f := 0.0
	for i := 1; i < len(cu); i++ {
		l := float64(cu[i] - cu[i-1])
		f += 4 * l * l * float64(a.H*a.Dh)
	}
	if a.causal {
		f /= 2
	}
	return f
}

func init() {
	// Attention beside OpenBLAS on the GEMM it is made of (S = Q·Kᵀ of one segment, M = N =
	// segment length, K = Dh): how close the fused, masked, online-softmax kernel gets to a
	// plain GEMM of the same inner shape.
	register("attention", func(c *Config, emit func(Row)) error {
		blas := loadBLAS(emit)
		cases := []attnCase{
			{"text-tiny T=1024 H=8 K=2 Dh=32 causal", 1024, 8, 2, 32, true, nil},
			{"vision 8 images x 256 H=6 Dh=64", 2048, 6, 6, 64, false, []int32{0, 256, 512, 768, 1024, 1280, 1536, 1792, 2048}},
		}
		if !c.Quick {
			cases = append(cases, attnCase{"GLM T=2048 H=16 K=2 Dh=128 causal", 2048, 16, 2, 128, true, nil})
		}
		for _, a := range cases {
			q, k, v := randT(1, a.T, a.H, a.Dh), randT(2, a.T, a.K, a.Dh), randT(3, a.T, a.K, a.Dh)
			o, lse := tensors.New(tensors.F32, a.T, a.H, a.Dh), tensors.New(tensors.F32, a.H, a.T)
			do := randT(4, a.T, a.H, a.Dh)
			dq, dk, dv := tensors.New(tensors.F32, a.T, a.H, a.Dh), tensors.New(tensors.F32, a.T, a.K, a.Dh), tensors.New(tensors.F32, a.T, a.K, a.Dh)
			opts := kernels.AttentionOpts{Causal: a.causal, CuSeqlens: a.cuSeqlens}
			seg := a.T
			if a.cuSeqlens != nil {
				seg = int(a.cuSeqlens[1])
			}
			base := blasRate(c, blas, shape{m: seg, k: a.Dh, n: seg, transB: true})
			fwd := rate(c, a.fwdFlops(), func() { must(be.Attention(o, lse, q, k, v, opts)) }) / 1e9
			emit(Row{Name: a.name + " fwd", Unit: "GFLOP/s", Value: fwd, Base: base, BaseName: "OpenBLAS QKᵀ"})
			fb := rate(c, 3.5*a.fwdFlops(), func() {
				must(be.Attention(o, lse, q, k, v, opts))
				must(be.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts))
			}) / 1e9
			emit(Row{Name: a.name + " fwd+bwd", Unit: "GFLOP/s", Value: fb, Base: base, BaseName: "OpenBLAS QKᵀ"})
		}
		return nil
	})

	// Grouped GEMM over expert-sorted rows beside OpenBLAS on one GEMM of the same total size.
	register("moe", func(c *Config, emit func(Row)) error {
		blas := loadBLAS(emit)
		for _, m := range []struct {
			name       string
			T, D, F, E int
			k          int
		}{
			{"tiny MoE gate_up T=1024 D=256 E=8 k=2 F=256", 1024, 256, 256, 8, 2},
			{"GLM-ish gate_up T=512 D=1024 E=32 k=8 F=352", 512, 1024, 352, 32, 8},
		} {
			R := m.T * m.k
			offs := tensors.New(tensors.I32, m.E+1)
			// Uneven groups, as routing makes them: expert e gets a share ∝ (e%3+1).
			w, tot := 0, 0
			for e := range m.E {
				w += e%3 + 1
			}
			for e := range m.E {
				tot += R * (e%3 + 1) / w
				offs.I32()[e+1] = int32(tot)
			}
			offs.I32()[m.E] = int32(R)
			x, wt, y := randT(5, R, m.D), randT(6, m.E, 2*m.F, m.D), tensors.New(tensors.F32, R, 2*m.F)
			s := shape{m: R, k: m.D, n: 2 * m.F, transB: true}
			v := rate(c, flops(s), func() { must(be.GroupedLinear(y, x, wt, offs)) }) / 1e9
			emit(Row{Name: m.name, Unit: "GFLOP/s", Value: v, Base: blasRate(c, blas, s), BaseName: "OpenBLAS 1 GEMM"})
		}
		return nil
	})

	// Memory-bound kernels beside the copy bandwidth measured in the same run. Bytes are the
	// tensors each call must read and write once.
	register("bandwidth", func(c *Config, emit func(Row)) error {
		bw := copyBandwidth(c)
		T, D := 4096, 1024
		if c.Quick {
			T = 1024
		}
		x, dy, w := randT(7, T, D), randT(8, T, D), randT(9, D)
		y, rstd, dx, dw := tensors.New(tensors.F32, T, D), tensors.New(tensors.F32, T), tensors.New(tensors.F32, T, D), tensors.New(tensors.F32, D)
		td := float64(T * D * 4)
		row := func(name string, bytes float64, f func()) {
			emit(Row{Name: name, Unit: "GB/s", Value: rate(c, bytes, f) / 1e9, Base: bw, BaseName: "copy"})
		}
		row(fmt.Sprintf("RMSNorm fwd [%d %d]", T, D), 2*td, func() { must(be.RMSNorm(y, rstd, x, w, 1e-5)) })
		row(fmt.Sprintf("RMSNorm bwd [%d %d]", T, D), 3*td, func() { must(be.RMSNormBackward(dx, dw, dy, x, w, rstd)) })
		gu, h := randT(10, T, 2*D), tensors.New(tensors.F32, T, D)
		row(fmt.Sprintf("SwiGLU fused fwd [%d %d]", T, D), 3*td, func() { must(be.SwiGLUFused(h, gu)) })
		dgu := tensors.New(tensors.F32, T, 2*D)
		row(fmt.Sprintf("SwiGLU fused bwd [%d %d]", T, D), 5*td, func() { must(be.SwiGLUFusedBackward(dgu, dy, gu)) })
		p, g, m1, m2 := randT(11, T, D), randT(12, T, D), tensors.New(tensors.F32, T, D), tensors.New(tensors.F32, T, D)
		step := 0
		row(fmt.Sprintf("AdamW step [%d %d]", T, D), 7*td, func() {
			step++
			must(be.AdamW(p, g, m1, m2, kernels.AdamWOpts{LR: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Step: step}))
		})
		// Cross-entropy at GLM-4.5V's vocabulary: forward, then the in-place backward.
		Tv, V := 64, 151552
		if c.Quick {
			Tv = 16
		}
		logits, stats, tg := randT(13, Tv, V), tensors.New(tensors.F32, Tv, 2), tensors.New(tensors.I32, Tv)
		for i := range tg.I32() {
			tg.I32()[i] = int32(i * 977 % V)
		}
		row(fmt.Sprintf("cross-entropy fwd+bwd [%d %d]", Tv, V), 3*float64(Tv*V*4), func() {
			_, err := be.CrossEntropy(stats, logits, tg)
			must(err)
			must(be.CrossEntropyBackward(logits, logits, stats, tg, 1/float32(Tv)))
		})
		b16 := make([]uint16, T*D)
		row(fmt.Sprintf("f32→bf16→f32 [%d %d]", T, D), 2*(td+td/2), func() {
			tensors.F32ToBF16(b16, x.F32())
			tensors.BF16ToF32(y.F32(), b16)
		})
		return nil
	})
}
