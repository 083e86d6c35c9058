package attention

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/glmflow/glmflow/kernels/gemm"
	"github.com/glmflow/glmflow/tensors"
)

// FLOP convention (FlashAttention's): forward = 4·Σ_seg L²·H·Dh (Q·Kᵀ and P·V, 2 FLOP per
// multiply-add), halved for causal; backward = 2.5× forward (the five products of the textbook
// backward), so fwd+bwd = 3.5× forward. The dq pass recomputes Q·Kᵀ and dO·Vᵀ, which the
// convention does not count: the kernel executes 4.5× forward FLOPs for fwd+bwd.
var benchCases = []struct {
	name string
	c    tcase
}{
	{"text-tiny/T1024-H8-K2-D32-causal", tcase{T: 1024, H: 8, K: 2, Dh: 32, causal: true}},
	{"vision-tiny/T2048-8x256-H6-D64", tcase{T: 2048, H: 6, K: 6, Dh: 64, cu: []int32{0, 256, 512, 768, 1024, 1280, 1536, 1792, 2048}}},
	{"big/T4096-H16-D128-causal", tcase{T: 4096, H: 16, K: 16, Dh: 128, causal: true}},
}

func fwdFlops(c tcase) float64 {
	cu := c.cu
	if cu == nil {
		cu = []int32{0, int32(c.T)}
	}
	f := 0.0
	for i := 1; i < len(cu); i++ {
		L := float64(cu[i] - cu[i-1])
		f += 4 * L * L * float64(c.H*c.Dh)
	}
	if c.causal {
		f /= 2
	}
	return f
}

func BenchmarkForward(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) { benchAttention(b, bc.c, false) })
	}
}

func BenchmarkForwardBackward(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) { benchAttention(b, bc.c, true) })
	}
}

// BenchmarkForwardBackwardBF16 is the BF16 mode on the vision shape: the dense path (auto) and
// the flash tiles (dense off) in the same run.
func BenchmarkForwardBackwardBF16(b *testing.B) {
	c := benchCases[1].c
	for _, m := range []struct {
		name string
		mode int
	}{{"dense", denseAuto}, {"flash", denseNever}} {
		b.Run(benchCases[1].name+"/"+m.name, func(b *testing.B) {
			prev := denseMode
			denseMode = m.mode
			defer func() { denseMode = prev }()
			benchAttentionP(b, c, true, true)
		})
	}
}

func benchAttention(b *testing.B, c tcase, withBwd bool) { benchAttentionP(b, c, withBwd, false) }

func benchAttentionP(b *testing.B, c tcase, withBwd, bf16 bool) {
	if testing.Short() && c.T*c.H*c.Dh > 1<<20 {
		b.Skip("large case skipped in -short")
	}
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	p := c.params()
	p.BF16 = bf16
	in := makeInputs(c, 1)
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	o, lse := make([]float32, nq), make([]float32, c.H*c.T)
	dq, dk, dv := make([]float32, nq), make([]float32, nk), make([]float32, nk)
	flops := fwdFlops(c)
	if withBwd {
		flops *= 3.5
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for b.Loop() {
		if err := Forward(o, lse, in.q, in.k, in.v, p); err != nil {
			b.Fatal(err)
		}
		if withBwd {
			if err := Backward(dq, dk, dv, in.do, in.q, in.k, in.v, o, lse, p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops*float64(b.N)/(threadCPU()-cpu0)/1e9, "GFLOP/cpu-s")
}

// BenchmarkGemmBaseline is the same-run ceiling: gemm.SgemmSerial on 256×256 products with
// k = 32, 64, 128 (the head dims of benchCases: the rate the tile products could reach if
// attention were only GEMM) and 256.
func BenchmarkGemmBaseline(b *testing.B) {
	for _, k := range []int{32, 64, 128, 256} {
		b.Run(fmt.Sprintf("M256-N256-K%d", k), func(b *testing.B) { benchGemm(b, 256, 256, k) })
	}
}

func benchGemm(b *testing.B, m, n, k int) {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	x := make([]float32, max(m, n)*k)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	c := make([]float32, m*n)
	flops := 2 * float64(m*n*k)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for b.Loop() {
		gemm.SgemmSerial(false, false, m, n, k, 1, x, k, x, n, 0, c, n)
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops*float64(b.N)/(threadCPU()-cpu0)/1e9, "GFLOP/cpu-s")
}

// BenchmarkDenseVsFlash: the BF16 dense path (bf16 P rows read in place, fused softmax and
// backward rows) against the flash tiles on the vision shape, forward + backward alternating in
// the same run; x_flash is the flash tiles' time over the dense path's.
func BenchmarkDenseVsFlash(b *testing.B) {
	prev := denseMode
	defer func() { denseMode = prev }()
	benchDenseAB(b, func(flash bool) {
		denseMode = denseAlways
		if flash {
			denseMode = denseNever
		}
	}, "x_flash")
}

// benchDenseAB times Forward16 + Backward16 on the vision shape with set(false) (the
// default) and set(true) alternating in the same run and reports the default's GFLOP/s and
// the other's time over it as metric.
func benchDenseAB(b *testing.B, set func(bool), metric string) {
	c := benchCases[1].c
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	defer set(false)
	p := c.params()
	p.BF16 = true
	in := makeInputs(c, 1)
	nq, nk := c.T*c.H*c.Dh, c.T*c.K*c.Dh
	q, k, v := make([]uint16, nq), make([]uint16, nk), make([]uint16, nk)
	tensors.F32ToBF16(q, in.q)
	tensors.F32ToBF16(k, in.k)
	tensors.F32ToBF16(v, in.v)
	o, lse := make([]float32, nq), make([]float32, c.H*c.T)
	dq, dk, dv := make([]float32, nq), make([]float32, nk), make([]float32, nk)
	step := func(alt bool) time.Duration {
		set(alt)
		t0 := time.Now()
		if err := Forward16(o, lse, q, k, v, p); err != nil {
			b.Fatal(err)
		}
		if err := Backward16(dq, dk, dv, in.do, q, k, v, o, lse, p); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var tDef, tAlt time.Duration
	for b.Loop() {
		tDef += step(false)
		tAlt += step(true)
	}
	b.ReportMetric(3.5*fwdFlops(c)*float64(b.N)/tDef.Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(tAlt.Seconds()/tDef.Seconds(), metric)
}

// BenchmarkDenseCvt16: the dense path's fused rows rounding with VCVTNEPS2BF16 (the default
// with AVX512_BF16) against the nine-instruction ROUND16; x_round is ROUND16's time over it.
func BenchmarkDenseCvt16(b *testing.B) {
	if cvt16 == 0 {
		b.Skip("needs AVX-512 with AVX512_BF16")
	}
	benchDenseAB(b, func(alt bool) { cvt16 = b2i(!alt) }, "x_round")
}
