package plan

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/tensors"
)

// counter is a backend that counts the FLOPs of every matrix product the stages ask for,
// from the shapes of the call (2 per multiply-add), and runs it on the CPU backend. It is the
// direct count the analytic formulas of flops.go are checked against.
type counter struct {
	kernels.Backend
	n int64
}

func batchOf(t *tensors.Tensor) int64 {
	if t.Rank() == 3 {
		return int64(t.Dim(0))
	}
	return 1
}

func (c *counter) Matmul(out, a, b *tensors.Tensor, o kernels.MatmulOpts) error {
	M, N := int64(out.Dim(out.Rank()-2)), int64(out.Dim(out.Rank()-1))
	K := int64(a.Dim(a.Rank() - 1))
	if o.TransA {
		K = int64(a.Dim(a.Rank() - 2))
	}
	c.n += 2 * batchOf(out) * M * N * K
	return c.Backend.Matmul(out, a, b, o)
}

func (c *counter) GroupedLinear(y, x, w, offs *tensors.Tensor) error {
	c.n += 2 * int64(y.Dim(0)) * int64(y.Dim(1)) * int64(x.Dim(1))
	return c.Backend.GroupedLinear(y, x, w, offs)
}

func (c *counter) GroupedLinearBackwardInput(dx, dy, w, offs *tensors.Tensor) error {
	c.n += 2 * int64(dy.Dim(0)) * int64(dy.Dim(1)) * int64(dx.Dim(1))
	return c.Backend.GroupedLinearBackwardInput(dx, dy, w, offs)
}

func (c *counter) GroupedLinearBackwardWeight(dw, dy, x, offs *tensors.Tensor) error {
	c.n += 2 * int64(dy.Dim(0)) * int64(dy.Dim(1)) * int64(x.Dim(1))
	return c.Backend.GroupedLinearBackwardWeight(dw, dy, x, offs)
}

// pairs counts the (query, key) pairs attention computes: per segment s² (s(s+1)/2 causal).
func pairs(T int, o kernels.AttentionOpts) int64 {
	cu := o.CuSeqlens
	if cu == nil {
		cu = []int32{0, int32(T)}
	}
	var n int64
	for i := 1; i < len(cu); i++ {
		s := int64(cu[i] - cu[i-1])
		if o.Causal {
			n += s * (s + 1) / 2
		} else {
			n += s * s
		}
	}
	return n
}

func (c *counter) Attention(out, lse, q, k, v *tensors.Tensor, o kernels.AttentionOpts) error {
	c.n += 4 * pairs(q.Dim(0), o) * int64(q.Dim(1)) * int64(q.Dim(2))
	return c.Backend.Attention(out, lse, q, k, v, o)
}

func (c *counter) AttentionBackward(dq, dk, dv, do, q, k, v, o, lse *tensors.Tensor, opts kernels.AttentionOpts) error {
	c.n += 8 * pairs(q.Dim(0), opts) * int64(q.Dim(1)) * int64(q.Dim(2))
	return c.Backend.AttentionBackward(dq, dk, dv, do, q, k, v, o, lse, opts)
}

func (c *counter) Router(logits, scores, topIdx, topW, x, wGate, bias *tensors.Tensor, o kernels.RouterOpts) error {
	c.n += 2 * int64(x.Dim(0)) * int64(x.Dim(1)) * int64(wGate.Dim(0))
	return c.Backend.Router(logits, scores, topIdx, topW, x, wGate, bias, o)
}

func (c *counter) RouterBackward(dx, dWGate, dLogits, dTopW, dScores, x, wGate, scores, topIdx *tensors.Tensor, o kernels.RouterOpts) error {
	f := 2 * int64(x.Dim(0)) * int64(x.Dim(1)) * int64(wGate.Dim(0))
	if dx != nil {
		c.n += f
	}
	if dWGate != nil {
		c.n += f
	}
	return c.Backend.RouterBackward(dx, dWGate, dLogits, dTopW, dScores, x, wGate, scores, topIdx, o)
}

func (c *counter) LMHeadLoss(stats, h, w, targets *tensors.Tensor) (kernels.CELoss, error) {
	c.n += 2 * int64(h.Dim(0)) * int64(h.Dim(1)) * int64(w.Dim(0))
	return c.Backend.LMHeadLoss(stats, h, w, targets)
}

func (c *counter) LMHeadLossBackward(dh, dw, h, w, stats, targets *tensors.Tensor, scale float32) error {
	c.n += 4 * int64(h.Dim(0)) * int64(h.Dim(1)) * int64(w.Dim(0))
	return c.Backend.LMHeadLossBackward(dh, dw, h, w, stats, targets, scale)
}

// take returns the FLOPs counted since the last call.
func (c *counter) take() int64 { n := c.n; c.n = 0; return n }

// tinyBatch is B sequences of S tokens for testdata/tiny, each with one image of a 4×4 patch
// grid (4 <|image|> tokens, ids of testdata/tiny/README.md) and a label at every position.
func tinyBatch(seed uint64, B, S int) stages.Tensors {
	r := rand.New(rand.NewPCG(seed, 7))
	ids, mask, labels := tensors.New(tensors.I32, B, S), tensors.New(tensors.I32, B, S), tensors.New(tensors.I32, B, S)
	for b := range B {
		row := ids.I32()[b*S : (b+1)*S]
		for i := range row {
			row[i] = int32(r.IntN(476))
		}
		row[2] = 486
		for i := 3; i < 7; i++ {
			row[i] = 510
		}
		row[7] = 487
		for i := range S {
			mask.I32()[b*S+i] = 1
			labels.I32()[b*S+i] = row[i]
		}
	}
	px := tensors.New(tensors.F32, 16*B, 1176)
	for i := range px.F32() {
		px.F32()[i] = float32(r.NormFloat64())
	}
	grid := tensors.New(tensors.I32, B, 3)
	for b := range B {
		copy(grid.I32()[3*b:], []int32{1, 4, 4})
	}
	return stages.Tensors{"input_ids": ids, "attention_mask": mask, "labels": labels, "pixel_values": px, "image_grid_thw": grid}
}

func pick(ts stages.Tensors, names ...string) stages.Tensors {
	out := stages.Tensors{}
	for _, n := range names {
		out[n] = ts[n]
	}
	return out
}

// TestFLOPsMatchDirectCount runs the tiny model's stages forward, input-gradient and
// weight-gradient on a counting backend and compares each phase with the analytic formulas.
func TestFLOPsMatchDirectCount(t *testing.T) {
	cfg, err := glm4v.LoadConfig(filepath.Join(tinyDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := glm4v.NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := glm4v.Load(tinyDir, p, nil); err != nil {
		t.Fatal(err)
	}
	const B, S = 2, 24
	shape := Shape{B: B, S: S, Images: B, ImagePatches: 16, LossRows: B * (S - 1)}
	for _, prec := range []string{"fp32", "bf16"} {
		t.Run(prec, func(t *testing.T) {
			be := &counter{Backend: cpu.New()}
			sc := glm4v.StageConfig{Params: p, Backend: be, Precision: prec}
			vis, err := glm4v.NewVisionStage(glm4v.VisionStageConfig{Backend: be, Params: p, Precision: prec})
			if err != nil {
				t.Fatal(err)
			}
			emb, err := glm4v.NewEmbed(glm4v.EmbedConfig{StageConfig: sc})
			if err != nil {
				t.Fatal(err)
			}
			// One decoder stage per layer, so that each unit is counted on its own.
			var decs []*glm4v.Decoder
			for i := range cfg.Text.NumHiddenLayers {
				d, err := glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: sc, From: i, To: i + 1})
				if err != nil {
					t.Fatal(err)
				}
				decs = append(decs, d)
			}
			head, err := glm4v.NewHead(glm4v.HeadConfig{StageConfig: sc})
			if err != nil {
				t.Fatal(err)
			}
			be.take()
			units, err := Units(p, shape, Training{ExpertParallel: 1}, PrecisionOf(prec), false)
			if err != nil {
				t.Fatal(err)
			}
			batch := tinyBatch(1, B, S)
			got := make([]FLOPs, len(units))
			L := cfg.Text.NumHiddenLayers

			img, err := vis.Forward(0, pick(batch, "pixel_values", "image_grid_thw"))
			if err != nil {
				t.Fatal(err)
			}
			got[0].F = be.take()
			in := pick(batch, "input_ids", "attention_mask", "image_grid_thw")
			in["image_embeds"] = img["image_embeds"]
			h, err := emb.Forward(0, in)
			if err != nil {
				t.Fatal(err)
			}
			got[1].F = be.take()
			for i, d := range decs {
				if h, err = d.Forward(0, h); err != nil {
					t.Fatal(err)
				}
				got[2+i].F = be.take()
			}
			if _, err := head.Forward(0, stages.Tensors{"hidden": h["hidden"], "labels": batch["labels"]}); err != nil {
				t.Fatal(err)
			}
			got[L+2].F = be.take()

			g, err := head.BackwardInput(0, stages.Tensors{})
			if err != nil {
				t.Fatal(err)
			}
			got[L+2].B = be.take()
			for i := L - 1; i >= 0; i-- {
				if g, err = decs[i].BackwardInput(0, stages.Tensors{"hidden": g["hidden"]}); err != nil {
					t.Fatal(err)
				}
				got[2+i].B = be.take()
			}
			g, err = emb.BackwardInput(0, stages.Tensors{"hidden": g["hidden"]})
			if err != nil {
				t.Fatal(err)
			}
			got[1].B = be.take()
			if _, err := vis.BackwardInput(0, stages.Tensors{"image_embeds": g["image_embeds"]}); err != nil {
				t.Fatal(err)
			}
			got[0].B = be.take()

			ws := []stages.Stage{vis, emb}
			for _, d := range decs {
				ws = append(ws, d)
			}
			ws = append(ws, head)
			for i, s := range ws {
				if err := s.BackwardWeight(0); err != nil {
					t.Fatal(err)
				}
				got[i].W = be.take()
			}
			for i, u := range units {
				if got[i] != u.FLOPs {
					t.Errorf("%v: counted F %d B %d W %d, formulas F %d B %d W %d", u, got[i].F, got[i].B, got[i].W, u.FLOPs.F, u.FLOPs.B, u.FLOPs.W)
				}
			}
		})
	}
}
