package glm4v

import (
	"math/rand/v2"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/tensors"
)

// perfConfig is performance.md's text model (the shape /work/shared/peer/torch_cpu_peer.py
// trains by default): vocab 8192, hidden 256, 4 layers (1 dense FFN 688, then MoE 8 experts
// top-2 width 256 + 1 shared), 8 heads / 2 kv heads, head_dim 32, partial rotary 0.5. The
// vision tower is a minimal valid one; the benchmark runs text only.
func perfConfig() Config {
	var c Config
	c.Text = TextConfig{VocabSize: 8192, HiddenSize: 256, IntermediateSize: 688, MoEIntermediateSize: 256,
		NumHiddenLayers: 4, NumAttentionHeads: 8, NumKeyValueHeads: 2, HeadDim: 32, HiddenAct: "silu",
		AttentionBias: true, PartialRotaryFactor: 0.5, RopeTheta: 10000, RopeType: "default",
		MRopeSection: []int{2, 3, 3}, MaxPositionEmbeddings: 4096, RMSNormEps: 1e-5, InitializerRange: 0.02,
		FirstKDenseReplace: 1, NRoutedExperts: 8, NSharedExperts: 1, NumExpertsPerTok: 2, NGroup: 1, TopKGroup: 1,
		NormTopKProb: true, RoutedScalingFactor: 1, PadTokenID: 8100, BOSTokenID: -1, EOSTokenIDs: []int{8100}}
	c.Vision = VisionConfig{Depth: 1, HiddenSize: 32, NumHeads: 2, IntermediateSize: 48, OutHiddenSize: 256,
		HiddenAct: "silu", ImageSize: 56, PatchSize: 14, TemporalPatchSize: 2, SpatialMergeSize: 2, InChannels: 3,
		RMSNormEps: 1e-5, InitializerRange: 0.02, RopeTheta: 10000}
	c.ImageTokenID, c.VideoTokenID, c.ImageStartTokenID, c.ImageEndTokenID = 8110, 8111, 8112, 8113
	c.VideoStartTokenID, c.VideoEndTokenID = 8114, 8115
	c.DType = "float32"
	return c
}

// BenchmarkTextTrainStep is one training step of the text model at batch 4 × seq 256:
// forward, backward (B and W) and AdamW on every parameter, in fp32 and in bf16 mixed
// precision (ModelOptions.Precision; text_precision.go). Reports tokens/s; compare with
// OMP_NUM_THREADS=1 /usr/bin/python3 /work/shared/peer/torch_cpu_peer.py --which text
// --threads 1 (fp32), both single-threaded (GOMAXPROCS=1).
func BenchmarkTextTrainStep(b *testing.B) {
	for _, prec := range []string{PrecisionFP32, PrecisionBF16} {
		b.Run(prec, func(b *testing.B) { benchTextTrainStep(b, prec) })
	}
}

func benchTextTrainStep(b *testing.B, prec string) {
	const B, S = 4, 256
	p, err := NewParams(perfConfig())
	if err != nil {
		b.Fatal(err)
	}
	if err := InitParams(p, 0, InitOptions{}); err != nil {
		b.Fatal(err)
	}
	be := cpu.New()
	m, err := NewModel(p, be, ModelOptions{TextOnly: true, NoLogits: true, Precision: prec})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := tensors.New(tensors.I32, B, S)
	labels := tensors.New(tensors.I32, B, S)
	for i := range ids.I32() {
		ids.I32()[i] = int32(rng.IntN(8000))
	}
	copy(labels.I32(), ids.I32())
	in := Inputs{InputIDs: ids, Labels: labels}
	type opt struct {
		p    *stages.Param
		m, v *tensors.Tensor
	}
	var opts []opt
	for _, s := range m.Stages() {
		for _, sp := range s.Params() {
			if sp.Trainable {
				opts = append(opts, opt{sp, tensors.New(tensors.F32, sp.Value.Shape()...), tensors.New(tensors.F32, sp.Value.Shape()...)})
			}
		}
	}
	step := 0
	train := func() {
		if err := m.ZeroGrads(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Step(0, in, true); err != nil {
			b.Fatal(err)
		}
		step++
		for _, o := range opts {
			if err := be.AdamW(o.p.Value, o.p.Grad, o.m, o.v, kernels.AdamWOpts{LR: 1e-4, Beta1: 0.9, Beta2: 0.999,
				Eps: 1e-8, WeightDecay: 0.1, Step: step}); err != nil {
				b.Fatal(err)
			}
		}
	}
	train() // warm-up
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		train()
	}
	b.ReportMetric(float64(B*S*b.N)/b.Elapsed().Seconds(), "tokens/s")
	// tokens per CPU second of this process: steadier than wall time on a shared machine.
	if c := cpuSeconds() - cpu0; c > 0 {
		b.ReportMetric(float64(B*S*b.N)/c, "tokens/cpu-s")
	}
}
